package milp_test

import (
	"fmt"
	"os"

	"github.com/mtlsplit/mtlsplit/milp"
)

// Any model can be written for another solver to check, here in the CPLEX
// LP format that glpsol, HiGHS, CPLEX and Gurobi read.
func ExampleModel_WriteLP() {
	var m milp.Model
	x := m.AddVar("x", 0, 10, true)
	y := m.AddVar("y", 0, 4.5, false)
	m.Objective = []milp.Term{{Var: x, Coef: -1}, {Var: y, Coef: -2}}
	m.AddRow("budget", []milp.Term{{Var: x, Coef: 1}, {Var: y, Coef: 1}}, milp.LE, 6)

	if err := m.WriteLP(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// \ Problem: milp
	// \ Variables: 2, rows: 1
	// Minimize
	//  obj: - 1 x - 2 y
	// Subject To
	//  budget: + 1 x + 1 y <= 6
	// Bounds
	//  0 <= x <= 10
	//  0 <= y <= 4.5
	// General
	//  x
	// End
}
