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

// Side is one end of the split: its latency for the graph, its cost model
// (for encoding and decoding the cut tensor) and its power.
type Side struct {
	Name         string
	Latency      *profile.Latency
	Cost         profile.CostModel
	ActivePowerW float64
}

// Network is the link between edge and server.
type Network struct {
	Name         string
	UplinkMbps   float64
	DownlinkMbps float64
	RTTMS        float64
	TxPowerW     float64
}

// Constraints bound the feasible choices; zero values mean "no bound".
type Constraints struct {
	MaxEdgeMemoryBytes int64
	MaxBytes           int64
	DeadlineMS         float64
	// MinAccuracy is a floor per task name; it needs an accuracy table.
	MinAccuracy map[string]float64
}

// Problem is one split decision: a graph, the two sides, the network, the
// encodings allowed for the cut tensor, an objective and constraints.
type Problem struct {
	Graph     *model.Graph
	Edge      Side
	Server    Side
	Network   Network
	Encodings []codec.Encoding
	Objective Objective
	// TaskWeights weigh the tasks for the Weighted objective; nil means 1 each.
	TaskWeights []float64
	Constraints Constraints
	// Accuracy is the measured accuracy table; without it fp32 and fp16 are
	// taken as lossless and int8/int4 are allowed only when listed in
	// Encodings, with unknown accuracy.
	Accuracy *profile.AccuracyTable
	// Beyond lists tiers behind the server (device → edge server → cloud):
	// each is reached from the one before over its own network. Only the
	// ILP places units on them; the uplink swept is always the device's.
	Beyond []Tier
	// TierNames names the tiers, device first; nil means edge, server,
	// tier2, ...
	TierNames []string
}

// Tier is a compute tier behind the server and the network that reaches
// it from the tier before.
type Tier struct {
	Side    Side
	Network Network
}

// numTiers counts the tiers, the device included.
func (p *Problem) numTiers() int { return 2 + len(p.Beyond) }

// side is tier k's side.
func (p *Problem) side(k int) Side {
	switch k {
	case 0:
		return p.Edge
	case 1:
		return p.Server
	}
	return p.Beyond[k-2].Side
}

// hop is the network into tier h (h ≥ 1).
func (p *Problem) hop(h int) Network {
	if h == 1 {
		return p.Network
	}
	return p.Beyond[h-2].Network
}

// tierNames names every tier.
func (p *Problem) tierNames() []string {
	names := []string{"edge", "server"}
	for k := 2; k < p.numTiers(); k++ {
		names = append(names, "tier"+itoa(k))
	}
	for i, n := range p.TierNames {
		if i < len(names) && n != "" {
			names[i] = n
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
	for k := range p.numTiers() {
		s := p.side(k)
		if s.Latency == nil || len(s.Latency.BlockMS) != len(g.Blocks) || len(s.Latency.HeadMS) != len(g.Heads) {
			return fmt.Errorf("side %q has no latency profile for %s", s.Name, g.Name)
		}
		if k == 0 {
			continue
		}
		n := p.hop(k)
		if !(n.UplinkMbps > 0) || !(n.DownlinkMbps > 0) || n.RTTMS < 0 || n.TxPowerW < 0 {
			return fmt.Errorf("network %q: uplink %g Mbps and downlink %g Mbps must be positive, RTT %g ms and tx power %g W non-negative",
				n.Name, n.UplinkMbps, n.DownlinkMbps, n.RTTMS, n.TxPowerW)
		}
	}
	if len(p.Encodings) == 0 {
		return fmt.Errorf("no encodings allowed for the cut tensor")
	}
	for _, e := range p.Encodings {
		if e.Compressed() && p.Edge.Latency.CutBytes == nil && p.Server.Latency.CutBytes == nil {
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
