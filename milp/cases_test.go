package milp

import (
	"fmt"
	"math"
)

// testCase is a named model with its known answer. Every optimum here was
// worked out by hand (see the comments) and is also checked by Enumerate
// where the model is pure binary, by CBC, and by glpsol on the exported files.
type testCase struct {
	name   string
	build  func() *Model
	status Status
	obj    float64   // for Optimal
	x      []float64 // for Optimal, when the optimum is unique; nil to skip
}

var inf = math.Inf(1)

func terms(vars []int, coefs ...float64) []Term {
	t := make([]Term, len(vars))
	for i, v := range vars {
		t[i] = Term{Var: v, Coef: coefs[i]}
	}
	return t
}

func ones(vars ...int) []Term {
	t := make([]Term, len(vars))
	for i, v := range vars {
		t[i] = Term{Var: v, Coef: 1}
	}
	return t
}

var testCases = []testCase{
	{
		// Values 60, 100, 120, weights 10, 20, 30, capacity 50: take items 1
		// and 2 (weight 50, value 220); items 0+2 give 180, 0+1 give 160.
		name: "knapsack3",
		build: func() *Model {
			m := &Model{Name: "knapsack3"}
			v, w := []float64{60, 100, 120}, []float64{10, 20, 30}
			var row []Term
			for i := range v {
				x := m.AddBinary(fmt.Sprintf("x%d", i))
				m.Objective = append(m.Objective, Term{x, -v[i]})
				row = append(row, Term{x, w[i]})
			}
			m.AddRow("capacity", row, LE, 50)
			return m
		},
		status: Optimal, obj: -220, x: []float64{0, 1, 1},
	},
	{
		// Eight items, capacity 100. Best: items 0, 2, 3, 6 (weights
		// 23+25+20+31 = 99, values 92+49+68+79 = 288); found by Enumerate
		// and confirmed by CBC and glpsol.
		name: "knapsack8",
		build: func() *Model {
			m := &Model{Name: "knapsack8"}
			v := []float64{92, 57, 49, 68, 60, 43, 79, 51}
			w := []float64{23, 31, 25, 20, 45, 32, 31, 39}
			var row []Term
			for i := range v {
				x := m.AddBinary(fmt.Sprintf("item_%d", i))
				m.Objective = append(m.Objective, Term{x, -v[i]})
				row = append(row, Term{x, w[i]})
			}
			m.AddRow("capacity", row, LE, 100)
			return m
		},
		status: Optimal, obj: -288, x: []float64{1, 0, 1, 1, 0, 0, 1, 0},
	},
	{
		// Universe {1..6}; sets A={1,2,3} 5, B={2,4} 3, C={3,4,5} 4,
		// D={5,6} 3, E={1,6} 4, F={4,5,6} 4. A+F covers all for 9; no
		// two sets cheaper than 9 cover, and one set never covers.
		name: "setcover",
		build: func() *Model {
			m := &Model{Name: "setcover"}
			sets := [][]int{{1, 2, 3}, {2, 4}, {3, 4, 5}, {5, 6}, {1, 6}, {4, 5, 6}}
			cost := []float64{5, 3, 4, 3, 4, 4}
			for i := range sets {
				x := m.AddBinary(fmt.Sprintf("set_%c", 'A'+i))
				m.Objective = append(m.Objective, Term{x, cost[i]})
			}
			for e := 1; e <= 6; e++ {
				var row []Term
				for i, s := range sets {
					for _, f := range s {
						if f == e {
							row = append(row, Term{i, 1})
						}
					}
				}
				m.AddRow(fmt.Sprintf("cover_%d", e), row, GE, 1)
			}
			return m
		},
		status: Optimal, obj: 9,
	},
	{
		// Costs [[9 2 7] [6 4 3] [5 8 1]]: a0→1, a1→0, a2→2 costs
		// 2+6+1 = 9; the other five permutations cost 10, 14, 16, 20, 21.
		name: "assignment3",
		build: func() *Model {
			m := &Model{Name: "assignment3"}
			c := [3][3]float64{{9, 2, 7}, {6, 4, 3}, {5, 8, 1}}
			x := [3][3]int{}
			for i := range 3 {
				for j := range 3 {
					x[i][j] = m.AddBinary(fmt.Sprintf("x_%d_%d", i, j))
					m.Objective = append(m.Objective, Term{x[i][j], c[i][j]})
				}
			}
			for i := range 3 {
				m.AddRow(fmt.Sprintf("agent_%d", i), ones(x[i][0], x[i][1], x[i][2]), EQ, 1)
				m.AddRow(fmt.Sprintf("job_%d", i), ones(x[0][i], x[1][i], x[2][i]), EQ, 1)
			}
			return m
		},
		status: Optimal, obj: 9, x: []float64{0, 1, 0, 1, 0, 0, 0, 0, 1},
	},
	{
		// Two binaries cannot sum to 3.
		name: "infeasible_binary",
		build: func() *Model {
			m := &Model{Name: "infeasible_binary"}
			x, y := m.AddBinary("x"), m.AddBinary("y")
			m.Objective = ones(x, y)
			m.AddRow("too_much", ones(x, y), GE, 3)
			return m
		},
		status: Infeasible,
	},
	{
		// x + y ≥ 2 and x + y ≤ 1 with continuous x, y: infeasible LP.
		name: "infeasible_lp",
		build: func() *Model {
			m := &Model{Name: "infeasible_lp"}
			x, y := m.AddVar("x", 0, inf, false), m.AddVar("y", 0, inf, false)
			m.Objective = ones(x)
			m.AddRow("lo", ones(x, y), GE, 2)
			m.AddRow("hi", ones(x, y), LE, 1)
			return m
		},
		status: Infeasible,
	},
	{
		// 2x = 1 with integer x: the LP relaxation is feasible, the MIP not.
		name: "infeasible_integer",
		build: func() *Model {
			m := &Model{Name: "infeasible_integer"}
			x := m.AddVar("x", 0, 10, true)
			m.Objective = ones(x)
			m.AddRow("half", terms([]int{x}, 2), EQ, 1)
			return m
		},
		status: Infeasible,
	},
	{
		// min −x s.t. x − y ≤ 1, x, y ≥ 0: x = y + 1 grows without limit.
		name: "unbounded_lp",
		build: func() *Model {
			m := &Model{Name: "unbounded_lp"}
			x, y := m.AddVar("x", 0, inf, false), m.AddVar("y", 0, inf, false)
			m.Objective = terms([]int{x}, -1)
			m.AddRow("r", terms([]int{x, y}, 1, -1), LE, 1)
			return m
		},
		status: Unbounded,
	},
	{
		// The same with integer x, y.
		name: "unbounded_mip",
		build: func() *Model {
			m := &Model{Name: "unbounded_mip"}
			x, y := m.AddVar("x", 0, inf, true), m.AddVar("y", 0, inf, true)
			m.Objective = terms([]int{x}, -1)
			m.AddRow("r", terms([]int{x, y}, 1, -2), LE, 0)
			return m
		},
		status: Unbounded,
	},
	{
		// x1+x2+x3 = 2 and x1+x3 = 1 force x2 = 1 and one of x1, x3:
		// min 3x1+2x2+4x3 = 5 with x1 = 1.
		name: "equality",
		build: func() *Model {
			m := &Model{Name: "equality"}
			x1, x2, x3 := m.AddBinary("x1"), m.AddBinary("x2"), m.AddBinary("x3")
			m.Objective = terms([]int{x1, x2, x3}, 3, 2, 4)
			m.AddRow("two", ones(x1, x2, x3), EQ, 2)
			m.AddRow("one", ones(x1, x3), EQ, 1)
			return m
		},
		status: Optimal, obj: 5, x: []float64{1, 1, 0},
	},
	{
		// Taha's example: max 5x+4y s.t. 6x+4y ≤ 24, x+2y ≤ 6, x, y ≥ 0
		// integer. The LP optimum (3, 1.5) = 21 is fractional; the
		// integer optimum is (4, 0) = 20.
		name: "general_integer",
		build: func() *Model {
			m := &Model{Name: "general_integer"}
			x, y := m.AddVar("x", 0, inf, true), m.AddVar("y", 0, inf, true)
			m.Objective = terms([]int{x, y}, -5, -4)
			m.AddRow("c1", terms([]int{x, y}, 6, 4), LE, 24)
			m.AddRow("c2", terms([]int{x, y}, 1, 2), LE, 6)
			return m
		},
		status: Optimal, obj: -20, x: []float64{4, 0},
	},
	{
		// An integer in [−10, 10] at least −3.5: the least is −3.
		name: "negative_integer",
		build: func() *Model {
			m := &Model{Name: "negative_integer"}
			x := m.AddVar("x", -10, 10, true)
			m.Objective = ones(x)
			m.AddRow("floor", ones(x), GE, -3.5)
			return m
		},
		status: Optimal, obj: -3, x: []float64{-3},
	},
	{
		// min y s.t. y ≥ x − 2, y ≥ −x with x free and y free: the
		// lines cross at x = 1, y = −1.
		name: "free_lp",
		build: func() *Model {
			m := &Model{Name: "free_lp"}
			x, y := m.AddVar("x", -inf, inf, false), m.AddVar("y", -inf, inf, false)
			m.Objective = ones(y)
			m.AddRow("a", terms([]int{y, x}, 1, -1), GE, -2)
			m.AddRow("b", terms([]int{y, x}, 1, 1), GE, 0)
			return m
		},
		status: Optimal, obj: -1, x: []float64{1, -1},
	},
	{
		// Facility location, continuous flows and binary openings: demand
		// 10; f1 fixed 20, unit 2, capacity 8; f2 fixed 30, unit 1,
		// capacity 15. Only f2: 30+10 = 40; f1 alone cannot serve; both
		// cost at least 50.
		name: "facility_mix",
		build: func() *Model {
			m := &Model{Name: "facility_mix"}
			y1, y2 := m.AddBinary("open1"), m.AddBinary("open2")
			x1, x2 := m.AddVar("flow1", 0, inf, false), m.AddVar("flow2", 0, inf, false)
			m.Objective = terms([]int{y1, y2, x1, x2}, 20, 30, 2, 1)
			m.AddRow("demand", ones(x1, x2), EQ, 10)
			m.AddRow("cap1", terms([]int{x1, y1}, 1, -8), LE, 0)
			m.AddRow("cap2", terms([]int{x2, y2}, 1, -15), LE, 0)
			return m
		},
		status: Optimal, obj: 40, x: []float64{0, 1, 0, 10},
	},
	{
		// Big-M min-max: each of 4 tasks runs on the edge (x=1, cost a)
		// or the server (x=0, cost b); at most one on the edge; minimize
		// the largest cost t. t ≥ a_i − M(1−x_i), t ≥ b_i − M·x_i. Task 2
		// on the edge gives max(6, 5, 3, 2) = 6; every other choice ≥ 8.
		name: "bigM_makespan",
		build: func() *Model {
			m := &Model{Name: "bigM_makespan"}
			a, b := []float64{4, 7, 3, 9}, []float64{6, 5, 8, 2}
			const bigM = 100
			t := m.AddVar("t", 0, inf, false)
			m.Objective = ones(t)
			var edge []Term
			for i := range a {
				x := m.AddBinary(fmt.Sprintf("edge_%d", i))
				edge = append(edge, Term{x, 1})
				// t − M·x ≥ a − M  and  t + M·x ≥ b
				m.AddRow(fmt.Sprintf("on_edge_%d", i), terms([]int{t, x}, 1, -bigM), GE, a[i]-bigM)
				m.AddRow(fmt.Sprintf("on_server_%d", i), terms([]int{t, x}, 1, bigM), GE, b[i])
			}
			m.AddRow("edge_budget", edge, LE, 1)
			return m
		},
		status: Optimal, obj: 6, x: []float64{6, 0, 0, 1, 0},
	},
	{
		// Two machines, jobs 3, 5, 2, 4, 6 (total 20): makespan
		// t ≥ Σ p·x, t ≥ Σ p·(1−x), integer t; 10 is reachable (4+6).
		name: "makespan_two_machines",
		build: func() *Model {
			m := &Model{Name: "makespan_two_machines"}
			p := []float64{3, 5, 2, 4, 6}
			t := m.AddVar("t", 0, 100, true)
			m.Objective = ones(t)
			one, other := []Term{{t, 1}}, []Term{{t, 1}}
			for i, d := range p {
				x := m.AddBinary(fmt.Sprintf("on0_%d", i))
				one = append(one, Term{x, -d})
				other = append(other, Term{x, d})
			}
			m.AddRow("machine0", one, GE, 0)
			m.AddRow("machine1", other, GE, 20)
			return m
		},
		status: Optimal, obj: 10,
	},
	{
		// ObjConst and a variable repeated in a row (x + x ≤ 1 means
		// x = 0): min 7 − x − y with x, y binary is 6.
		name: "const_and_repeats",
		build: func() *Model {
			m := &Model{Name: "const_and_repeats", ObjConst: 7}
			x, y := m.AddBinary("x"), m.AddBinary("y")
			m.Objective = terms([]int{x, y}, -1, -1)
			m.AddRow("twice", ones(x, x), LE, 1)
			return m
		},
		status: Optimal, obj: 6, x: []float64{0, 1},
	},
	{
		// No rows at all, and a binary fixed at 1 by its bounds.
		name: "no_rows",
		build: func() *Model {
			m := &Model{Name: "no_rows"}
			x, y, z := m.AddBinary("x"), m.AddBinary("y"), m.AddVar("z", 1, 1, true)
			m.Objective = terms([]int{x, y, z}, 1, -1, 2)
			return m
		},
		status: Optimal, obj: 1, x: []float64{0, 1, 1},
	},
}

// pureBinary reports whether Enumerate can solve m.
func pureBinary(m *Model) bool {
	if len(m.Vars) > MaxEnumerateVars {
		return false
	}
	for _, v := range m.Vars {
		if !v.Integer || v.Lower <= -1 || v.Upper >= 2 {
			return false
		}
	}
	return true
}
