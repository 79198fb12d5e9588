package optimizer

import (
	"errors"
	"fmt"
	"math"
	"slices"
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
	// MaxSweepSolves bounds the MILP solves of a layer-level switch
	// table; 0 means DefaultMaxSweepSolves. The notes say when it stops
	// the table early.
	MaxSweepSolves int
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

// Optimize implements Method. A solver failure (a crash, a time limit
// with nothing found) is retried once the conservative way, then returned
// wrapped in ErrSolverFailed.
func (m ILP) Optimize(p *Problem) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return Outcome{}, err
	}
	x := 1 / p.Links[0].UplinkMbps
	f := p.formulate(m.granularity(), x, nil)
	start := time.Now()
	sol, notes, err := m.solve(f, m.settings(p, f, x), "")
	if err != nil {
		return Outcome{}, err
	}
	elapsed := time.Since(start)
	if sol.Status == milp.Infeasible {
		return Outcome{}, m.diagnose(p, x)
	}
	cd := f.candidate(sol.X)
	status := m.status(sol)
	switch status {
	case TimeLimit:
		notes = append(notes, fmt.Sprintf("the time limit stopped the ILP: the choice is the best found, within %.3g%% of the lower bound", 100*sol.Gap))
	case WithinGap:
		notes = append(notes, fmt.Sprintf("the ILP stopped at the requested gap: the choice is within %.3g%% of the lower bound", 100*sol.Gap))
	}
	return Outcome{Best: p.evaluate(&cd, x), Status: status, Proven: status == Optimal, Objective: sol.Objective,
		SolveMS: float64(elapsed.Microseconds()) / 1e3, Solves: 1, Notes: notes, placement: &cd}, nil
}

// status says what a feasible or optimal solution proves.
func (m ILP) status(sol *milp.Solution) Status {
	switch {
	case sol.Status != milp.Optimal || !sol.Proven:
		return TimeLimit
	case m.Settings != nil && m.Settings.RelGap > 0 && sol.Gap > 1e-9:
		return WithinGap
	}
	return Optimal
}

// solve runs the MILP of f. It returns a solution that is optimal,
// feasible or infeasible, or an error wrapping ErrSolverFailed. A failed
// solve is tried once more without warm start, presolve and heuristics
// (milp.Settings.Conservative); the note says so. where names the uplink
// for the messages of sweep solves.
func (m ILP) solve(f *formulation, s *milp.Settings, where string) (*milp.Solution, []string, error) {
	sol, err := m.solver().Solve(&f.model, s)
	if err == nil && usable(sol) {
		return sol, nil, nil
	}
	first := err
	if first == nil {
		first = fmt.Errorf("solver stopped with status %s", sol.Status)
	}
	var invalid *milp.ValidationError
	if errors.Is(err, milp.ErrUnavailable) || errors.As(err, &invalid) {
		return nil, nil, fmt.Errorf("ilp%s: %w: %w", where, ErrSolverFailed, err) // a retry cannot help
	}
	var retry milp.Settings
	if s != nil {
		retry = *s
	}
	retry.Start, retry.Conservative = nil, true
	sol, err = m.solver().Solve(&f.model, &retry)
	if err == nil && !usable(sol) {
		err = fmt.Errorf("solver stopped with status %s", sol.Status)
	}
	if err != nil {
		again := "the same again"
		if err.Error() != first.Error() {
			again = err.Error()
		}
		return nil, nil, fmt.Errorf("ilp%s: %w: %v; without warm start, presolve and heuristics: %s", where, ErrSolverFailed, first, again)
	}
	return sol, []string{fmt.Sprintf("the MILP solver failed%s (%v); solved again without warm start, presolve and heuristics", where, first)}, nil
}

// usable: the solve answered (a placement, or a proof there is none).
func usable(sol *milp.Solution) bool {
	return sol.Status == milp.Optimal || sol.Status == milp.Feasible || sol.Status == milp.Infeasible
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
	f := p.formulate(m.granularity(), 1/p.Links[0].UplinkMbps, nil)
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
		sol, _, err := m.solve(f, m.Settings, "")
		if err != nil {
			return err
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

// DefaultMaxSweepSolves bounds the MILP solves of one layer-level sweep.
const DefaultMaxSweepSolves = 64

func (m ILP) maxSweepSolves() int {
	if m.MaxSweepSolves > 0 {
		return m.MaxSweepSolves
	}
	return DefaultMaxSweepSolves
}

// sweep is the switch table at layer level. The space is too large to list,
// so it grows a set of candidate placements: compute the exact lower
// envelope of the set, solve the MILP at every breakpoint and in the middle
// of every segment, add any placement that beats the envelope there, and
// repeat until none does. For an objective linear in 1/bandwidth (energy,
// weighted) the optimal value is concave in 1/bandwidth, so agreement at
// the breakpoints proves the table exact (Eisner and Severance); for the
// makespan it is verified at the checked points. A point where the solver
// fails is left unchecked, and the notes say so, as they do when the solve
// cap or a time limit stops the checks early.
func (m ILP) sweep(p *Problem, cands []*candidate, fromMbps, toMbps float64) ([]Segment, SweepInfo, error) {
	checked := map[float64]bool{}
	var info SweepInfo
	var failed, limited []string
	var firstFailure error
	capped := false
	q := *p
	q.Links = slices.Clone(p.Links) // the uplink changes per solve
	for {
		segs, err := p.sweep(cands, fromMbps, toMbps)
		if err != nil {
			return nil, info, err
		}
		var points []float64
		for _, s := range segs {
			points = append(points, s.FromMbps, math.Sqrt(s.FromMbps*s.ToMbps))
		}
		points = append(points, toMbps)
		added := false
		for _, u := range points {
			if checked[u] {
				continue
			}
			if info.Solves >= m.maxSweepSolves() {
				capped = true
				continue
			}
			checked[u] = true
			q.Links[0].UplinkMbps = u
			f := q.formulate(m.granularity(), 1/u, nil)
			sol, notes, err := m.solve(f, m.Settings, fmt.Sprintf(" at %.4g Mbps", u))
			info.Solves++
			if m.Progress != nil {
				m.Progress(info.Solves)
			}
			info.Notes = append(info.Notes, notes...)
			if err != nil {
				if len(failed) == 0 {
					firstFailure = err
				}
				failed = append(failed, fmt.Sprintf("%.4g", u))
				continue
			}
			if sol.Status == milp.Infeasible {
				continue
			}
			if m.status(sol) == TimeLimit {
				limited = append(limited, fmt.Sprintf("%.4g", u))
			}
			cd := f.candidate(sol.X)
			if envelopeAt(p, cands, u) > maxAt(p.objective(&cd), 1/u)*(1+1e-9)+1e-12 {
				cd.order = len(cands)
				cands = append(cands, &cd)
				added = true
			}
		}
		if !added {
			if capped {
				info.Notes = append(info.Notes, fmt.Sprintf("switch table: stopped at the cap of %d MILP solves with points left unchecked; a better layer cut may exist between breakpoints", m.maxSweepSolves()))
			}
			if len(failed) > 0 {
				info.Notes = append(info.Notes, fmt.Sprintf("switch table: not checked at %s Mbps (the first failure: %v)", strings.Join(failed, ", "), firstFailure))
			}
			if len(limited) > 0 {
				info.Notes = append(info.Notes, fmt.Sprintf("switch table: the time limit stopped the solves at %s Mbps; segments there may not be optimal", strings.Join(limited, ", ")))
			}
			return segs, info, nil
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
