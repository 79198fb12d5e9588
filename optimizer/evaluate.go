package optimizer

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/placement"
)

// Evaluate costs any placement of p's graph at an uplink — a block cut, a
// cut between layers or a placement over more tiers, all alike — and checks
// it against the constraints. A placement that cannot run (a node before
// one of its inputs, a crossing tensor not sent or sent where it does not
// cross, a result from another tier than its head's) is an error.
func (p *Problem) Evaluate(pl placement.Placement, uplinkMbps float64) (Evaluated, error) {
	if err := p.Validate(); err != nil {
		return Evaluated{}, err
	}
	if !(uplinkMbps > 0) {
		return Evaluated{}, fmt.Errorf("uplink %g Mbps: must be positive", uplinkMbps)
	}
	g, nk := p.Graph, p.numTiers()
	if len(pl.NodeTier) != len(g.Nodes) || len(pl.HeadTier) != len(g.Heads) {
		return Evaluated{}, fmt.Errorf("placement of %d nodes and %d tasks; %s has %d and %d", len(pl.NodeTier), len(pl.HeadTier), g.Name, len(g.Nodes), len(g.Heads))
	}
	for id, k := range pl.NodeTier {
		if k < 0 || k >= nk || (id == 0 && k != 0) {
			return Evaluated{}, fmt.Errorf("node %d on tier %d: want 0 to %d, the input on 0", id, k, nk-1)
		}
	}
	u := p.units(LayerLevel)
	upl := u.fromPlacement(pl, nk)
	for t := range u.heads {
		if k := upl.Tier[u.last(t)]; pl.HeadTier[t] != k {
			return Evaluated{}, fmt.Errorf("task %s's result from tier %d, but its head ends on tier %d", g.Heads[t].Task, pl.HeadTier[t], k)
		}
	}
	for i := range u.name {
		for _, c := range u.consumers[i] {
			if upl.Tier[c] < upl.Tier[i] {
				return Evaluated{}, fmt.Errorf("%s runs on tier %d, before its input %s on tier %d", u.name[c], upl.Tier[c], u.name[i], upl.Tier[i])
			}
		}
	}
	for i := range u.name {
		for h := 1; h < nk; h++ {
			e := upl.Encoding[i][h-1]
			if crosses := u.crosses(upl, i, h); crosses != (e != "") {
				return Evaluated{}, fmt.Errorf("%s crosses hop %d: %v, sent: %v", u.name[i], h, crosses, e != "")
			}
			if _, ok := p.tensorBytes(u, i, e); e != "" && !ok {
				return Evaluated{}, fmt.Errorf("%s in %s: no measured size", u.name[i], e)
			}
		}
	}
	cd := p.candidateOf(u, upl, 0)
	if n := len(cd.pl.Sends); n != len(pl.Sends) {
		return Evaluated{}, fmt.Errorf("placement sends %d tensors, %d cross", len(pl.Sends), n)
	}
	return p.evaluate(&cd, 1/uplinkMbps), nil
}
