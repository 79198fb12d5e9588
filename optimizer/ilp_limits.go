package optimizer

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/profile"
)

// addLimits adds the byte and memory limits not in drop.
func (f *formulation) addLimits(drop map[string]bool) {
	p, u, m := f.p, f.u, &f.model
	nk := p.numTiers()
	if p.Constraints.MaxBytes > 0 && !drop[ConstraintBytes] && nk > 1 {
		var row []milp.Term
		for i := range u.name {
			for _, ev := range f.c[i][0] {
				n, _ := p.tensorBytes(u, i, ev.enc)
				row = append(row, milp.Term{Var: ev.v, Coef: float64(n)})
			}
		}
		m.AddRow("max_bytes", row, milp.LE, float64(p.Constraints.MaxBytes))
		f.has[ConstraintBytes] = true
	}
	if p.Constraints.MaxEdgeMemoryBytes > 0 && !drop[ConstraintMemory] {
		f.addMemoryRows()
	}
}

// addMemoryRows bounds edge memory: weights of the device's units plus, for
// every node run on the device, the activations alive while it runs. Live
// sets are those of a full device run — a superset of any partial run's —
// so the bound is safe (never admits a placement that does not fit).
func (f *formulation) addMemoryRows() {
	p, u, m := f.p, f.u, &f.model
	g := p.Graph
	bpe := float64(p.Tiers[0].Cost.BytesPerElem)
	unitOf := make([]int, len(g.Nodes))
	var weights expr
	for i, nodes := range u.nodes {
		var w float64
		for _, n := range nodes {
			unitOf[n] = i
			w += float64(g.Nodes[n].Params) * bpe
		}
		weights.plus(f.at(i, 0), w)
	}
	all := make([]bool, len(g.Nodes))
	for i := range all {
		all[i] = true
	}
	limit := float64(p.Constraints.MaxEdgeMemoryBytes)
	for n, l := range profile.LiveBytes(g, all, int(bpe)) {
		if weights.k+float64(l) <= limit {
			continue // never binding: weights.k is all weights on the device
		}
		row := sum(weights)
		row.plus(f.at(unitOf[n], 0), float64(l))
		m.AddRow(fmt.Sprintf("memory_%d", n), row.t, milp.LE, limit-row.k)
		f.has[ConstraintMemory] = true
	}
}
