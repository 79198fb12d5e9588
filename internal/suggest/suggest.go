// Package suggest finds the known names closest to a mistyped one, for
// "did you mean" hints in error messages.
package suggest

import (
	"sort"
	"strings"
)

// Closest returns up to n names from known nearest to name by edit distance,
// closest first; names further than half their length away are dropped.
func Closest(name string, known []string, n int) []string {
	type scored struct {
		name string
		dist int
	}
	var cands []scored
	lname := strings.ToLower(name)
	for _, k := range known {
		lk := strings.ToLower(k)
		d := distance(lname, lk)
		if strings.Contains(lk, lname) || strings.Contains(lname, lk) {
			d = min(d, 1)
		}
		if d <= max(2, len(k)/2) {
			cands = append(cands, scored{k, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	var out []string
	for i := 0; i < len(cands) && i < n; i++ {
		out = append(out, cands[i].name)
	}
	return out
}

// Hint formats a " (did you mean ...?)" suffix, or a list of valid names when
// nothing is close.
func Hint(name string, known []string) string {
	if c := Closest(name, known, 3); len(c) > 0 {
		return " (did you mean " + strings.Join(quote(c), " or ") + "?)"
	}
	return " (valid: " + strings.Join(known, ", ") + ")"
}

func quote(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = "\"" + v + "\""
	}
	return out
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
