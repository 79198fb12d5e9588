package optimizer

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/profile"
)

// formulation is the MILP of a problem and the map back to a placement.
//
// Variables: z[i][k] = 1 when unit i runs on tier k or beyond (k ≥ 1; the
// input is on the device); c (unit i's output crosses into tier h in
// encoding e); y[h] (hop h carries anything); q (tier k runs a head part of
// a task whose result tier k gives: it may run after sending on); T (the
// makespan) and T_t (each task's completion time, for the weighted
// objective). Times are affine in the variables; rows compare them.
type formulation struct {
	p     *Problem
	u     *units
	model milp.Model
	z     [][]int           // z[i][k], k ≥ 1 (index 0 unused); −1 for the input
	c     [][][]encodingVar // c[i][h−1]: encodings unit i may cross hop h in
	y     []int             // y[h−1]
	q     map[[2]int]int    // (unit, tier) → q variable
	t     int               // makespan, −1 if absent
	tt    []int             // task completion times (weighted objective)
	has   map[string]bool   // constraint groups present
}

type encodingVar struct {
	enc codec.Encoding
	v   int
}

// expr is an affine expression Σ terms + k.
type expr struct {
	t []milp.Term
	k float64
}

func (e *expr) add(v int, coef float64) {
	if v >= 0 && coef != 0 {
		e.t = append(e.t, milp.Term{Var: v, Coef: coef})
	}
}

// plus adds coef·o to e.
func (e *expr) plus(o expr, coef float64) {
	for _, t := range o.t {
		e.t = append(e.t, milp.Term{Var: t.Var, Coef: t.Coef * coef})
	}
	e.k += o.k * coef
}

func sum(es ...expr) expr {
	var out expr
	for _, e := range es {
		out.plus(e, 1)
	}
	return out
}

// ge adds the row a ≥ b.
func (f *formulation) ge(name string, a, b expr) {
	var d expr
	d.plus(a, 1)
	d.plus(b, -1)
	f.model.AddRow(name, d.t, milp.GE, -d.k)
}

// zAt is z[i][k] as an expression: 1 on the device side (k = 0), 0 past
// the last tier and for the input beyond the device.
func (f *formulation) zAt(i, k int) expr {
	switch {
	case k <= 0:
		return expr{k: 1}
	case k >= len(f.z[i]) || f.z[i][k] < 0:
		return expr{}
	}
	return expr{t: []milp.Term{{Var: f.z[i][k], Coef: 1}}}
}

// at is 1 when unit i runs on exactly tier k.
func (f *formulation) at(i, k int) expr {
	e := f.zAt(i, k)
	e.plus(f.zAt(i, k+1), -1)
	return e
}

