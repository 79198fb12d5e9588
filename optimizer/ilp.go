package optimizer

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/profile"
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

// formulation is the MILP of a problem and the map back to a placement.
type formulation struct {
	p     *Problem
	u     *units
	model milp.Model
	s     []int           // per unit: 1 = on the server (-1 for the input)
	c     [][]encodingVar // per unit: encodings its output may cross in
	y     int             // anything is sent
	pv    map[int]int     // per head unit before the last: its p variable
	t     int             // makespan, -1 if absent
	tt    []int           // per task completion time (weighted objective)
	has   map[string]bool // constraint groups present
}

type encodingVar struct {
	enc profile.Encoding
	v   int
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

// formulate builds the MILP at x = 1/uplink, leaving out the constraint
// groups in drop. Variables: s_u (unit u on the server), c_u_e (u's output
// crosses in encoding e), y (anything is sent), p_u (edge part of a head
// whose result comes from the server), T (makespan) and T_t (task times).
func (p *Problem) formulate(gr Granularity, x float64, drop map[string]bool) *formulation {
	u := p.units(gr)
	f := &formulation{p: p, u: u, s: make([]int, len(u.name)), c: make([][]encodingVar, len(u.name)), t: -1, has: map[string]bool{}}
	m := &f.model
	m.Name = safeName(p.Graph.Name + "_" + string(gr))
	type T = milp.Term
	// Placement and precedence: no tensor travels back towards the device.
	f.s[0] = -1
	for i := 1; i < len(u.name); i++ {
		f.s[i] = m.AddBinary(fmt.Sprintf("s_%d_%s", i, safeName(u.name[i])))
	}
	sTerm := func(i int, coef float64) []T {
		if f.s[i] < 0 {
			return nil
		}
		return []T{{Var: f.s[i], Coef: coef}}
	}
	for i := range u.name {
		for _, c := range u.consumers[i] {
			if f.s[i] >= 0 {
				m.AddRow(fmt.Sprintf("prec_%d_%d", i, c), append(sTerm(c, 1), sTerm(i, -1)...), milp.GE, 0)
			}
		}
	}
	// Crossing tensors and their encodings.
	y := m.AddBinary("y_send")
	f.y = y
	floors := len(p.Constraints.MinAccuracy) > 0 && !drop[ConstraintAccuracy]
	for i := range u.name {
		if len(u.consumers[i]) == 0 {
			continue
		}
		encs := p.Encodings
		if i == 0 {
			encs = []profile.Encoding{profile.Raw}
		}
		var sum []T
		for _, e := range encs {
			hi := 1.0
			if floors && !p.meetsFloors(u, i, e) {
				hi = 0
				f.has[ConstraintAccuracy] = true
			}
			v := m.AddVar(fmt.Sprintf("c_%d_%s_%s", i, e, safeName(u.name[i])), 0, hi, true)
			f.c[i] = append(f.c[i], encodingVar{e, v})
			sum = append(sum, T{Var: v, Coef: 1})
		}
		m.AddRow(fmt.Sprintf("one_enc_%d", i), sum, milp.LE, 1)
		for _, c := range u.consumers[i] {
			row := append(append([]T(nil), sum...), sTerm(c, -1)...)
			row = append(row, sTerm(i, 1)...)
			m.AddRow(fmt.Sprintf("cross_%d_%d", i, c), row, milp.GE, 0)
		}
	}
	// Something is sent exactly when a sink (a task's result, or a unit
	// nobody reads) is on the server: every unit on the server has a sink
	// below it on the server, since nothing returns to the edge.
	for i := 1; i < len(u.name); i++ {
		if len(u.consumers[i]) == 0 {
			m.AddRow(fmt.Sprintf("send_%d", i), append([]T{{Var: y, Coef: 1}}, sTerm(i, -1)...), milp.GE, 0)
		}
	}
	// Edge parts of heads whose result comes from the server run before
	// sending: p_u = s_last − s_u.
	pv := map[int]int{}
	f.pv = pv
	for t := range u.heads {
		last := u.last(t)
		for _, i := range u.heads[t][:len(u.heads[t])-1] {
			pv[i] = m.AddVar(fmt.Sprintf("p_%d", i), 0, 1, false)
			m.AddRow(fmt.Sprintf("before_send_%d", i), append(append([]T{{Var: pv[i], Coef: 1}}, sTerm(i, 1)...), sTerm(last, -1)...), milp.GE, 0)
		}
	}
	// Affine pieces as (terms, constant).
	var backboneEdge, encode, beforeSend, serverPath, transfer []T
	var backboneConst float64
	for i := range u.name {
		if u.task[i] < 0 {
			backboneConst += u.edgeMS[i]
			backboneEdge = append(backboneEdge, sTerm(i, -u.edgeMS[i])...)
		}
		serverPath = append(serverPath, sTerm(i, u.serverMS[i])...)
		if v, ok := pv[i]; ok {
			beforeSend = append(beforeSend, T{Var: v, Coef: u.edgeMS[i]})
		}
		for _, ev := range f.c[i] {
			bytes := float64(ev.enc.Bytes(u.elems[i]))
			transfer = append(transfer, T{Var: ev.v, Coef: bytes * msPerMbps * x})
			if ev.enc != profile.FP32 && ev.enc != profile.Raw {
				encode = append(encode, T{Var: ev.v, Coef: p.Edge.Cost.ElementwiseMS(u.elems[i])})
				serverPath = append(serverPath, T{Var: ev.v, Coef: p.Server.Cost.ElementwiseMS(u.elems[i])})
			}
		}
	}
	serverPath = append(serverPath, T{Var: y, Coef: p.Network.RTTMS})
	for t, h := range p.Graph.Heads {
		serverPath = append(serverPath, sTerm(u.last(t), float64(resultBytes(h.Classes))*msPerMbps/p.Network.DownlinkMbps)...)
	}
	// Edge time of every head unit, and of task t's head alone, as terms
	// and constants (1 − s_u).
	headEdge := func(t int) ([]T, float64) {
		var terms []T
		var k float64
		for _, i := range u.heads[t] {
			k += u.edgeMS[i]
			terms = append(terms, sTerm(i, -u.edgeMS[i])...)
		}
		return terms, k
	}
	join := func(parts ...[]T) []T {
		var out []T
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	var allHeads []T
	var allHeadsConst float64
	for t := range u.heads {
		terms, k := headEdge(t)
		allHeads, allHeadsConst = append(allHeads, terms...), allHeadsConst+k
	}
	// Makespan: T ≥ edge does everything; T ≥ the server path.
	needT := p.Objective == Latency || (p.Constraints.DeadlineMS > 0 && !drop[ConstraintDeadline])
	if needT {
		tv := m.AddVar("T_makespan", 0, math.Inf(1), false)
		f.t = tv
		neg := []T{{Var: tv, Coef: -1}}
		m.AddRow("makespan_edge", join(neg, backboneEdge, encode, allHeads), milp.LE, -(backboneConst + allHeadsConst))
		m.AddRow("makespan_server", join(neg, backboneEdge, encode, beforeSend, serverPath, transfer), milp.LE, -backboneConst)
		if p.Constraints.DeadlineMS > 0 && !drop[ConstraintDeadline] {
			m.AddRow("deadline", []T{{Var: tv, Coef: 1}}, milp.LE, p.Constraints.DeadlineMS)
			f.has[ConstraintDeadline] = true
		}
		if p.Objective == Latency {
			m.Objective = []T{{Var: tv, Coef: 1}}
		}
	}
	switch p.Objective {
	case Energy:
		m.Objective = join(scale(join(backboneEdge, encode, allHeads), p.Edge.ActivePowerW), scale(transfer, p.Network.TxPowerW))
		m.ObjConst = p.Edge.ActivePowerW * (backboneConst + allHeadsConst)
	case Weighted:
		bigM := backboneConst + allHeadsConst + p.Network.RTTMS
		for _, t := range join(serverPath, transfer, encode) {
			bigM += math.Abs(t.Coef)
		}
		var cum []T
		var cumConst float64
		for t := range u.heads {
			w := 1.0
			if p.TaskWeights != nil {
				w = p.TaskWeights[t]
			}
			terms, k := headEdge(t)
			// (1 − s_u) − p_u for the units of head t: its edge time when
			// t is an edge task, zero otherwise.
			for _, i := range u.heads[t] {
				if v, ok := pv[i]; ok {
					terms = append(terms, T{Var: v, Coef: -u.edgeMS[i]})
				}
			}
			cum, cumConst = append(cum, terms...), cumConst+k
			tt := m.AddVar(fmt.Sprintf("T_task%d", t+1), 0, math.Inf(1), false)
			f.tt = append(f.tt, tt)
			neg := []T{{Var: tt, Coef: -1}}
			last := u.last(t)
			m.AddRow(fmt.Sprintf("task%d_edge", t+1), join(neg, backboneEdge, encode, beforeSend, cum, sTerm(last, -bigM)), milp.LE, -(backboneConst + cumConst))
			m.AddRow(fmt.Sprintf("task%d_server", t+1), join(neg, backboneEdge, encode, beforeSend, serverPath, transfer, sTerm(last, bigM)), milp.LE, -backboneConst+bigM)
			m.Objective = append(m.Objective, T{Var: tt, Coef: w})
		}
	}
	if p.Constraints.MaxBytes > 0 && !drop[ConstraintBytes] {
		var row []T
		for i := range u.name {
			for _, ev := range f.c[i] {
				row = append(row, T{Var: ev.v, Coef: float64(ev.enc.Bytes(u.elems[i]))})
			}
		}
		m.AddRow("max_bytes", row, milp.LE, float64(p.Constraints.MaxBytes))
		f.has[ConstraintBytes] = true
	}
	if p.Constraints.MaxEdgeMemoryBytes > 0 && !drop[ConstraintMemory] {
		f.addMemoryRows()
	}
	return f
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
func (p *Problem) meetsFloors(u *units, i int, e profile.Encoding) bool {
	if e == profile.FP32 || e == profile.Raw {
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

// addMemoryRows bounds edge memory: weights of the edge units plus, for
// every node run on the edge, the activations alive while it runs. Live
// sets are those of a full edge run — a superset of any partial run's — so
// the bound is safe (never admits a placement that does not fit).
func (f *formulation) addMemoryRows() {
	p, u, m := f.p, f.u, &f.model
	g := p.Graph
	bpe := float64(p.Edge.Cost.BytesPerElem)
	unitOf := make([]int, len(g.Nodes))
	var weights []milp.Term
	var weightsConst float64
	for i, nodes := range u.nodes {
		var w float64
		for _, n := range nodes {
			unitOf[n] = i
			w += float64(g.Nodes[n].Params) * bpe
		}
		weightsConst += w
		if f.s[i] >= 0 && w > 0 {
			weights = append(weights, milp.Term{Var: f.s[i], Coef: -w})
		}
	}
	all := make([]bool, len(g.Nodes))
	for i := range all {
		all[i] = true
	}
	live := profile.LiveBytes(g, all, int(bpe))
	limit := float64(p.Constraints.MaxEdgeMemoryBytes)
	for n, l := range live {
		if weightsConst+float64(l) <= limit {
			continue // never binding
		}
		row := append([]milp.Term(nil), weights...)
		if s := f.s[unitOf[n]]; s >= 0 {
			row = append(row, milp.Term{Var: s, Coef: -float64(l)})
		}
		m.AddRow(fmt.Sprintf("memory_%d", n), row, milp.LE, limit-weightsConst-float64(l))
		f.has[ConstraintMemory] = true
	}
}

// candidate reads a solution back as a placement and costs it with the
// shared cost model.
func (f *formulation) candidate(x []float64) candidate {
	u := f.u
	pl := Placement{OnServer: make([]bool, len(u.name)), Encoding: make([]profile.Encoding, len(u.name))}
	for i, v := range f.s {
		pl.OnServer[i] = v >= 0 && x[v] > 0.5
	}
	for i := range u.name {
		if !u.crosses(pl, i) {
			continue
		}
		for _, ev := range f.c[i] {
			if x[ev.v] > 0.5 {
				pl.Encoding[i] = ev.enc
			}
		}
	}
	return f.p.candidateOf(u, pl, f.p.choiceOf(u, pl), 0)
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

// start is the MILP point of a candidate placed on f's units (nil if the
// placement does not fit them): a warm start for the solver.
func (f *formulation) start(cd *candidate, x float64) []float64 {
	u := f.u
	if len(cd.placement.OnServer) != len(u.name) {
		return nil
	}
	v := make([]float64, len(f.model.Vars))
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	pl := cd.placement
	for i, sv := range f.s {
		if sv >= 0 {
			v[sv] = b2f(pl.OnServer[i])
		}
		for _, ev := range f.c[i] {
			if pl.Encoding[i] == ev.enc {
				v[ev.v] = 1
				v[f.y] = 1
			}
		}
	}
	for t := range u.heads {
		last := u.last(t)
		for _, i := range u.heads[t] {
			if pv, ok := f.pv[i]; ok {
				v[pv] = b2f(pl.OnServer[last]) - b2f(pl.OnServer[i])
			}
		}
	}
	const slack = 1 + 1e-9
	if f.t >= 0 {
		v[f.t] = maxAt(cd.tasks, x) * slack
	}
	for t, tv := range f.tt {
		v[tv] = cd.tasks[t].at(x) * slack
	}
	return v
}

// layerStart is the exhaustive block-level optimum as a layer placement, to
// warm-start the layer-level MILP (nil when there is none).
func (p *Problem) layerStart(f *formulation, x float64) []float64 {
	feasible, _ := p.candidates()
	best := p.bestAt(feasible, x)
	if best == nil {
		return nil
	}
	bu := p.units(BlockLevel)
	pl := Placement{OnServer: make([]bool, len(f.u.name)), Encoding: make([]profile.Encoding, len(f.u.name))}
	for i, nodes := range bu.nodes {
		for _, n := range nodes {
			pl.OnServer[n] = best.placement.OnServer[i]
		}
		if e := best.placement.Encoding[i]; e != "" {
			pl.Encoding[nodes[len(nodes)-1]] = e
		}
	}
	cd := p.candidateOf(f.u, pl, best.Choice, 0)
	return f.start(&cd, x)
}
