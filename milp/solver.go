package milp

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrUnavailable is returned by CBC.Solve in a build without CBC: without
// cgo, or with the build tag nocbc (the static arm64 release, which cannot
// link Debian's amd64 libCbc).
var ErrUnavailable = errors.New("milp: CBC not available in this build (built without cgo or with tag nocbc)")

// ErrSolverCrashed is returned (wrapped, with the signal or exit status and
// the worker's last line of output) when the CBC worker process dies or
// hangs during a solve. The next solve starts a fresh worker.
var ErrSolverCrashed = errors.New("milp: CBC worker crashed")

// ErrUnsupported is returned (wrapped) by a solver given a model outside what
// it can solve, such as Enumerate with a general integer variable.
var ErrUnsupported = errors.New("milp: model not supported by this solver")

// CBC solves models with COIN-OR CBC (2.10 in Debian 12). The zero value is
// ready to use and safe: each solve runs in a worker process (this
// executable, started again), so a CBC abort becomes ErrSolverCrashed
// instead of ending the program; one worker per concurrent solve stays
// alive between solves. In a build without cgo, Solve returns
// ErrUnavailable.
type CBC struct {
	// InProcess solves in this process instead, serialized by a lock:
	// no process start and no copy of the model, but a CBC abort ends
	// the program.
	InProcess bool
}

// Solver solves a Model. A nil *Settings means the zero Settings.
//
// Solve returns an error for a model that fails Validate, for settings that
// fail Settings.Validate, and when the solver itself fails (then the
// Solution, if any, has Status Error). Infeasible, unbounded and time-limited
// models are results, not errors: see Solution.Status.
type Solver interface {
	Solve(m *Model, s *Settings) (*Solution, error)
}

// Settings tune a solve. The zero value means no time limit, the solver's
// default gap and thread count.
type Settings struct {
	// TimeLimit is wall-clock time for the search; 0 means none.
	TimeLimit time.Duration
	// RelGap stops the search once |best − bound| ≤ RelGap·|best|; 0 keeps
	// the solver's default (CBC: search to proven optimality).
	RelGap float64
	// Threads is the number of search threads; 0 or 1 means one.
	Threads int
	// Start is a feasible point (one value per variable) the search may
	// start from; solvers that cannot use one ignore it.
	Start []float64
	// Conservative solves the plain way, for a retry after a solver
	// failure: CBC ignores Start and turns off preprocessing, presolve
	// and its primal heuristics. Slower, never less exact.
	Conservative bool
}

// Validate rejects negative or non-finite settings.
func (s *Settings) Validate() error {
	if s == nil {
		return nil
	}
	if s.TimeLimit < 0 {
		return fmt.Errorf("milp: negative time limit %v", s.TimeLimit)
	}
	if s.RelGap < 0 || math.IsNaN(s.RelGap) || math.IsInf(s.RelGap, 0) {
		return fmt.Errorf("milp: relative gap %g not a finite value ≥ 0", s.RelGap)
	}
	if s.Threads < 0 || s.Threads > 64 {
		return fmt.Errorf("milp: %d threads not in [0, 64]", s.Threads)
	}
	return nil
}

// Status says what a solve established.
type Status int

const (
	// Error is the zero Status: the solver failed or never ran.
	Error Status = iota
	// Optimal: X is optimal (within Settings.RelGap, if set).
	Optimal
	// Feasible: the time limit stopped the search with an incumbent X that
	// is feasible but not proven optimal; Bound and Gap say how far off.
	Feasible
	// Infeasible: no point satisfies the rows, bounds and integrality.
	Infeasible
	// Unbounded: feasible, and the objective decreases without limit.
	Unbounded
	// TimeLimit: the time limit stopped the search before any feasible
	// point was found; nothing is known.
	TimeLimit
)

func (s Status) String() string {
	switch s {
	case Error:
		return "error"
	case Optimal:
		return "optimal"
	case Feasible:
		return "feasible"
	case Infeasible:
		return "infeasible"
	case Unbounded:
		return "unbounded"
	case TimeLimit:
		return "time limit"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Solution is what a solve found. X, Objective, Bound and Gap are meaningful
// only when Status is Optimal or Feasible; otherwise X is nil.
type Solution struct {
	Status Status
	// Objective is Model.Eval(X), ObjConst included.
	Objective float64
	// X holds one value per Model.Vars; integer variables hold exact
	// integers (the solver's value rounded within its tolerance).
	X []float64
	// Bound is the best proven lower bound on the optimum (−Inf if none).
	Bound float64
	// Gap is (Objective − Bound) / max(|Objective|, 1e-10), ≥ 0.
	Gap float64
	// Proven is true when the solver finished its search: Optimal within
	// RelGap, Infeasible or Unbounded; false when a limit stopped it.
	Proven bool
	// Nodes is the number of branch-and-bound nodes explored.
	Nodes   int
	Elapsed time.Duration
}

// gap returns the relative gap between an objective and a bound.
func gap(obj, bound float64) float64 {
	if math.IsInf(bound, -1) {
		return math.Inf(1)
	}
	return max(0, obj-bound) / max(math.Abs(obj), 1e-10)
}