// formulate builds the MILP at x = 1/uplink, leaving out the constraint
// groups in drop.
func (p *Problem) formulate(gr Granularity, x float64, drop map[string]bool) *formulation {
	u := p.units(gr)
	nk, n := p.numTiers(), len(u.name)
	f := &formulation{p: p, u: u, z: make([][]int, n), c: make([][][]encodingVar, n), q: map[[2]int]int{}, t: -1, has: map[string]bool{}}
	m := &f.model
	m.Name = safeName(p.Graph.Name + "_" + string(gr))
	// Placement: z monotone over tiers, and no tensor goes back towards
	// the device.
	for i := range u.name {
		f.z[i] = make([]int, nk)
		for k := 1; k < nk; k++ {
			f.z[i][k] = -1
			if i > 0 {
				f.z[i][k] = m.AddBinary(fmt.Sprintf("z_%d_%d_%s", i, k, safeName(u.name[i])))
			}
		}
		for k := 1; k+1 < nk && i > 0; k++ {
			f.ge(fmt.Sprintf("mono_%d_%d", i, k), f.zAt(i, k), f.zAt(i, k+1))
		}
	}
	for i := 1; i < n; i++ {
		for _, c := range u.consumers[i] {
			for k := 1; k < nk; k++ {
				f.ge(fmt.Sprintf("prec_%d_%d_%d", i, c, k), f.zAt(c, k), f.zAt(i, k))
			}
		}
	}
	// Crossing tensors, one encoding each per hop.
	floors := len(p.Constraints.MinAccuracy) > 0 && !drop[ConstraintAccuracy]
	for h := 1; h < nk; h++ {
		f.y = append(f.y, m.AddBinary(fmt.Sprintf("y_hop%d", h)))
	}
	for i := range u.name {
		f.c[i] = make([][]encodingVar, nk-1)
		if len(u.consumers[i]) == 0 {
			continue
		}
		encs := p.Encodings
		if i == 0 {
			encs = []codec.Encoding{codec.Raw}
		}
		for h := 1; h < nk; h++ {
			var all expr
			for _, e := range encs {
				if _, ok := p.tensorBytes(u, i, e); !ok {
					continue // a lossless stage with no measured size here
				}
				hi := 1.0
				if floors && !p.meetsFloors(u, i, e) {
					hi = 0
					f.has[ConstraintAccuracy] = true
				}
				v := m.AddVar(fmt.Sprintf("c_%d_h%d_%s_%s", i, h, safeName(string(e)), safeName(u.name[i])), 0, hi, true)
				f.c[i][h-1] = append(f.c[i][h-1], encodingVar{e, v})
				all.add(v, 1)
			}
			// With only lossless-stage encodings most tensors have no
			// measured size: no variable, so no row, and the cross rows
			// below keep their consumers on this side.
			if len(all.t) > 0 {
				m.AddRow(fmt.Sprintf("one_enc_%d_h%d", i, h), all.t, milp.LE, 1)
			}
			for _, c := range u.consumers[i] {
				need := f.zAt(c, h)
				need.plus(f.zAt(i, h), -1)
				f.ge(fmt.Sprintf("cross_%d_%d_h%d", i, c, h), all, need)
			}
		}
	}
	// A hop carries something exactly when a sink (a result, or a unit
	// nobody reads) lies beyond it: every unit past a boundary has a sink
	// past it, since nothing comes back.
	for i := 1; i < n; i++ {
		if len(u.consumers[i]) == 0 {
			for h := 1; h < nk; h++ {
				f.ge(fmt.Sprintf("send_%d_h%d", i, h), expr{t: []milp.Term{{Var: f.y[h-1], Coef: 1}}}, f.zAt(i, h))
			}
		}
	}
	// Times. work[k]: everything tier k runs; own[k]: its part of heads
	// whose result it gives (q ≤ both "at" indicators); up[h], back[h]:
	// hop h on the way out and the cumulative way home.
	work, own := make([]expr, nk), make([]expr, nk)
	for i := range u.name {
		for k := range nk {
			work[k].plus(f.at(i, k), u.ms[k][i])
		}
		for h := 1; h < nk; h++ {
			for _, ev := range f.c[i][h-1] {
				work[h-1].add(ev.v, codecMS(p.side(h-1), ev.enc, u.elems[i], false))
				work[h].add(ev.v, codecMS(p.side(h), ev.enc, u.elems[i], true))
			}
		}
	}
	for t, hu := range u.heads {
		last := u.last(t)
		for _, i := range hu {
			for k := 0; k+1 < nk; k++ {
				if u.ms[k][i] == 0 {
					continue
				}
				v := m.AddVar(fmt.Sprintf("q_%d_%d", i, k), 0, 1, false)
				f.q[[2]int{i, k}] = v
				qv := expr{t: []milp.Term{{Var: v, Coef: 1}}}
				f.ge(fmt.Sprintf("own_%d_%d_a", i, k), f.at(i, k), qv)
				f.ge(fmt.Sprintf("own_%d_%d_b", i, k), f.at(last, k), qv)
				own[k].add(v, u.ms[k][i])
			}
		}
	}
	up, back := make([]expr, nk), make([]expr, nk)
	var transfer expr // the device's uplink, the part the sweep varies
	for h := 1; h < nk; h++ {
		net := p.hop(h)
		up[h].add(f.y[h-1], net.RTTMS/2)
		for i := range u.name {
			for _, ev := range f.c[i][h-1] {
				n, _ := p.tensorBytes(u, i, ev.enc)
				ms := float64(n) * msPerMbps / net.UplinkMbps
				if h == 1 {
					ms = float64(n) * msPerMbps * x
					transfer.add(ev.v, ms)
				}
				up[h].add(ev.v, ms)
			}
		}
		back[h].plus(back[h-1], 1)
		back[h].add(f.y[h-1], net.RTTMS/2)
		for t, hd := range p.Graph.Heads {
			back[h].plus(f.zAt(u.last(t), h), float64(resultBytes(hd.Classes))*msPerMbps/net.DownlinkMbps)
		}
	}
	// start[k]: when tier k has its inputs; done[k]: when its tasks' results
	// are home.
	start, done := make([]expr, nk), make([]expr, nk)
	for k := 1; k < nk; k++ {
		start[k] = sum(start[k-1], work[k-1], up[k])
		start[k].plus(own[k-1], -1)
		done[k] = sum(start[k], work[k], back[k])
	}
	needT := p.Objective == Latency || (p.Constraints.DeadlineMS > 0 && !drop[ConstraintDeadline])
	if needT {
		f.t = m.AddVar("T_makespan", 0, math.Inf(1), false)
		tv := expr{t: []milp.Term{{Var: f.t, Coef: 1}}}
		f.ge("makespan_edge", tv, work[0])
		for k := 1; k < nk; k++ {
			f.ge(fmt.Sprintf("makespan_tier%d", k), tv, done[k])
		}
		if p.Constraints.DeadlineMS > 0 && !drop[ConstraintDeadline] {
			m.AddRow("deadline", tv.t, milp.LE, p.Constraints.DeadlineMS)
			f.has[ConstraintDeadline] = true
		}
		if p.Objective == Latency {
			m.Objective = tv.t
		}
	}
	switch p.Objective {
	case Energy:
		var e expr
		e.plus(work[0], p.Edge.ActivePowerW)
		e.plus(transfer, p.Network.TxPowerW)
		m.Objective, m.ObjConst = e.t, e.k
	case Weighted:
		// A task's time counts only on the tier its result comes from; big
		// enough to switch a row off: every time there is at most this.
		bigM := 0.0
		for _, e := range append(append([]expr{work[0]}, done...), up...) {
			bigM = max(bigM, math.Abs(e.k))
			for _, t := range e.t {
				bigM += math.Abs(t.Coef)
			}
		}
		edge := sum(work[0])
		edge.plus(own[0], -1)
		for t := range u.heads {
			w := 1.0
			if p.TaskWeights != nil {
				w = p.TaskWeights[t]
			}
			last := u.last(t)
			for _, i := range u.heads[t] {
				if v, ok := f.q[[2]int{i, 0}]; ok {
					edge.add(v, u.ms[0][i])
				}
			}
			tt := m.AddVar(fmt.Sprintf("T_task%d", t+1), 0, math.Inf(1), false)
			f.tt = append(f.tt, tt)
			tv := expr{t: []milp.Term{{Var: tt, Coef: 1}}}
			off := sum(edge)
			off.plus(f.zAt(last, 1), -bigM)
			f.ge(fmt.Sprintf("task%d_tier0", t+1), tv, off)
			for k := 1; k < nk; k++ {
				off := sum(done[k])
				off.plus(f.at(last, k), bigM)
				off.k -= bigM
				f.ge(fmt.Sprintf("task%d_tier%d", t+1, k), tv, off)
			}
			m.Objective = append(m.Objective, milp.Term{Var: tt, Coef: w})
		}
	}
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
	return f
}

