//go:build !cgo

package milp

// CBC would solve models with COIN-OR CBC; this build has no cgo, so Solve
// returns ErrUnavailable.
type CBC struct{}

// Solve implements Solver and always returns ErrUnavailable.
func (CBC) Solve(m *Model, s *Settings) (*Solution, error) {
	return nil, ErrUnavailable
}
