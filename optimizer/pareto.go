package optimizer

import (
	"slices"
	"sort"
)

// nonDominated marks the points that no other point dominates: one that
// takes no longer, sends no more bytes and is no less accurate, and is
// better in one of them. It runs in O(n log n): in order of latency (then
// bytes ascending, accuracy descending) every dominator of a point comes
// before it, so a point is dominated iff an earlier point with a different
// triple sends no more bytes at no lower accuracy — a prefix maximum of
// accuracy over byte ranks, kept in a Fenwick tree. Identical points do not
// dominate each other.
func nonDominated(ms []float64, bytes []int64, acc []float64) []bool {
	n := len(ms)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		i, j := order[x], order[y]
		switch {
		case ms[i] != ms[j]:
			return ms[i] < ms[j]
		case bytes[i] != bytes[j]:
			return bytes[i] < bytes[j]
		}
		return acc[i] > acc[j]
	})
	ranks := slices.Clone(bytes)
	slices.Sort(ranks)
	ranks = slices.Compact(ranks)
	rank := func(b int64) int { r, _ := slices.BinarySearch(ranks, b); return r + 1 }
	best := make([]float64, len(ranks)+1) // Fenwick tree of max accuracy
	for i := range best {
		best[i] = -1 // below any accuracy (they are in [0, 1])
	}
	keep := make([]bool, n)
	for g := 0; g < n; {
		// A group of identical points: query for them all, then insert.
		i := order[g]
		end := g + 1
		for end < n && ms[order[end]] == ms[i] && bytes[order[end]] == bytes[i] && acc[order[end]] == acc[i] {
			end++
		}
		top := -1.0
		for r := rank(bytes[i]); r > 0; r -= r & -r {
			top = max(top, best[r])
		}
		for _, j := range order[g:end] {
			keep[j] = !(top >= acc[i])
		}
		for r := rank(bytes[i]); r < len(best); r += r & -r {
			best[r] = max(best[r], acc[i])
		}
		g = end
	}
	return keep
}
