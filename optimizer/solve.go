package optimizer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/placement"
)

// Status says what a solve proved.
type Status string

// The statuses of a result.
const (
	// Optimal: the choice is proven optimal in the method's space.
	Optimal Status = "optimal"
	// WithinGap: the ILP stopped at the requested relative gap (--gap);
	// the choice is feasible and at most that far from the optimum.
	WithinGap Status = "within-gap"
	// TimeLimit: the time limit stopped the ILP; the choice is the best
	// feasible one it found, not proven optimal.
	TimeLimit Status = "time-limit"
	// Infeasible: no choice meets the constraints.
	Infeasible Status = "infeasible"
	// Fallback: the MILP solver failed even on a retry; the choice is the
	// exhaustive block-level optimum (proven over block cuts only).
	Fallback Status = "fallback"
)

// ErrSolverFailed marks an ILP error that is the solver's failure (a crash,
// no answer in time) rather than the problem's: Solve falls back to the
// exhaustive block-level search on it.
var ErrSolverFailed = errors.New("the MILP solver failed")

// Settings tune a solve; nil means DefaultSettings.
type Settings struct {
	// The bandwidth range over which the switch table (and so the range in
	// which the optimum stays optimal) is computed.
	SweepFromMbps, SweepToMbps float64
}

// DefaultSettings sweeps from 1 kbit/s to 1 Tbit/s: wide enough that a
// range ending at a bound means "and beyond".
var DefaultSettings = Settings{SweepFromMbps: 1e-3, SweepToMbps: 1e6}

// Method finds the best choice of a problem at its network's uplink.
type Method interface {
	Name() string
	Optimize(p *Problem) (Outcome, error)
}

// Outcome is what a method found and what it proved.
type Outcome struct {
	Best Evaluated
	// Status says what the method proved; Proven is Status == Optimal.
	Status Status
	Proven bool
	// Objective is the value the method minimized, in its own units (ms
	// for latency and weighted, mJ for energy).
	Objective float64
	SolveMS   float64
	// Solves counts the solver runs behind the outcome.
	Solves int
	// Notes say what a reader of the plan should know about the solve
	// (a retry, a limit hit).
	Notes     []string
	placement *candidate
}

// Evaluated is a placement with its predicted cost.
type Evaluated struct {
	Placement placement.Placement
	// Label is how people read the placement (never its identity).
	Label    Label
	Cost     Cost
	Feasible bool
	// Violates names the constraint an infeasible choice breaks.
	Violates string
}

// Baselines are the fixed strategies every plan is compared against.
type Baselines struct {
	LocalOnly  Evaluated // everything on the edge
	RemoteOnly Evaluated // the raw image to the server
	MTLSplit   Evaluated // MTL-Split: backbone on the edge, fp32, heads on the server
}

// Result is the outcome of Solve.
type Result struct {
	Status    Status
	Method    string
	Best      Evaluated
	Baselines Baselines
	// Pareto holds the choices no other beats on latency, bytes and lowest
	// task accuracy at once, fastest first.
	Pareto []Evaluated
	// Candidates is the size of the block-level search space.
	Candidates int
	// Proven, Objective, SolveMS and Solves come from the method.
	Proven    bool
	Objective float64
	SolveMS   float64
	Solves    int
	// ValidUplinkMbps is the uplink range in which Best stays optimal;
	// Below and Above are the optima just outside it (nil at the sweep's
	// bounds).
	ValidUplinkMbps [2]float64
	Below, Above    *Segment
	// Switch is the whole switch table over the settings' range.
	Switch []Segment
	// Notes say what a reader of the plan should know about the solve: a
	// retry, a fallback, a limit that stopped the search or the switch
	// table early.
	Notes []string
}

