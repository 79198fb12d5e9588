package milp

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// MaxEnumerateVars is the most variables Enumerate accepts: 2^20 points.
const MaxEnumerateVars = 20

// Enumerate solves tiny pure-binary models by trying every 0/1 point. It is
// the oracle the tests hold CBC to, and it implements Solver. Every variable
// must be integer with bounds inside [0, 1] (fixed variables are fine);
// other models get an error wrapping ErrUnsupported.
//
// Settings.TimeLimit is honoured; RelGap and Threads are ignored.
// Solution.Nodes counts the points tried. Among
// equally good points the first in Gray-code order wins, so results are
// deterministic.
type Enumerate struct{}

// Solve implements Solver.
func (Enumerate) Solve(m *Model, s *Settings) (*Solution, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	n := len(m.Vars)
	if n > MaxEnumerateVars {
		return nil, fmt.Errorf("enumerate %d variables (at most %d): %w", n, MaxEnumerateVars, ErrUnsupported)
	}
	// Each variable takes the integers in [Lower, Upper], a subset of {0, 1}.
	can := make([][2]bool, n)
	for i, v := range m.Vars {
		if !v.Integer || v.Lower <= -1 || v.Upper >= 2 {
			return nil, fmt.Errorf("enumerate: var %q with bounds [%g, %g], integer=%t is not binary: %w",
				v.Name, v.Lower, v.Upper, v.Integer, ErrUnsupported)
		}
		can[i] = [2]bool{v.Lower <= 0 && v.Upper >= 0, v.Lower <= 1 && v.Upper >= 1}
	}
	start := time.Now()
	var deadline time.Time
	if s != nil && s.TimeLimit > 0 {
		deadline = start.Add(s.TimeLimit)
	}

	// Column-wise rows, so one flipped bit updates only the rows it is in.
	type entry struct {
		row  int
		coef float64
	}
	cols := make([][]entry, n)
	tol := make([]float64, len(m.Rows))
	g := newMerger(n)
	var buf []Term
	for r, row := range m.Rows {
		buf = g.merge(row.Terms, buf)
		scale := max(1, math.Abs(row.RHS))
		for _, t := range buf {
			cols[t.Var] = append(cols[t.Var], entry{r, t.Coef})
			scale = max(scale, math.Abs(t.Coef))
		}
		tol[r] = 1e-9 * scale
	}
	obj := make([]float64, n)
	for _, t := range m.Objective {
		obj[t.Var] += t.Coef
	}

	lhs := make([]float64, len(m.Rows))
	x := make([]bool, n)
	feasible := func() bool {
		for i := range x {
			if !can[i][b2i(x[i])] {
				return false
			}
		}
		for r, row := range m.Rows {
			switch row.Sense {
			case LE:
				if lhs[r] > row.RHS+tol[r] {
					return false
				}
			case GE:
				if lhs[r] < row.RHS-tol[r] {
					return false
				}
			case EQ:
				if math.Abs(lhs[r]-row.RHS) > tol[r] {
					return false
				}
			}
		}
		return true
	}

	var best []bool
	bestObj := math.Inf(1)
	val := 0.0
	total := uint64(1) << n
	visited := uint64(0)
	timedOut := false
	// Gray code: step k flips the bit of k's lowest set bit.
	for k := uint64(0); k < total; k++ {
		if k > 0 {
			i := bits.TrailingZeros64(k)
			d := 1.0
			if x[i] {
				d = -1
			}
			x[i] = !x[i]
			val += d * obj[i]
			for _, e := range cols[i] {
				lhs[e.row] += d * e.coef
			}
		}
		visited++
		if (best == nil || val < bestObj-1e-12*max(1, math.Abs(bestObj))) && feasible() {
			bestObj = val
			best = append(best[:0], x...)
		}
		if k&4095 == 4095 && !deadline.IsZero() && time.Now().After(deadline) {
			timedOut = true
			break
		}
	}

	sol := &Solution{Nodes: int(visited), Elapsed: time.Since(start), Bound: math.Inf(-1), Gap: math.Inf(1)}
	switch {
	case best == nil && timedOut:
		sol.Status = TimeLimit
		return sol, nil
	case best == nil:
		sol.Status, sol.Proven = Infeasible, true
		return sol, nil
	}
	sol.X = make([]float64, n)
	for i, b := range best {
		sol.X[i] = float64(b2i(b))
	}
	sol.Objective = m.Eval(sol.X)
	if timedOut {
		sol.Status = Feasible
		return sol, nil
	}
	sol.Status, sol.Proven, sol.Bound, sol.Gap = Optimal, true, sol.Objective, 0
	return sol, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
