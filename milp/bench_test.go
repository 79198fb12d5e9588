package milp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// knapsack builds a 0/1 knapsack with n items, weights and values in
// [10, 100), capacity half the total weight.
func knapsack(n int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 2))
	m := &Model{Name: fmt.Sprintf("knapsack_%d", n)}
	var row []Term
	total := 0.0
	for i := range n {
		x := m.AddBinary(fmt.Sprintf("x%d", i))
		w, v := float64(10+rng.IntN(90)), float64(10+rng.IntN(90))
		m.Objective = append(m.Objective, Term{x, -v})
		row = append(row, Term{x, w})
		total += w
	}
	m.AddRow("capacity", row, LE, math.Floor(total/2))
	return m
}

// assignment builds an n×n assignment problem (n² binaries) with random
// costs in [1, 100).
func assignment(n int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := &Model{Name: fmt.Sprintf("assignment_%d", n)}
	for i := range n {
		for j := range n {
			x := m.AddBinary(fmt.Sprintf("x_%d_%d", i, j))
			m.Objective = append(m.Objective, Term{x, float64(1 + rng.IntN(99))})
		}
	}
	for i := range n {
		row, col := make([]Term, n), make([]Term, n)
		for j := range n {
			row[j] = Term{i*n + j, 1}
			col[j] = Term{j*n + i, 1}
		}
		m.AddRow(fmt.Sprintf("agent_%d", i), row, EQ, 1)
		m.AddRow(fmt.Sprintf("job_%d", i), col, EQ, 1)
	}
	return m
}

// placement builds a model shaped like the optimizer's: n binaries in a
// chain of precedence rows x_i ≥ x_{i+1} (once on the server, stay there),
// a continuous makespan t ≥ each of k big-M task rows, and a byte budget.
func placement(n, k int, seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 4))
	m := &Model{Name: fmt.Sprintf("placement_%d", n)}
	for i := range n {
		m.AddBinary(fmt.Sprintf("edge_%d", i))
	}
	t := m.AddVar("t", 0, inf, false)
	m.Objective = []Term{{t, 1}}
	for i := 0; i+1 < n; i++ {
		m.AddRow(fmt.Sprintf("prec_%d", i), []Term{{i, 1}, {i + 1, -1}}, GE, 0)
	}
	var budget []Term
	for i := range n {
		budget = append(budget, Term{i, float64(1 + rng.IntN(9))})
	}
	m.AddRow("memory", budget, LE, float64(2*n))
	for task := range k {
		// t ≥ Σ edge_i·e_i + Σ (1−edge_i)·s_i
		row := []Term{{t, 1}}
		rhs := 0.0
		for i := range n {
			e, s := float64(1+rng.IntN(50)), float64(1+rng.IntN(10))
			row = append(row, Term{i, s - e})
			rhs += s
		}
		m.AddRow(fmt.Sprintf("task_%d", task), row, GE, rhs)
	}
	return m
}

func BenchmarkCBC(b *testing.B) {
	needCBC(b)
	benchmarks := []struct {
		family string
		n      int
		m      *Model
	}{
		{"knapsack", 200, knapsack(200, 1)},
		{"knapsack", 400, knapsack(400, 1)},
		{"knapsack", 600, knapsack(600, 1)},
		{"assignment", 15, assignment(15, 1)}, // 225 binaries
		{"assignment", 24, assignment(24, 1)}, // 576 binaries
		{"placement", 200, placement(200, 8, 1)},
		{"placement", 600, placement(600, 8, 1)},
	}
	for _, bm := range benchmarks {
		b.Run(fmt.Sprintf("%s/n=%d", bm.family, bm.n), func(b *testing.B) {
			var sol *Solution
			var err error
			for b.Loop() {
				sol, err = CBC{}.Solve(bm.m, nil)
			}
			if err != nil || sol.Status != Optimal {
				b.Fatalf("status %v, err %v", sol.Status, err)
			}
			if v := bm.m.Violation(sol.X); v > 1e-6 {
				b.Fatalf("solution violates the model by %g", v)
			}
			b.ReportMetric(float64(sol.Nodes), "nodes/op")
		})
	}
}

func BenchmarkEnumerate(b *testing.B) {
	for _, n := range []int{12, 16, 20} {
		m := knapsack(n, 1)
		b.Run(fmt.Sprintf("knapsack/n=%d", n), func(b *testing.B) {
			var sol *Solution
			var err error
			for b.Loop() {
				sol, err = Enumerate{}.Solve(m, nil)
			}
			if err != nil || sol.Status != Optimal {
				b.Fatalf("status %v, err %v", sol.Status, err)
			}
		})
	}
}