// Solve finds the optimal choice of p with method m (nil: exhaustive) and
// adds the baselines, the Pareto set and the switch table.
func Solve(p *Problem, s *Settings, m Method) (*Result, error) {
	if s == nil {
		s = &DefaultSettings
	}
	if m == nil {
		m = Exhaustive{}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// The block-level candidates serve the exhaustive search, the Pareto
	// set and the sweep: built once.
	feasible, all := p.candidates()
	var out Outcome
	var err error
	if ex, ok := m.(Exhaustive); ok {
		out, err = ex.over(p, feasible, all)
	} else {
		out, err = m.Optimize(p)
	}
	if failed := err; errors.Is(failed, ErrSolverFailed) && p.numTiers() == 2 {
		m = Exhaustive{}
		if out, err = (Exhaustive{}).over(p, feasible, all); err == nil {
			out.Status, out.Proven = Fallback, false
			out.Notes = append(out.Notes, fmt.Sprintf("%v; the plan is the exhaustive block-level optimum instead (cuts between blocks only)", failed))
		}
	}
	if err != nil {
		return nil, err
	}
	x := 1 / p.Links[0].UplinkMbps
	r := &Result{Status: out.Status, Method: m.Name(), Best: out.Best, Candidates: len(all),
		Proven: out.Proven, Objective: out.Objective, SolveMS: out.SolveMS, Solves: out.Solves, Notes: out.Notes}
	r.Baselines = p.baselines(x)
	r.Pareto = p.pareto(feasible, x)
	lo, hi := min(s.SweepFromMbps, p.Links[0].UplinkMbps), max(s.SweepToMbps, p.Links[0].UplinkMbps)
	if ilp, ok := m.(ILP); ok && (ilp.granularity() == LayerLevel || p.numTiers() > 2) {
		var info SweepInfo
		out.placement.order = len(all)
		r.Switch, info, err = ilp.sweep(p, append(feasible, out.placement), lo, hi)
		r.Solves += info.Solves
		r.Notes = append(r.Notes, info.Notes...)
	} else {
		r.Switch, err = p.sweep(feasible, lo, hi)
	}
	if err != nil {
		return nil, err
	}
	r.locate(p.Links[0].UplinkMbps)
	return r, nil
}

// locate sets the validity range of the best choice from the switch table.
func (r *Result) locate(uplink float64) {
	at := -1
	for i, sg := range r.Switch {
		if sg.FromMbps <= uplink && uplink <= sg.ToMbps {
			if at < 0 || sg.Placement.Equal(r.Best.Placement) {
				at = i
			}
		}
	}
	if at < 0 {
		return
	}
	r.ValidUplinkMbps = [2]float64{r.Switch[at].FromMbps, r.Switch[at].ToMbps}
	if at > 0 {
		r.Below = &r.Switch[at-1]
	}
	if at+1 < len(r.Switch) {
		r.Above = &r.Switch[at+1]
	}
}

// Exhaustive evaluates every choice: exact over single-tensor block cuts.
type Exhaustive struct{}

// Name implements Method.
func (Exhaustive) Name() string { return "exhaustive" }

// Optimize implements Method.
func (e Exhaustive) Optimize(p *Problem) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return Outcome{}, err
	}
	feasible, all := p.candidates()
	return e.over(p, feasible, all)
}

// over picks the best of candidates already built (Solve builds them once
// for the search, the Pareto set and the sweep).
func (Exhaustive) over(p *Problem, feasible, all []*candidate) (Outcome, error) {
	if p.numTiers() > 2 {
		return Outcome{}, fmt.Errorf("the exhaustive method places on a device and one server; %d tiers need the ILP (--solver ilp)", p.numTiers())
	}
	start := time.Now()
	x := 1 / p.Links[0].UplinkMbps
	best := p.bestAt(feasible, x)
	if best == nil {
		return Outcome{}, p.diagnose(all, x)
	}
	e := Evaluated{Placement: best.placement(p), Label: best.label, Cost: p.cost(best, x), Feasible: true}
	return Outcome{Best: e, Status: Optimal, Proven: true, Objective: e.Cost.Objective, Solves: 1,
		SolveMS: float64(time.Since(start).Microseconds()) / 1e3, placement: best}, nil
}

// bestAt is the best candidate meeting the deadline at x, nil if none.
func (p *Problem) bestAt(cands []*candidate, x float64) *candidate {
	var best *candidate
	for _, cd := range cands {
		if p.deadlineX(cd) >= x && (best == nil || p.better(cd, best, x)) {
			best = cd
		}
	}
	return best
}

// eps is the relative difference below which two objective values tie.
const eps = 1e-12

