package milp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// solvers returns every Solver available in this build, by name. CBC is
// left out (with a log line) when the build has no cgo.
func solvers(t testing.TB) map[string]Solver {
	all := map[string]Solver{"Enumerate": Enumerate{}}
	m := &Model{}
	m.AddBinary("x")
	if _, err := (CBC{}).Solve(m, nil); errors.Is(err, ErrUnavailable) {
		t.Logf("CBC not in this build: %v", err)
	} else {
		all["CBC"] = CBC{}
	}
	return all
}

func needCBC(t testing.TB) {
	t.Helper()
	if _, ok := solvers(t)["CBC"]; !ok {
		t.Skip("CBC not available in this build")
	}
}

// TestConformance runs the table of known models against every solver, as
// gonum's testlp does for its LP solvers. Enumerate must refuse the models
// that are not pure binary.
func TestConformance(t *testing.T) {
	for name, s := range solvers(t) {
		t.Run(name, func(t *testing.T) { testSolver(t, s, name == "Enumerate") })
	}
}

func testSolver(t *testing.T, s Solver, binaryOnly bool) {
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build()
			sol, err := s.Solve(m, nil)
			if binaryOnly && !pureBinary(m) {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("err = %v, want ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			checkSolution(t, m, sol, tc.status, tc.obj)
			if tc.x != nil {
				for i, want := range tc.x {
					if math.Abs(sol.X[i]-want) > 1e-6 {
						t.Errorf("x[%s] = %g, want %g (x = %v)", m.Vars[i].Name, sol.X[i], want, sol.X)
					}
				}
			}
		})
	}
}

// checkSolution checks what holds for any solver's answer: the status, and
// for Optimal the objective, feasibility of X and the bookkeeping fields.
func checkSolution(t *testing.T, m *Model, sol *Solution, status Status, obj float64) {
	t.Helper()
	if sol.Status != status {
		t.Fatalf("status = %v, want %v", sol.Status, status)
	}
	if status != Optimal {
		if sol.X != nil {
			t.Errorf("X = %v for status %v, want nil", sol.X, status)
		}
		if !sol.Proven {
			t.Errorf("Proven = false for %v", status)
		}
		return
	}
	if math.Abs(sol.Objective-obj) > 1e-6*max(1, math.Abs(obj)) {
		t.Errorf("objective = %.10g, want %.10g", sol.Objective, obj)
	}
	if len(sol.X) != len(m.Vars) {
		t.Fatalf("len(X) = %d, want %d", len(sol.X), len(m.Vars))
	}
	if v := m.Violation(sol.X); v > 1e-6 {
		t.Errorf("X = %v violates the model by %g", sol.X, v)
	}
	for i, v := range m.Vars {
		if v.Integer && sol.X[i] != math.Round(sol.X[i]) {
			t.Errorf("integer var %s = %g, not rounded", v.Name, sol.X[i])
		}
	}
	if got := m.Eval(sol.X); got != sol.Objective {
		t.Errorf("Eval(X) = %g, Objective = %g", got, sol.Objective)
	}
	if !sol.Proven || sol.Bound > sol.Objective || sol.Gap > 1e-6 {
		t.Errorf("Proven = %t, Bound = %g, Gap = %g for objective %g", sol.Proven, sol.Bound, sol.Gap, sol.Objective)
	}
}

// randomBinary builds a random pure-binary program: n variables, a few rows
// of small integer coefficients, mixed senses.
func randomBinary(rng *rand.Rand, n int) *Model {
	m := &Model{Name: "random"}
	for i := range n {
		x := m.AddBinary(fmt.Sprintf("x%d", i))
		m.Objective = append(m.Objective, Term{x, float64(rng.IntN(21) - 10)})
	}
	rows := 1 + rng.IntN(4)
	for r := range rows {
		var row []Term
		sum := 0.0
		for i := range n {
			if rng.IntN(3) > 0 {
				c := float64(rng.IntN(19) - 9)
				row = append(row, Term{i, c})
				sum += math.Abs(c)
			}
		}
		if len(row) == 0 {
			row = append(row, Term{rng.IntN(n), 1})
			sum = 1
		}
		sense := Sense(rng.IntN(3))
		rhs := float64(rng.IntN(int(sum)+1)) - sum/4
		if sense == EQ {
			rhs = math.Round(rhs / 2)
		}
		m.AddRow(fmt.Sprintf("r%d", r), row, sense, rhs)
	}
	return m
}

