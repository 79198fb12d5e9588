package optimizer

import (
	"fmt"
	"math"
	"sort"

	"github.com/mtlsplit/mtlsplit/placement"
)

// Segment is a bandwidth interval over which one placement is optimal.
type Segment struct {
	FromMbps, ToMbps float64
	// Feasible is false where no placement meets the constraints.
	Feasible  bool
	Placement placement.Placement
	// Label is how people read the placement (never its identity).
	Label Label
	// Objective at each end of the interval.
	ObjectiveFrom, ObjectiveTo float64
	objective                  []line
}

// ObjectiveAt is the objective of the segment's choice at an uplink.
func (s Segment) ObjectiveAt(uplinkMbps float64) float64 {
	if !s.Feasible {
		return math.NaN()
	}
	return maxAt(s.objective, 1/uplinkMbps)
}

// Sweep returns the exact switch table of p over [fromMbps, toMbps]: the
// maximal intervals of uplink bandwidth on which one choice stays optimal,
// ascending. The network's uplink in p is ignored.
func Sweep(p *Problem, fromMbps, toMbps float64) ([]Segment, error) {
	segs, _, err := SweepWith(p, fromMbps, toMbps, nil)
	return segs, err
}

// SweepInfo is how a switch table was computed.
type SweepInfo struct {
	// Solves counts the solver runs.
	Solves int
	// Notes say where the table may be inexact: a solve cap or time limit
	// hit, a point the solver failed at.
	Notes []string
}

// SweepWith is Sweep with a method: the exhaustive method (nil) and the
// block-level ILP share one space, swept exactly in one pass; the
// layer-level ILP re-solves where the optimum can change.
func SweepWith(p *Problem, fromMbps, toMbps float64, m Method) ([]Segment, SweepInfo, error) {
	if err := p.Validate(); err != nil {
		return nil, SweepInfo{}, err
	}
	if !(fromMbps > 0) || !(toMbps > fromMbps) || math.IsInf(toMbps, 0) {
		return nil, SweepInfo{}, fmt.Errorf("sweep range %g–%g Mbps: need 0 < from < to < ∞", fromMbps, toMbps)
	}
	feasible, _ := p.candidates()
	if ilp, ok := m.(ILP); ok && (ilp.granularity() == LayerLevel || p.numTiers() > 2) {
		return ilp.sweep(p, feasible, fromMbps, toMbps)
	}
	if p.numTiers() > 2 {
		return nil, SweepInfo{}, fmt.Errorf("%d tiers need the ILP (--solver ilp)", p.numTiers())
	}
	segs, err := p.sweep(feasible, fromMbps, toMbps)
	return segs, SweepInfo{Solves: 1}, err
}

// sweep computes the lower envelope of the candidates' objectives. With
// x = 1/uplink every objective is a maximum of lines in x, so the envelope is
// exact: split x at every kink and every deadline limit, then on each piece
// walk the lower envelope of lines from crossing to crossing.
func (p *Problem) sweep(cands []*candidate, fromMbps, toMbps float64) ([]Segment, error) {
	xl, xr := 1/toMbps, 1/fromMbps
	type fn struct {
		cd    *candidate
		lines []line
		limit float64 // deadline: feasible for x ≤ limit
	}
	var fns []fn
	cuts := []float64{xl, xr}
	for _, cd := range p.unbeaten(cands, xr) {
		f := fn{cd: cd, lines: dedupe(p.objective(cd)), limit: p.deadlineX(cd)}
		fns = append(fns, f)
		if f.limit > xl && f.limit < xr {
			cuts = append(cuts, f.limit)
		}
		for j, a := range f.lines {
			for _, b := range f.lines[j+1:] {
				if a.b != b.b {
					if x := (b.a - a.a) / (a.b - b.b); x > xl && x < xr {
						cuts = append(cuts, x)
					}
				}
			}
		}
	}
	sort.Float64s(cuts)
	var segs []Segment // in x order
	for k := 0; k+1 < len(cuts); k++ {
		u, v := cuts[k], cuts[k+1]
		if !(v > u) {
			continue
		}
		mid := (u + v) / 2
		var live []*candidate
		var lines []line
		for _, f := range fns {
			if f.limit >= v {
				live = append(live, f.cd)
				lines = append(lines, activeLine(f.lines, mid))
			}
		}
		segs = append(segs, p.envelope(live, lines, u, v)...)
	}
	return inMbps(merge(segs), fromMbps, toMbps), nil
}