// better orders candidates at x: lower objective, then the one that gains
// as bandwidth drops (smaller slope in x), then enumeration order. The sweep
// uses the same order, so Solve and Sweep agree everywhere.
func (p *Problem) better(a, b *candidate, x float64) bool {
	va, sa := valueSlope(p.objective(a), x)
	vb, sb := valueSlope(p.objective(b), x)
	if math.Abs(va-vb) > eps*max(math.Abs(va), math.Abs(vb)) {
		return va < vb
	}
	if sa != sb {
		return sa < sb
	}
	return a.order < b.order
}

// valueSlope is the value of max(lines) at x and its right derivative.
func valueSlope(lines []line, x float64) (v, s float64) {
	v, s = math.Inf(-1), 0
	for _, l := range lines {
		y := l.at(x)
		if y > v || (y == v && l.b > s) {
			v, s = y, l.b
		}
	}
	return v, s
}

// baselines evaluates the three fixed strategies, feasible or not.
func (p *Problem) baselines(x float64) Baselines {
	g := p.Graph
	nb, nt := len(g.Blocks), len(g.Heads)
	heads := func(edge bool) []bool {
		h := make([]bool, nt)
		for i := range h {
			h[i] = edge
		}
		return h
	}
	// The fixed strategies exist whatever encodings the search may use.
	u := p.units(BlockLevel)
	eval := func(c blockChoice) Evaluated {
		cd := p.newCandidate(u, c, -1)
		return p.evaluate(&cd, x)
	}
	return Baselines{
		LocalOnly:  eval(blockChoice{cut: nb, headsOnEdge: heads(true)}),
		RemoteOnly: eval(blockChoice{cut: 0, enc: codec.Raw, headsOnEdge: heads(false)}),
		MTLSplit:   eval(blockChoice{cut: nb, enc: codec.FP32, headsOnEdge: heads(false)}),
	}
}

// evaluate costs a candidate at x and checks it against every constraint.
func (p *Problem) evaluate(cd *candidate, x float64) Evaluated {
	e := Evaluated{Placement: cd.placement(p), Label: cd.label, Cost: p.cost(cd, x), Violates: p.violation(cd)}
	if e.Violates == "" && p.deadlineX(cd) < x {
		e.Violates = ConstraintDeadline
	}
	e.Feasible = e.Violates == ""
	return e
}

// pareto keeps the feasible choices not dominated on (latency, bytes,
// lowest accuracy), fastest first.
func (p *Problem) pareto(feasible []*candidate, x float64) []Evaluated {
	// Costs first; only the front is placed (see candidate.placement).
	pts := make([]Evaluated, 0, len(feasible))
	var cds []*candidate
	for _, cd := range feasible {
		if p.deadlineX(cd) >= x {
			pts = append(pts, Evaluated{Label: cd.label, Cost: p.cost(cd, x), Feasible: true})
			cds = append(cds, cd)
		}
	}
	acc := func(e Evaluated) float64 {
		a := e.Cost.MinAccuracy()
		if math.IsNaN(a) {
			return 0
		}
		return a
	}
	ms, bytes, accs := make([]float64, len(pts)), make([]int64, len(pts)), make([]float64, len(pts))
	for i, e := range pts {
		ms[i], bytes[i], accs[i] = e.Cost.TotalMS, e.Cost.Bytes, acc(e)
	}
	var front []Evaluated
	for i, keep := range nonDominated(ms, bytes, accs) {
		if keep {
			pts[i].Placement = cds[i].placement(p)
			front = append(front, pts[i])
		}
	}
	sort.SliceStable(front, func(i, j int) bool { return front[i].Cost.TotalMS < front[j].Cost.TotalMS })
	return front
}

// String summarizes a result in one line.
func (r *Result) String() string {
	return fmt.Sprintf("%s %s: %s, %.3f ms", r.Method, r.Status, r.Best.Label, r.Best.Cost.TotalMS)
}

// BaselinesAt evaluates the three fixed strategies at an uplink bandwidth.
func (p *Problem) BaselinesAt(uplinkMbps float64) Baselines { return p.baselines(1 / uplinkMbps) }
