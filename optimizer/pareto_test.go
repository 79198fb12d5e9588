package optimizer

import (
	"math/rand/v2"
	"testing"
)

// TestNonDominated checks the O(n log n) Pareto filter against the
// definition, pair by pair, on random points with many ties and duplicates.
func TestNonDominated(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 300 {
		n := 1 + rng.IntN(60)
		ms, bytes, acc := make([]float64, n), make([]int64, n), make([]float64, n)
		for i := range n {
			ms[i] = float64(rng.IntN(8))
			bytes[i] = int64(rng.IntN(8))
			acc[i] = float64(rng.IntN(4)) / 4
		}
		got := nonDominated(ms, bytes, acc)
		for i := range n {
			dominated := false
			for j := range n {
				ge := ms[j] <= ms[i] && bytes[j] <= bytes[i] && acc[j] >= acc[i]
				gt := ms[j] < ms[i] || bytes[j] < bytes[i] || acc[j] > acc[i]
				dominated = dominated || (ge && gt)
			}
			if got[i] == dominated {
				t.Fatalf("trial %d, point %d (%g ms, %d B, %g): kept %v, dominated %v", trial, i, ms[i], bytes[i], acc[i], got[i], dominated)
			}
		}
	}
}
