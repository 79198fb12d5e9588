//go:build !cgo || nocbc

package milp

// Solve implements Solver and always returns ErrUnavailable.
func (CBC) Solve(m *Model, s *Settings) (*Solution, error) {
	return nil, ErrUnavailable
}
