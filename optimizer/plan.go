package optimizer

import (
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/placement"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/profile"
)

// PlanInfo is what a plan records that the problem does not know.
type PlanInfo struct {
	CreatedAt   string
	Granularity Granularity
	// SolveMS is the wall time of the solve as the caller's clock saw it.
	SolveMS float64
	// Source identifies the file the graph was imported from (nil: a zoo
	// model).
	Source *plan.Source
}

// Plan turns a solved problem into a deployment plan.
func (p *Problem) Plan(r *Result, info PlanInfo) *plan.Plan {
	g := p.Graph
	gr := info.Granularity
	if r.Status == Fallback {
		gr = BlockLevel // what the fallback searched, whatever was asked
	}
	out := &plan.Plan{
		Version:   plan.Version,
		CreatedAt: info.CreatedAt,
		Model:     plan.Model{Name: g.Name, InputSize: g.InputSize, Hash: g.Hash(), Source: info.Source},
		Tiers:     p.planTiers(),
		Objective: string(p.Objective),
		Constraints: plan.Constraints{
			MaxEdgeMemoryMB: mb(p.Constraints.MaxEdgeMemoryBytes), MaxBytes: p.Constraints.MaxBytes,
			DeadlineMS: p.Constraints.DeadlineMS, MinAccuracy: p.Constraints.MinAccuracy,
		},
		Solver: plan.Solver{Name: r.Method, Granularity: string(gr), Status: string(r.Status), Optimal: r.Proven,
			Objective: r.Objective, SolveMS: info.SolveMS, Solves: r.Solves, Candidates: r.Candidates},
		Choice:          p.planChoice(r.Best),
		CutTensors:      p.cutTensors(r.Best.Placement),
		Predicted:       p.Predicted(r.Best),
		ValidUplinkMbps: r.ValidUplinkMbps,
		Baselines: plan.Baselines{
			LocalOnly:  p.Option(r.Baselines.LocalOnly),
			RemoteOnly: p.Option(r.Baselines.RemoteOnly),
			MTLSplit:   p.Option(r.Baselines.MTLSplit),
		},
	}
	for _, h := range g.Heads {
		out.Model.Tasks = append(out.Model.Tasks, plan.Task{Name: h.Task, Classes: h.Classes})
	}
	for _, s := range r.Switch {
		out.SwitchTable = append(out.SwitchTable, p.Switch(s))
	}
	if r.Below != nil {
		b := p.Switch(*r.Below)
		out.Below = &b
	}
	if r.Above != nil {
		a := p.Switch(*r.Above)
		out.Above = &a
	}
	for _, e := range r.Pareto {
		out.Pareto = append(out.Pareto, p.Option(e))
	}
	out.Notes = append(out.Notes, r.Notes...)
	if p.Accuracy == nil {
		out.Notes = append(out.Notes, "no accuracy table: fp32 and fp16 taken as lossless; int8/int4 allowed only as listed, accuracy unknown")
	}
	return out
}

// planTiers lists the tiers with their devices and the links into them.
func (p *Problem) planTiers() []plan.Tier {
	names := p.tierNames()
	var tiers []plan.Tier
	for k := range p.numTiers() {
		s := p.side(k)
		t := plan.Tier{Name: names[k], Device: s.Name, LatencySource: s.Latency.Source, Stack: s.Stack, ExpectedErrorPct: s.ExpectedErrorPct}
		if k > 0 {
			n := p.hop(k)
			t.Network, t.UplinkMbps, t.DownlinkMbps, t.RTTMS = n.Name, n.UplinkMbps, n.DownlinkMbps, n.RTTMS
		}
		tiers = append(tiers, t)
	}
	return tiers
}

// cutTensors lists what a placement sends, in wire order, with names and
// shapes for people.
func (p *Problem) cutTensors(pl placement.Placement) []plan.CutTensor {
	g := p.Graph
	out := []plan.CutTensor{}
	for _, t := range pl.Sends {
		out = append(out, plan.CutTensor{Name: TensorName(g, t.Node), Node: t.Node, Hop: t.Hop, Encoding: string(t.Encoding), Bytes: t.Bytes,
			Shape: append([]int(nil), g.Nodes[t.Node].OutShape...)})
	}
	return out
}

// EncodingName is how plans spell an encoding; "none" when nothing is sent.
func EncodingName(e codec.Encoding) string {
	if e == "" {
		return "none"
	}
	return string(e)
}

func (p *Problem) planChoice(e Evaluated) plan.Choice {
	g, pl, l := p.Graph, e.Placement, e.Label
	pc := plan.Choice{Cut: l.Cut, Encoding: EncodingName(l.Encoding), Heads: p.heads(l),
		EdgeBlocks: []string{}, ServerBlocks: []string{}, NodeTiers: append([]int(nil), pl.NodeTier...)}
	// Blocks wholly on the device and wholly off it, and for a cut inside
	// blocks every layer on the device.
	onEdge := make([]bool, len(g.Nodes))
	for n, k := range pl.NodeTier {
		onEdge[n] = k == 0
		if k == 0 && n > 0 && l.Block < 0 && g.Nodes[n].Op.IsModule() {
			pc.EdgeLayers = append(pc.EdgeLayers, g.Nodes[n].Name)
		}
	}
	for _, b := range g.Blocks {
		all, none := true, true
		for id := b.First; id <= b.Output; id++ {
			all, none = all && onEdge[id], none && !onEdge[id]
		}
		if all {
			pc.EdgeBlocks = append(pc.EdgeBlocks, b.Name)
		}
		if none {
			pc.ServerBlocks = append(pc.ServerBlocks, b.Name)
		}
	}
	return pc
}