// addMemoryRows bounds edge memory: weights of the device's units plus, for
// every node run on the device, the activations alive while it runs. Live
// sets are those of a full device run — a superset of any partial run's —
// so the bound is safe (never admits a placement that does not fit).
func (f *formulation) addMemoryRows() {
	p, u, m := f.p, f.u, &f.model
	g := p.Graph
	bpe := float64(p.Edge.Cost.BytesPerElem)
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

// candidate reads a solution back as a placement and costs it with the
// shared cost model.
func (f *formulation) candidate(x []float64) candidate {
	u, nk := f.u, f.p.numTiers()
	pl := newPlacement(len(u.name), nk)
	for i := range u.name {
		for k := 1; k < nk; k++ {
			if v := f.z[i][k]; v >= 0 && x[v] > 0.5 {
				pl.Tier[i]++
			}
		}
	}
	for i := range u.name {
		for h := 1; h < nk; h++ {
			if !u.crosses(pl, i, h) {
				continue
			}
			for _, ev := range f.c[i][h-1] {
				if x[ev.v] > 0.5 {
					pl.Encoding[i][h-1] = ev.enc
				}
			}
		}
	}
	return f.p.candidateOf(u, pl, f.p.choiceOf(u, pl), 0)
}

// start is the MILP point of a candidate placed on f's units (nil if the
// placement does not fit them): a warm start for the solver.
func (f *formulation) start(cd *candidate, x float64) []float64 {
	u, pl := f.u, cd.placement
	if len(pl.Tier) != len(u.name) {
		return nil
	}
	v := make([]float64, len(f.model.Vars))
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for i := range u.name {
		for k := 1; k < len(f.z[i]); k++ {
			if f.z[i][k] >= 0 {
				v[f.z[i][k]] = b2f(pl.Tier[i] >= k)
			}
		}
		for h, evs := range f.c[i] {
			for _, ev := range evs {
				if pl.Encoding[i][h] == ev.enc {
					v[ev.v], v[f.y[h]] = 1, 1
				}
			}
		}
	}
	for t := range u.heads {
		for _, i := range u.heads[t] {
			for k := range f.y {
				if q, ok := f.q[[2]int{i, k}]; ok {
					v[q] = b2f(pl.Tier[i] == k && pl.Tier[u.last(t)] == k)
				}
			}
		}
	}
	const slack = 1 + 1e-9
	if f.t >= 0 {
		v[f.t] = maxAt(cd.tasks, x) * slack
	}
	for t, tv := range f.tt {
		v[tv] = cd.tasks[t].at(x) * slack
	}
	return v
}

// layerStart is the exhaustive block-level optimum as a layer placement, to
// warm-start the layer-level MILP (nil when there is none, or more tiers).
func (p *Problem) layerStart(f *formulation, x float64) []float64 {
	if p.numTiers() != 2 {
		return nil
	}
	feasible, _ := p.candidates()
	best := p.bestAt(feasible, x)
	if best == nil {
		return nil
	}
	bu := p.units(BlockLevel)
	bpl := bu.placementOf(best.Choice, 2)
	pl := newPlacement(len(f.u.name), 2)
	for i, nodes := range bu.nodes {
		for _, n := range nodes {
			pl.Tier[n] = bpl.Tier[i]
		}
		if e := bpl.Encoding[i][0]; e != "" {
			pl.Encoding[nodes[len(nodes)-1]][0] = e
		}
	}
	cd := p.candidateOf(f.u, pl, best.Choice, 0)
	return f.start(&cd, x)
}
