package optimizer

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/profile"
)

// choices enumerates the search space: every cut with every allowed
// encoding, heads on the server; and at the end of the backbone every
// placement of the heads (all on the edge is local-only, which sends
// nothing). A head never runs on the edge after the backbone left it: no
// tensor travels back towards the device.
func (p *Problem) choices() []Choice {
	g := p.Graph
	cuts := profile.Cuts(g)
	nt, nb := len(g.Heads), len(g.Blocks)
	var out []Choice
	for _, cut := range cuts {
		encs := p.Encodings
		if cut.Index == 0 {
			encs = []codec.Encoding{codec.Raw}
		}
		masks := 1
		if cut.Index == nb {
			masks = 1 << nt
		}
		for m := 0; m < masks; m++ {
			heads := make([]bool, nt)
			for t := range heads {
				heads[t] = m&(1<<t) != 0
			}
			if m == masks-1 && cut.Index == nb {
				out = append(out, Choice{Cut: cut.Index, CutName: cut.Name, HeadsOnEdge: heads})
				continue
			}
			for _, e := range encs {
				out = append(out, Choice{Cut: cut.Index, CutName: cut.Name, Encoding: e, HeadsOnEdge: heads})
			}
		}
	}
	return out
}

// Constraint groups, named as errors and plans name them.
const (
	ConstraintMemory   = "edge memory"
	ConstraintBytes    = "max bytes"
	ConstraintAccuracy = "accuracy floor"
	ConstraintDeadline = "deadline"
)

// violation names the first static constraint the candidate breaks, or "".
// The deadline depends on the uplink and is checked separately.
func (p *Problem) violation(cd *candidate) string {
	c := p.Constraints
	if c.MaxEdgeMemoryBytes > 0 && cd.memory > c.MaxEdgeMemoryBytes {
		return ConstraintMemory
	}
	if c.MaxBytes > 0 && cd.bytes > c.MaxBytes {
		return ConstraintBytes
	}
	for i, h := range p.Graph.Heads {
		if floor, ok := c.MinAccuracy[h.Task]; ok && !(cd.accuracy[i] >= floor) {
			return ConstraintAccuracy
		}
	}
	return ""
}

// candidates builds every choice and splits them into those meeting the
// static constraints and all of them (for diagnosis and baselines).
func (p *Problem) candidates() (feasible, all []*candidate) {
	u := p.units(BlockLevel)
	for i, c := range p.choices() {
		if _, ok := p.tensorBytes(u, c.Cut, c.Encoding); c.Sends() && !ok {
			continue // a lossless stage with no measured size at this cut
		}
		cd := p.newCandidate(u, c, i)
		all = append(all, &cd)
		if p.violation(&cd) == "" {
			feasible = append(feasible, &cd)
		}
	}
	return feasible, all
}

// InfeasibleError says which constraint cannot be met and the best value
// reachable for it.
type InfeasibleError struct {
	Constraint string
	Detail     string
}

func (e *InfeasibleError) Error() string {
	return fmt.Sprintf("infeasible: %s cannot be met: %s", e.Constraint, e.Detail)
}

// diagnose explains why no candidate is feasible at x: the constraint that
// alone rules out everything, with the best value any choice reaches.
func (p *Problem) diagnose(all []*candidate, x float64) error {
	c := p.Constraints
	best := func(f func(cd *candidate) float64) float64 {
		b := math.Inf(1)
		for _, cd := range all {
			b = min(b, f(cd))
		}
		return b
	}
	if c.MaxEdgeMemoryBytes > 0 {
		if m := best(func(cd *candidate) float64 { return float64(cd.memory) }); m > float64(c.MaxEdgeMemoryBytes) {
			return &InfeasibleError{ConstraintMemory, fmt.Sprintf("limit %.1f MB, the leanest choice needs %.1f MB on the edge", mb(c.MaxEdgeMemoryBytes), m/1e6)}
		}
	}
	if c.MaxBytes > 0 {
		if m := best(func(cd *candidate) float64 { return float64(cd.bytes) }); m > float64(c.MaxBytes) {
			return &InfeasibleError{ConstraintBytes, fmt.Sprintf("limit %d bytes, the smallest choice sends %.0f", c.MaxBytes, m)}
		}
	}
	for _, h := range p.Graph.Heads {
		floor, ok := c.MinAccuracy[h.Task]
		if !ok {
			continue
		}
		i := taskIndex(p, h.Task)
		m := best(func(cd *candidate) float64 {
			if math.IsNaN(cd.accuracy[i]) {
				return math.Inf(1)
			}
			return -cd.accuracy[i]
		})
		if -m < floor {
			reach := "no choice has a measured accuracy for it"
			if !math.IsInf(m, 1) {
				reach = fmt.Sprintf("the best choice reaches %.4f", -m)
			}
			return &InfeasibleError{ConstraintAccuracy, fmt.Sprintf("%s needs %.4f, %s", h.Task, floor, reach)}
		}
	}
	if c.DeadlineMS > 0 {
		m := best(func(cd *candidate) float64 { return maxAt(cd.tasks, x) })
		if m > c.DeadlineMS {
			return &InfeasibleError{ConstraintDeadline, fmt.Sprintf("deadline %.3g ms at %.4g Mbps, the fastest choice takes %.4g ms", c.DeadlineMS, 1/x, m)}
		}
	}
	return &InfeasibleError{"constraints", "each can be met alone but not all together; relax one of edge memory, max bytes, accuracy floors, deadline"}
}

func taskIndex(p *Problem, task string) int {
	for i, h := range p.Graph.Heads {
		if h.Task == task {
			return i
		}
	}
	return -1
}

func mb(b int64) float64 { return float64(b) / 1e6 }
