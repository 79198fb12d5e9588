package plan

import (
	"fmt"
	"maps"
	"slices"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
)

func (p *Plan) checkPredicted(r *strictyaml.Report, path string, pr Predicted) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"total_ms", pr.TotalMS}, {"edge_ms", pr.EdgeMS}, {"network_ms", pr.NetworkMS}, {"server_ms", pr.ServerMS},
		{"edge_energy_mj", pr.EdgeEnergyMJ}, {"edge_memory_mb", pr.EdgeMemoryMB}} {
		r.Number(path+"."+f.name, f.v, strictyaml.NonNegative)
	}
	if pr.Bytes < 0 {
		r.Addf(path+".bytes", "is %d (want ≥ 0)", pr.Bytes)
	}
	for _, t := range p.Model.Tasks {
		v, ok := pr.TaskMS[t.Name]
		if !ok {
			r.Addf(path+".task_ms", "has no time for task %s", t.Name)
			continue
		}
		r.Number(path+".task_ms."+t.Name, v, strictyaml.NonNegative)
		// The makespan is when the last task finishes.
		if v > pr.TotalMS*(1+1e-9) {
			r.Addf(path+".task_ms."+t.Name, "%g ms is later than total_ms %g", v, pr.TotalMS)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(pr.TaskMS)) {
		if !p.hasTask(t) {
			r.Addf(path+".task_ms."+t, "names no task of the model")
		}
	}
	for _, t := range slices.Sorted(maps.Keys(pr.Accuracy)) {
		if !p.hasTask(t) {
			r.Addf(path+".accuracy."+t, "names no task of the model")
		} else if a := pr.Accuracy[t]; a != nil {
			r.Number(path+".accuracy."+t, *a, strictyaml.Fraction)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(pr.AccuracyCI)) {
		ci, at := pr.AccuracyCI[t], path+".accuracy_ci."+t
		r.Number(at+"[0]", ci[0], strictyaml.Fraction)
		r.Number(at+"[1]", ci[1], strictyaml.Fraction)
		// The table rounds to six decimals, so the point may sit a hair
		// outside its interval.
		if a := pr.Accuracy[t]; a == nil {
			r.Addf(at, "gives an interval for a task without an accuracy")
		} else if !(ci[0] <= *a+1e-6 && *a <= ci[1]+1e-6) {
			r.Addf(at, "[%g, %g] does not hold the accuracy %g", ci[0], ci[1], *a)
		}
	}
}

func (p *Plan) checkOption(r *strictyaml.Report, path string, o Option) {
	if o.Cut == "" {
		r.Addf(path+".cut", "is empty")
	}
	checkEncoding(r, path+".encoding", o.Encoding)
	p.checkHeads(r, path+".heads", o.Heads)
	p.checkPredicted(r, path+".predicted", o.Predicted)
}

func (p *Plan) checkSwitch(r *strictyaml.Report, path string, s Switch) {
	r.Number(path+".from_mbps", s.FromMbps, strictyaml.Positive)
	r.Number(path+".to_mbps", s.ToMbps, strictyaml.Positive)
	if s.FromMbps > s.ToMbps {
		r.Addf(path, "runs from %g to %g Mbps, backwards", s.FromMbps, s.ToMbps)
	}
	if !s.Feasible {
		return
	}
	p.checkPlacement(r, path, path+".cut_tensors", s.Cut, s.Encoding, s.Heads, s.NodeTiers, s.CutTensors)
	r.Number(path+".objective_from", s.ObjectiveFrom, strictyaml.NonNegative)
	r.Number(path+".objective_to", s.ObjectiveTo, strictyaml.NonNegative)
}

func (p *Plan) checkSwitches(r *strictyaml.Report) {
	lo, hi := p.ValidUplinkMbps[0], p.ValidUplinkMbps[1]
	r.Number("valid_uplink_mbps[0]", lo, strictyaml.Positive)
	r.Number("valid_uplink_mbps[1]", hi, strictyaml.Positive)
	if lo > hi {
		r.Addf("valid_uplink_mbps", "[%g, %g] is not a range", lo, hi)
	}
	if p.Below != nil {
		p.checkSwitch(r, "below", *p.Below)
		if p.Below.ToMbps != lo {
			r.Addf("below.to_mbps", "%g is not where valid_uplink_mbps starts (%g)", p.Below.ToMbps, lo)
		}
	}
	if p.Above != nil {
		p.checkSwitch(r, "above", *p.Above)
		if p.Above.FromMbps != hi {
			r.Addf("above.from_mbps", "%g is not where valid_uplink_mbps ends (%g)", p.Above.FromMbps, hi)
		}
	}
	if up := p.Uplink().UplinkMbps; up < lo || up > hi {
		r.Addf("tiers[1].uplink_mbps", "%g lies outside valid_uplink_mbps [%g, %g], where the choice is optimal", up, lo, hi)
	}
	own := -1 // the row of the choice
	for i, s := range p.SwitchTable {
		path := fmt.Sprintf("switch_table[%d]", i)
		p.checkSwitch(r, path, s)
		if i > 0 && s.FromMbps != p.SwitchTable[i-1].ToMbps {
			r.Addf(path+".from_mbps", "%g does not continue the row before, which ends at %g", s.FromMbps, p.SwitchTable[i-1].ToMbps)
		}
		if s.FromMbps == lo && s.ToMbps == hi {
			own = i
		}
	}
	c := p.Choice
	switch {
	case len(p.SwitchTable) == 0:
	case own < 0:
		r.Addf("valid_uplink_mbps", "[%g, %g] is no row of switch_table", lo, hi)
	default:
		// Structurally: the same nodes on the same tiers, the same results
		// from the same tiers, the same tensors sent the same way.
		if s := p.SwitchTable[own]; !s.Feasible || !slices.Equal(s.NodeTiers, c.NodeTiers) || !maps.Equal(s.Heads, c.Heads) || !sameTensors(s.CutTensors, p.CutTensors) {
			r.Addf(fmt.Sprintf("switch_table[%d]", own), "(the row of valid_uplink_mbps) is not the choice's placement: cut %s, %s, heads %v against %s, %s, heads %v",
				s.Cut, s.Encoding, s.Heads, c.Cut, c.Encoding, c.Heads)
		}
	}
}

// sameTensors compares what two placements send (names and shapes are
// labels).
func sameTensors(a, b []CutTensor) bool {
	return slices.EqualFunc(a, b, func(x, y CutTensor) bool {
		return x.Node == y.Node && x.Hop == y.Hop && x.Encoding == y.Encoding && x.Bytes == y.Bytes
	})
}