// TestCBCMatchesEnumerate: on random small binary programs with fixed
// seeds, CBC's optimum equals brute force's, and both agree on
// infeasibility.
func TestCBCMatchesEnumerate(t *testing.T) {
	needCBC(t)
	counts := map[Status]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x6d696c70))
		m := randomBinary(rng, 1+rng.IntN(14))
		want, err := Enumerate{}.Solve(m, nil)
		if err != nil {
			t.Fatalf("seed %d: Enumerate: %v", seed, err)
		}
		got, err := CBC{}.Solve(m, nil)
		if err != nil {
			t.Fatalf("seed %d: CBC: %v", seed, err)
		}
		counts[want.Status]++
		if got.Status != want.Status {
			t.Errorf("seed %d: CBC status %v, Enumerate %v", seed, got.Status, want.Status)
			continue
		}
		if want.Status == Optimal {
			if math.Abs(got.Objective-want.Objective) > 1e-6 {
				t.Errorf("seed %d: CBC objective %g, Enumerate %g", seed, got.Objective, want.Objective)
			}
			if v := m.Violation(got.X); v > 1e-6 {
				t.Errorf("seed %d: CBC solution violates the model by %g", seed, v)
			}
		}
	}
	if counts[Optimal] < 50 || counts[Infeasible] < 20 {
		t.Errorf("random models too one-sided: %v", counts)
	}
}

