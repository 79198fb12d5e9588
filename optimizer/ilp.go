package optimizer

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/milp"
)

// ILP places every unit (block or layer) with a mixed-integer program and
// proves the placement optimal. At block level its space is the exhaustive
// method's; at layer level it also finds cuts through residual and
// squeeze-excitation branches, where several tensors cross.
type ILP struct {
	Granularity Granularity
	// Solver is the MILP backend; nil means CBC.
	Solver milp.Solver
	// Settings bound the solve (time limit, gap); nil means none.
	Settings *milp.Settings
	// Progress, if set, hears the number of MILPs a sweep has solved.
	Progress func(solves int)
}

// Name implements Method.
func (m ILP) Name() string { return "ilp" }

func (m ILP) solver() milp.Solver {
	if m.Solver == nil {
		return milp.CBC{}
	}
	return m.Solver
}

func (m ILP) granularity() Granularity {
	if m.Granularity == "" {
		return BlockLevel
	}
	return m.Granularity
}

// Optimize implements Method.
func (m ILP) Optimize(p *Problem) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return Outcome{}, err
	}
	x := 1 / p.Network.UplinkMbps
	f := p.formulate(m.granularity(), x, nil)
	start := time.Now()
	sol, err := m.solver().Solve(&f.model, m.settings(p, f, x))
	if err != nil {
		return Outcome{}, fmt.Errorf("ilp: %w", err)
	}
	elapsed := time.Since(start)
	switch sol.Status {
	case milp.Optimal, milp.Feasible:
	case milp.Infeasible:
		return Outcome{}, m.diagnose(p, x)
	default:
		return Outcome{}, fmt.Errorf("ilp: solver stopped with status %s", sol.Status)
	}
	cd := f.candidate(sol.X)
	return Outcome{Best: p.evaluate(&cd, x), Proven: sol.Status == milp.Optimal && sol.Proven, Objective: sol.Objective,
		SolveMS: float64(elapsed.Microseconds()) / 1e3, Solves: 1, placement: &cd}, nil
}

// settings are the caller's, plus a warm start from the block-level optimum
// at layer level.
func (m ILP) settings(p *Problem, f *formulation, x float64) *milp.Settings {
	var s milp.Settings
	if m.Settings != nil {
		s = *m.Settings
	}
	if m.granularity() == LayerLevel {
		s.Start = p.layerStart(f, x)
	}
	return &s
}

// Model returns the MILP of p at its network's uplink, as Optimize solves
// it (for export as LP or MPS).
func (m ILP) Model(p *Problem) (*milp.Model, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	f := p.formulate(m.granularity(), 1/p.Network.UplinkMbps, nil)
	return &f.model, nil
}

// diagnose finds the constraint group that makes the MILP infeasible: the
// one whose removal makes it feasible, with the best value reachable.
func (m ILP) diagnose(p *Problem, x float64) error {
	present := p.formulate(m.granularity(), x, nil).has
	for _, group := range []string{ConstraintMemory, ConstraintBytes, ConstraintAccuracy, ConstraintDeadline} {
		if !present[group] {
			continue
		}
		f := p.formulate(m.granularity(), x, map[string]bool{group: true})
		sol, err := m.solver().Solve(&f.model, m.Settings)
		if err != nil {
			return fmt.Errorf("ilp: %w", err)
		}
		if sol.Status != milp.Optimal && sol.Status != milp.Feasible {
			continue
		}
		cd := f.candidate(sol.X)
		detail := "relaxing it alone makes the problem feasible"
		switch group {
		case ConstraintDeadline:
			detail = fmt.Sprintf("deadline %.4g ms; without it the optimum takes %.4g ms", p.Constraints.DeadlineMS, maxAt(cd.tasks, x))
		case ConstraintBytes:
			detail = fmt.Sprintf("limit %d bytes; without it the optimum sends %d", p.Constraints.MaxBytes, cd.bytes)
		case ConstraintMemory:
			detail = fmt.Sprintf("limit %.1f MB; without it the optimum needs %.1f MB on the edge", mb(p.Constraints.MaxEdgeMemoryBytes), mb(cd.memory))
		}
		return &InfeasibleError{Constraint: group, Detail: detail}
	}
	return &InfeasibleError{Constraint: "constraints", Detail: "each group can be met alone but not all together"}
}

// safeName keeps the characters LP files allow.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func scale(terms []milp.Term, k float64) []milp.Term {
	out := make([]milp.Term, len(terms))
	for i, t := range terms {
		out[i] = milp.Term{Var: t.Var, Coef: t.Coef * k}
	}
	return out
}

// meetsFloors reports whether unit i's output may cross in encoding e under
// the accuracy floors: lossless always may; a lossy tensor needs a measured
// accuracy at or above every floor.
func (p *Problem) meetsFloors(u *units, i int, e codec.Encoding) bool {
	e = e.Base() // the lossless stage changes nothing
	if e == codec.FP32 || e == codec.Raw {
		return true
	}
	for task, floor := range p.Constraints.MinAccuracy {
		a, ok := p.Accuracy.Accuracy(task, u.cut[i], e)
		if !ok || a < floor {
			return false
		}
	}
	return true
}

// maxSweepSolves bounds the MILP solves of one layer-level sweep.
const maxSweepSolves = 64

// sweep is the switch table at layer level. The space is too large to list,
// so it grows a set of candidate placements: compute the exact lower
// envelope of the set, solve the MILP at every breakpoint and in the middle
// of every segment, add any placement that beats the envelope there, and
// repeat until none does. For an objective linear in 1/bandwidth (energy,
// weighted) the optimal value is concave in 1/bandwidth, so agreement at
// the breakpoints proves the table exact (Eisner and Severance); for the
// makespan it is verified at the checked points. It returns the number of
// MILP solves.
func (m ILP) sweep(p *Problem, cands []*candidate, fromMbps, toMbps float64) ([]Segment, int, error) {
	checked := map[float64]bool{}
	solves := 0
	q := *p
	for {
		segs, err := p.sweep(cands, fromMbps, toMbps)
		if err != nil {
			return nil, solves, err
		}
		var points []float64
		for _, s := range segs {
			points = append(points, s.FromMbps, math.Sqrt(s.FromMbps*s.ToMbps))
		}
		points = append(points, toMbps)
		added := false
		for _, u := range points {
			if checked[u] || solves >= maxSweepSolves {
				continue
			}
			checked[u] = true
			q.Network.UplinkMbps = u
			f := q.formulate(m.granularity(), 1/u, nil)
			sol, err := m.solver().Solve(&f.model, m.Settings)
			solves++
			if m.Progress != nil {
				m.Progress(solves)
			}
			if err != nil {
				return nil, solves, fmt.Errorf("ilp sweep at %g Mbps: %w", u, err)
			}
			if sol.Status != milp.Optimal && sol.Status != milp.Feasible {
				continue
			}
			cd := f.candidate(sol.X)
			if envelopeAt(p, cands, u) > maxAt(p.objective(&cd), 1/u)*(1+1e-9)+1e-12 {
				cd.order = len(cands)
				cands = append(cands, &cd)
				added = true
			}
		}
		if !added {
			return segs, solves, nil
		}
	}
}

// envelopeAt is the best objective among cands at uplink u (+Inf if none
// is feasible there).
func envelopeAt(p *Problem, cands []*candidate, u float64) float64 {
	best := p.bestAt(cands, 1/u)
	if best == nil {
		return math.Inf(1)
	}
	return maxAt(p.objective(best), 1/u)
}
