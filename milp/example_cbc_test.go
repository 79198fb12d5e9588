//go:build cgo && !nocbc

package milp_test

import (
	"fmt"
	"time"

	"github.com/mtlsplit/mtlsplit/milp"
)

// A 0/1 knapsack: pick items of greatest total value within a weight limit.
// The model minimizes, so values enter the objective negated.
func ExampleCBC_Solve() {
	values := []float64{60, 100, 120}
	weights := []float64{10, 20, 30}

	var m milp.Model
	var capacity []milp.Term
	for i := range values {
		x := m.AddBinary(fmt.Sprintf("take_%d", i))
		m.Objective = append(m.Objective, milp.Term{Var: x, Coef: -values[i]})
		capacity = append(capacity, milp.Term{Var: x, Coef: weights[i]})
	}
	m.AddRow("capacity", capacity, milp.LE, 50)

	sol, err := milp.CBC{}.Solve(&m, &milp.Settings{TimeLimit: 10 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sol.Status, -sol.Objective, sol.X)
	// Output: optimal 220 [0 1 1]
}
