package optimizer

import (
	"fmt"
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Objective is what the optimizer minimizes.
type Objective string

// The objectives.
const (
	// Latency is the makespan: the time until every task's output is on the
	// edge device.
	Latency Objective = "latency"
	// Energy is the edge device's energy: P_active·T_edge + P_tx·T_tx.
	Energy Objective = "energy"
	// Weighted is the weighted sum of the tasks' completion times.
	Weighted Objective = "weighted"
)

// Objectives lists the valid objectives.
var Objectives = []Objective{Latency, Energy, Weighted}

// Side is one compute tier: its device's latency for the graph, its cost
// model (for encoding and decoding tensors) and its power.
type Side struct {
	// Tier names the tier in plans and labels; empty means edge, server,
	// tier2, ... by position.
	Tier string
	// Name is the device's.
	Name string
	// Stack is the inference stack its latency is predicted for (empty:
	// the device's own entry) and ExpectedErrorPct that prediction's
	// leave-one-out error against published measurements.
	Stack            string
	ExpectedErrorPct float64
	Latency          *profile.Latency
	Cost             profile.CostModel
	ActivePowerW     float64
}

// Network is the link into a tier from the one before.
type Network struct {
	Name         string
	UplinkMbps   float64
	DownlinkMbps float64
	RTTMS        float64
	TxPowerW     float64
	// OverheadMS is paid once by every request that sends over the link
	// (protocol and framing a runtime measures beyond RTT and bytes).
	OverheadMS float64
}

// Constraints bound the feasible choices; zero values mean "no bound".
type Constraints struct {
	MaxEdgeMemoryBytes int64
	MaxBytes           int64
	DeadlineMS         float64
	// MinAccuracy is a floor per task name; it needs an accuracy table.
	MinAccuracy map[string]float64
}

// Problem is one split decision: a graph, the topology (an ordered list of
// tiers and the links between them), the encodings allowed for the tensors
// sent, an objective and constraints.
type Problem struct {
	Graph *model.Graph
	// Tiers are the compute tiers in order, the device first: a device and
	// a server is the common case, tiers behind them (an edge server, then
	// a cloud) are more of the same.
	Tiers []Side
	// Links[h-1] is the network into tier h from tier h-1; Links[0], the
	// device's uplink, is the bandwidth a sweep varies.
	Links     []Network
	Encodings []codec.Encoding
	Objective Objective
	// TaskWeights weigh the tasks for the Weighted objective; nil means 1 each.
	TaskWeights []float64
	Constraints Constraints
	// Accuracy is the measured accuracy table; without it fp32 and fp16 are
	// taken as lossless and int8/int4 are allowed only when listed in
	// Encodings, with unknown accuracy.
	Accuracy *profile.AccuracyTable
}

// numTiers counts the tiers, the device included.
func (p *Problem) numTiers() int { return len(p.Tiers) }

// side is tier k's side.
func (p *Problem) side(k int) Side { return p.Tiers[k] }

// hop is the network into tier h (h ≥ 1).
func (p *Problem) hop(h int) Network { return p.Links[h-1] }

// Uplink is the device's uplink, the link a sweep varies.
func (p *Problem) Uplink() *Network { return &p.Links[0] }

// tierNames names every tier.
func (p *Problem) tierNames() []string {
	names := make([]string, len(p.Tiers))
	for k, s := range p.Tiers {
		switch {
		case s.Tier != "":
			names[k] = s.Tier
		case k == 0:
			names[k] = "edge"
		case k == 1:
			names[k] = "server"
		default:
			names[k] = "tier" + itoa(k)
		}
	}
	return names
}

// Validate reports what makes the problem unsolvable before any search.
func (p *Problem) Validate() error {
	g := p.Graph
	if g == nil || len(g.Blocks) == 0 {
		return fmt.Errorf("problem has no model")
	}
	if len(g.Heads) == 0 {
		return fmt.Errorf("model %s has no task heads; give at least one task", g.Name)
	}
	if len(p.Tiers) < 2 || len(p.Links) != len(p.Tiers)-1 {
		return fmt.Errorf("%d tiers and %d links: a problem needs the device, at least one tier behind it and one link into each", len(p.Tiers), len(p.Links))
	}
	for k := range p.numTiers() {
		s := p.side(k)
		if s.Latency == nil || len(s.Latency.BlockMS) != len(g.Blocks) || len(s.Latency.HeadMS) != len(g.Heads) {
			return fmt.Errorf("side %q has no latency profile for %s", s.Name, g.Name)
		}
		if k == 0 {
			continue
		}
		n := p.hop(k)
		if !(n.UplinkMbps > 0) || !(n.DownlinkMbps > 0) || n.RTTMS < 0 || n.TxPowerW < 0 || !(n.OverheadMS >= 0) {
			return fmt.Errorf("network %q: uplink %g Mbps and downlink %g Mbps must be positive, RTT %g ms, tx power %g W and overhead %g ms non-negative",
				n.Name, n.UplinkMbps, n.DownlinkMbps, n.RTTMS, n.TxPowerW, n.OverheadMS)
		}
	}
	if len(p.Encodings) == 0 {
		return fmt.Errorf("no encodings allowed for the cut tensor")
	}
	for _, e := range p.Encodings {
		if e.Compressed() && p.Tiers[0].Latency.CutBytes == nil && p.Tiers[1].Latency.CutBytes == nil {
			return fmt.Errorf("encoding %s needs measured cut sizes: its ratio depends on the data (plan with --profile FILE from 'mtlsplit profile --measure')", e)
		}
	}
	switch p.Objective {
	case Latency, Energy:
	case Weighted:
		if p.TaskWeights != nil && len(p.TaskWeights) != len(g.Heads) {
			return fmt.Errorf("%d task weights for %d tasks", len(p.TaskWeights), len(g.Heads))
		}
		for i, w := range p.TaskWeights {
			if w < 0 {
				return fmt.Errorf("weight of task %d is %g; weights must be non-negative", i+1, w)
			}
		}
	default:
		return fmt.Errorf("unknown objective %q (valid: latency, energy, weighted)", p.Objective)
	}
	c := p.Constraints
	if c.MaxEdgeMemoryBytes < 0 || c.MaxBytes < 0 || c.DeadlineMS < 0 {
		return fmt.Errorf("constraints must be non-negative")
	}
	if len(c.MinAccuracy) > 0 {
		if p.Accuracy == nil {
			return fmt.Errorf("accuracy floors need an accuracy table (--accuracy FILE): without one the accuracy of a split is unknown")
		}
		var tasks []string
		for _, h := range g.Heads {
			tasks = append(tasks, h.Task)
		}
		for t, v := range c.MinAccuracy {
			if !contains(tasks, t) {
				return fmt.Errorf("accuracy floor for unknown task %q (tasks: %s)", t, strings.Join(tasks, ", "))
			}
			if !(v >= 0 && v <= 1) { // NaN too
				return fmt.Errorf("accuracy floor %g for %s is not a fraction in [0, 1]", v, t)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