// Predicted converts a choice's cost to the plan's units and task names,
// with the idle-gap terms of the devices added (afterIdle).
func (p *Problem) Predicted(e Evaluated) plan.Predicted {
	c := p.afterIdle(e)
	pr := plan.Predicted{
		TotalMS: c.TotalMS, EdgeMS: c.EdgeMS, NetworkMS: c.NetworkMS, ServerMS: c.ServerMS,
		Bytes: c.Bytes, EdgeEnergyMJ: c.EdgeEnergyMJ, EdgeMemoryMB: mb(c.EdgeMemoryBytes),
		TaskMS: map[string]float64{}, Accuracy: map[string]*float64{},
	}
	for i, h := range p.Graph.Heads {
		if i < len(c.TaskMS) {
			pr.TaskMS[h.Task] = c.TaskMS[i]
		}
		pr.Accuracy[h.Task] = nil
		if i < len(c.TaskAccuracy) && !math.IsNaN(c.TaskAccuracy[i]) {
			a := c.TaskAccuracy[i]
			pr.Accuracy[h.Task] = &a
			if lo, hi, ok := p.accuracyCI(h.Task, c, i); ok {
				if pr.AccuracyCI == nil {
					pr.AccuracyCI = map[string][2]float64{}
				}
				pr.AccuracyCI[h.Task] = [2]float64{lo, hi}
			}
		}
	}
	return pr
}

// afterIdle is e's cost with the devices' idle-gap terms (see
// profile.SequentialStages): the stages a device and one server take when
// the edge sends the next input as the last answer comes in. The term is
// not affine in 1/uplink (the gaps include the transfer), so the search,
// its proof and the switch table's breakpoints stay on the warm costs; the
// term is added here, where a plan's costs are evaluated at its bandwidth.
// The edge's slowdown delays every task, a server's the tasks it
// answers; the energy stays the warm one.
func (p *Problem) afterIdle(e Evaluated) Cost {
	c := e.Cost
	if p.numTiers() != 2 || c.Bytes == 0 {
		return c
	}
	edge, server := p.side(0).Cost, p.side(1).Cost
	eMS, sMS := profile.SequentialStages(c.EdgeMS, c.NetworkMS, c.ServerMS, edge, server)
	de, ds := eMS-c.EdgeMS, sMS-c.ServerMS
	if de == 0 && ds == 0 {
		return c
	}
	c.EdgeMS, c.ServerMS = eMS, sMS
	c.TaskMS = append([]float64(nil), c.TaskMS...)
	names := p.tierNames()
	worst := math.Inf(-1)
	for t := range c.TaskMS {
		c.TaskMS[t] += de
		if t < len(e.Label.Heads) && e.Label.Heads[t] != names[0] {
			c.TaskMS[t] += ds
		}
		worst = max(worst, c.TaskMS[t])
	}
	if len(c.TaskMS) > 0 {
		c.TotalMS = worst
	} else {
		c.TotalMS += de + ds
	}
	return c
}

// Option converts an evaluated choice for a plan.
func (p *Problem) Option(e Evaluated) plan.Option {
	return plan.Option{Cut: e.Label.Cut, Encoding: EncodingName(e.Label.Encoding), Heads: p.heads(e.Label),
		Feasible: e.Feasible, Violates: e.Violates, Predicted: p.Predicted(e)}
}

// Switch converts a sweep segment for a plan.
func (p *Problem) Switch(s Segment) plan.Switch {
	sw := plan.Switch{FromMbps: s.FromMbps, ToMbps: s.ToMbps, Feasible: s.Feasible,
		ObjectiveFrom: s.ObjectiveFrom, ObjectiveTo: s.ObjectiveTo}
	if s.Feasible {
		sw.Cut, sw.Encoding, sw.Heads = s.Label.Cut, EncodingName(s.Label.Encoding), p.heads(s.Label)
		sw.NodeTiers, sw.CutTensors = append([]int(nil), s.Placement.NodeTier...), p.cutTensors(s.Placement)
	}
	return sw
}

// heads names the tier of every task's result.
func (p *Problem) heads(l Label) map[string]string {
	m := make(map[string]string, len(l.Heads))
	for t, h := range p.Graph.Heads {
		m[h.Task] = l.Heads[t]
	}
	return m
}

// accuracyCI is the interval the accuracy table records for the entry
// behind task t's accuracy in c.
func (p *Problem) accuracyCI(task string, c Cost, t int) (lo, hi float64, ok bool) {
	if t >= len(c.TaskAccuracyFrom) {
		return 0, 0, false
	}
	f := c.TaskAccuracyFrom[t]
	if f.Native {
		_, lo, hi, ok = p.Accuracy.NativeCI(task)
	} else {
		_, lo, hi, ok = p.Accuracy.CI(task, f.Cut, f.Encoding)
	}
	return lo, hi, ok
}