// TestCBCConcurrent solves separate models from several goroutines.
func TestCBCConcurrent(t *testing.T) {
	needCBC(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(testCases))
	for g := range 4 {
		wg.Go(func() {
			for i := range testCases {
				tc := testCases[(i+g)%len(testCases)]
				sol, err := CBC{}.Solve(tc.build(), &Settings{Threads: g % 3})
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s: %w", tc.name, err)
				case sol.Status != tc.status:
					errs <- fmt.Errorf("%s: status %v, want %v", tc.name, sol.Status, tc.status)
				case tc.status == Optimal && math.Abs(sol.Objective-tc.obj) > 1e-6:
					errs <- fmt.Errorf("%s: objective %g, want %g", tc.name, sol.Objective, tc.obj)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// marketSplit builds a market-split instance (Cornuéjols–Dawande): m
// equality rows over 10(m−1) binaries. Such instances are notoriously hard
// for branch and bound, which makes them a good target for time limits.
func marketSplit(seed uint64, rows int) *Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	n := 10 * (rows - 1)
	m := &Model{Name: "market_split"}
	for j := range n {
		m.AddBinary(fmt.Sprintf("x%d", j))
	}
	for i := range rows {
		var row []Term
		sum := 0.0
		for j := range n {
			c := float64(rng.IntN(100))
			row = append(row, Term{j, c})
			sum += c
		}
		// Slack pair so the model is feasible: minimize the deviation.
		sp := m.AddVar(fmt.Sprintf("s_plus%d", i), 0, inf, false)
		sm := m.AddVar(fmt.Sprintf("s_minus%d", i), 0, inf, false)
		row = append(row, Term{sp, 1}, Term{sm, -1})
		m.Objective = append(m.Objective, Term{sp, 1}, Term{sm, 1})
		m.AddRow(fmt.Sprintf("split%d", i), row, EQ, math.Floor(sum/2))
	}
	return m
}

// TestCBCTimeLimit stops a hard search early. It asserts nothing about time,
// only that a stopped search reports itself consistently.
func TestCBCTimeLimit(t *testing.T) {
	needCBC(t)
	m := marketSplit(7, 5)
	sol, err := CBC{}.Solve(m, &Settings{TimeLimit: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status %v, objective %g, bound %g, gap %g, nodes %d, %v",
		sol.Status, sol.Objective, sol.Bound, sol.Gap, sol.Nodes, sol.Elapsed)
	switch sol.Status {
	case Feasible:
		if sol.Proven {
			t.Error("Proven = true for a search stopped by the time limit")
		}
		if v := m.Violation(sol.X); v > 1e-6 {
			t.Errorf("incumbent violates the model by %g", v)
		}
		if sol.Bound > sol.Objective+1e-6 {
			t.Errorf("bound %g above incumbent %g", sol.Bound, sol.Objective)
		}
	case Optimal:
		t.Log("CBC finished within the limit; nothing stopped")
	default:
		t.Errorf("status %v, want feasible (slacks make any 0/1 point feasible)", sol.Status)
	}
}

// TestCBCRelGap: with a loose gap CBC may stop early but must stay within it.
func TestCBCRelGap(t *testing.T) {
	needCBC(t)
	m := knapsack(300, 11)
	exact, err := CBC{}.Solve(m, nil)
	if err != nil || exact.Status != Optimal {
		t.Fatalf("exact: %v %v", exact, err)
	}
	loose, err := CBC{}.Solve(m, &Settings{RelGap: 0.05})
	if err != nil || loose.Status != Optimal {
		t.Fatalf("loose: %v %v", loose, err)
	}
	if loose.Objective > exact.Objective+0.05*math.Abs(exact.Objective)+1e-6 {
		t.Errorf("with RelGap 0.05, objective %g; exact optimum %g", loose.Objective, exact.Objective)
	}
}

func TestBadInput(t *testing.T) {
	good := func() *Model {
		m := &Model{Name: "good"}
		x := m.AddBinary("x")
		m.Objective = ones(x)
		m.AddRow("r", ones(x), LE, 1)
		return m
	}
	tests := []struct {
		name     string
		edit     func(m *Model)
		settings *Settings
		want     string
	}{
		{"no vars", func(m *Model) { *m = Model{} }, nil, "no variables"},
		{"empty var name", func(m *Model) { m.Vars[0].Name = "" }, nil, "empty name"},
		{"duplicate var", func(m *Model) { m.AddBinary("x") }, nil, `name "x" already used by var 0`},
		{"duplicate row", func(m *Model) { m.AddRow("r", ones(0), GE, 0) }, nil, `name "r" already used by row 0`},
		{"space in name", func(m *Model) { m.Vars[0].Name = "a b" }, nil, "character ' ' not allowed"},
		{"leading digit", func(m *Model) { m.Rows[0].Name = "1r" }, nil, "must start with a letter"},
		{"keyword", func(m *Model) { m.Vars[0].Name = "Bounds" }, nil, "LP keyword"},
		{"exponent", func(m *Model) { m.Vars[0].Name = "e12" }, nil, "exponent"},
		{"long name", func(m *Model) { m.Vars[0].Name = strings.Repeat("x", 256) }, nil, "longer than 255"},
		{"lo > hi", func(m *Model) { m.Vars[0].Lower = 2 }, nil, "lower bound 2 above upper bound 1"},
		{"NaN bound", func(m *Model) { m.Vars[0].Upper = math.NaN() }, nil, "NaN bound"},
		{"lo = +Inf", func(m *Model) { m.Vars[0].Lower, m.Vars[0].Upper = inf, inf }, nil, "leave no value"},
		{"var out of range", func(m *Model) { m.Rows[0].Terms = ones(1) }, nil, "var index 1 out of range [0, 1)"},
		{"negative var", func(m *Model) { m.Objective = ones(-1) }, nil, "objective: term 0: var index -1"},
		{"inf coef", func(m *Model) { m.Rows[0].Terms[0].Coef = inf }, nil, "coefficient +Inf not finite"},
		{"inf rhs", func(m *Model) { m.Rows[0].RHS = -inf }, nil, "right-hand side -Inf not finite"},
		{"bad sense", func(m *Model) { m.Rows[0].Sense = 7 }, nil, "unknown sense 7"},
		{"empty row", func(m *Model) { m.Rows[0].Terms = nil }, nil, `row "r": no terms`},
		{"NaN const", func(m *Model) { m.ObjConst = math.NaN() }, nil, "objective constant NaN"},
		{"two problems", func(m *Model) { m.Vars[0].Name = ""; m.Rows[0].RHS = math.NaN() }, nil, "2 problems"},
		{"negative time", nil, &Settings{TimeLimit: -time.Second}, "negative time limit"},
		{"negative gap", nil, &Settings{RelGap: -0.1}, "relative gap"},
		{"too many threads", nil, &Settings{Threads: 1000}, "threads"},
	}
	for name, s := range solvers(t) {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				m := good()
				if tt.edit != nil {
					tt.edit(m)
				}
				_, err := s.Solve(m, tt.settings)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.want)
				}
				if tt.settings == nil {
					var ve *ValidationError
					if !errors.As(err, &ve) {
						t.Errorf("err is %T, want *ValidationError", err)
					}
				}
			})
		}
	}
}

func TestEnumerateUnsupported(t *testing.T) {
	m := &Model{}
	for i := range MaxEnumerateVars + 1 {
		m.AddBinary(fmt.Sprintf("x%d", i))
	}
	if _, err := (Enumerate{}).Solve(m, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("%d vars: err = %v, want ErrUnsupported", len(m.Vars), err)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{
		Error: "error", Optimal: "optimal", Feasible: "feasible", Infeasible: "infeasible",
		Unbounded: "unbounded", TimeLimit: "time limit", Status(42): "Status(42)",
	} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