// unbeaten drops the candidates that lose to another everywhere in
// x ∈ (0, xr], so that each deadline limit does not cost a pass over all of
// them: c loses to d when both are a single line of the same slope, d is
// feasible wherever c is (a later deadline limit), lies no higher, and wins
// the tie-break of pick where their values tie (the earlier candidate) or
// lies lower by more than the tie tolerance even at xr. Many candidates
// share a slope (cuts of one tensor size in one encoding); the others are
// kept.
func (p *Problem) unbeaten(cands []*candidate, xr float64) []*candidate {
	type single struct {
		cd    *candidate
		l     line
		limit float64
	}
	bySlope := map[float64][]single{}
	var out []*candidate
	for _, cd := range cands {
		lines := dedupe(p.objective(cd))
		if len(lines) != 1 {
			out = append(out, cd)
			continue
		}
		bySlope[lines[0].b] = append(bySlope[lines[0].b], single{cd, lines[0], p.deadlineX(cd)})
	}
	for _, group := range bySlope {
		// By deadline limit (latest first), then by value: every candidate
		// that may beat one comes before it.
		sort.Slice(group, func(i, j int) bool {
			a, b := group[i], group[j]
			switch {
			case a.limit != b.limit:
				return a.limit > b.limit
			case a.l.a != b.l.a:
				return a.l.a < b.l.a
			}
			return a.cd.order < b.cd.order
		})
		var best *single // the lowest line so far (earliest on ties)
		for i := range group {
			c := &group[i]
			if best != nil {
				gap := c.l.a - best.l.a
				tol := 2 * eps * (math.Abs(c.l.a) + math.Abs(c.l.b)*xr)
				if gap >= 0 && (best.cd.order < c.cd.order || gap > tol) {
					continue // never picked over best
				}
			}
			out = append(out, c.cd)
			if best == nil || c.l.a < best.l.a || (c.l.a == best.l.a && c.cd.order < best.cd.order) {
				best = c
			}
		}
	}
	// The sweep's result does not depend on the order of candidates (ties
	// go by their order field), but keep it deterministic.
	sort.Slice(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

// envelope walks the lower envelope of one line per candidate over [u, v].
func (p *Problem) envelope(live []*candidate, lines []line, u, v float64) []Segment {
	if len(live) == 0 {
		return []Segment{{FromMbps: u, ToMbps: v}}
	}
	pick := func(x float64, among []int) int {
		best := among[0]
		for _, i := range among[1:] {
			vi, vb := lines[i].at(x), lines[best].at(x)
			switch {
			case math.Abs(vi-vb) > eps*max(math.Abs(vi), math.Abs(vb)):
				if vi < vb {
					best = i
				}
			case lines[i].b != lines[best].b:
				if lines[i].b < lines[best].b {
					best = i
				}
			case live[i].order < live[best].order:
				best = i
			}
		}
		return best
	}
	all := make([]int, len(live))
	for i := range all {
		all[i] = i
	}
	var segs []Segment
	x, cur := u, pick(u, all)
	for {
		next, at := math.Inf(1), []int(nil)
		c := lines[cur]
		for i, l := range lines {
			if l.b >= c.b {
				continue
			}
			xi := (l.a - c.a) / (c.b - l.b)
			if xi <= x {
				continue
			}
			switch {
			case xi < next:
				next, at = xi, []int{i}
			case xi == next:
				at = append(at, i)
			}
		}
		end := min(next, v)
		segs = append(segs, Segment{FromMbps: x, ToMbps: end, Feasible: true, Placement: live[cur].placement(p), Label: live[cur].label,
			ObjectiveFrom: c.at(x), ObjectiveTo: c.at(end), objective: p.objective(live[cur])})
		if next >= v {
			return segs
		}
		x, cur = next, pick(next, append(at, cur))
	}
}

// activeLine is the line of max(lines) at x.
func activeLine(lines []line, x float64) line {
	best := lines[0]
	for _, l := range lines[1:] {
		if l.at(x) > best.at(x) {
			best = l
		}
	}
	return best
}

func dedupe(lines []line) []line {
	var out []line
	for _, l := range lines {
		dup := false
		for _, o := range out {
			dup = dup || o == l
		}
		if !dup {
			out = append(out, l)
		}
	}
	return out
}

// merge joins neighbouring segments (in x) that keep the same choice.
func merge(segs []Segment) []Segment {
	var out []Segment
	for _, s := range segs {
		if n := len(out); n > 0 && out[n-1].Feasible == s.Feasible && (!s.Feasible || out[n-1].Placement.Equal(s.Placement)) {
			out[n-1].ToMbps, out[n-1].ObjectiveTo = s.ToMbps, s.ObjectiveTo
			continue
		}
		out = append(out, s)
	}
	return out
}

// inMbps turns segments in ascending x = 1/uplink into ascending uplink,
// with the sweep's own bounds kept exact.
func inMbps(segs []Segment, fromMbps, toMbps float64) []Segment {
	out := make([]Segment, len(segs))
	for i, s := range segs {
		o := s
		o.FromMbps, o.ToMbps = 1/s.ToMbps, 1/s.FromMbps
		o.ObjectiveFrom, o.ObjectiveTo = s.ObjectiveTo, s.ObjectiveFrom
		out[len(segs)-1-i] = o
	}
	if len(out) > 0 {
		out[0].FromMbps, out[len(out)-1].ToMbps = fromMbps, toMbps
	}
	return out
}
