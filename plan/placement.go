package plan

import (
	"fmt"
	"slices"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/placement"
)

// TierNames names the tiers, the device first.
func (p *Plan) TierNames() []string {
	names := make([]string, len(p.Tiers))
	for i, t := range p.Tiers {
		names[i] = t.Name
	}
	return names
}

// Uplink is the tier behind the device, with the link the plan was made
// for (the zero Tier when the plan lists fewer than two).
func (p *Plan) Uplink() Tier {
	if len(p.Tiers) < 2 {
		return Tier{}
	}
	return p.Tiers[1]
}

// Placement is the placement the plan's choice runs.
func (p *Plan) Placement() (placement.Placement, error) {
	return p.placement(p.Choice.NodeTiers, p.Choice.Heads, p.CutTensors)
}

// RowPlacement is the placement of a feasible switch table row.
func (p *Plan) RowPlacement(s Switch) (placement.Placement, error) {
	if !s.Feasible {
		return placement.Placement{}, fmt.Errorf("the row %g–%g Mbps is infeasible: nothing to run", s.FromMbps, s.ToMbps)
	}
	return p.placement(s.NodeTiers, s.Heads, s.CutTensors)
}

func (p *Plan) placement(nodeTiers []int, heads map[string]string, tensors []CutTensor) (placement.Placement, error) {
	pl := placement.Placement{NodeTier: append([]int(nil), nodeTiers...)}
	names := p.TierNames()
	for _, t := range p.Model.Tasks {
		k := slices.Index(names, heads[t.Name])
		if k < 0 {
			return pl, fmt.Errorf("plan puts head %s on %q (tiers: %v)", t.Name, heads[t.Name], names)
		}
		pl.HeadTier = append(pl.HeadTier, k)
	}
	for _, t := range tensors {
		pl.Sends = append(pl.Sends, placement.Tensor{Node: t.Node, Hop: t.Hop, Encoding: codec.Encoding(t.Encoding), Bytes: t.Bytes})
	}
	pl.Sort()
	return pl, nil
}
