package adapt

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mtlsplit/mtlsplit/plan"
)

// Row is one row of a switch table: the plan identified by ID is optimal
// for uplinks in [FromMbps, ToMbps), and Cost is its objective (the plan's:
// latency in ms by default) as a function of the uplink.
type Row struct {
	FromMbps, ToMbps float64
	ID               int
	Cost             Line
}

// Line is a cost linear in 1/uplink: Fixed + PerInvMbps/mbps. The cost
// model's latency of one placement is a maximum of such lines (compute,
// plus bytes over the uplink), so a line is exact for a row whose
// latency has one term that depends on the uplink (every local row; the
// image sent whole) and the chord of the row's range otherwise.
type Line struct{ Fixed, PerInvMbps float64 }

// At is the cost at an uplink of mbps.
func (l Line) At(mbps float64) float64 { return l.Fixed + l.PerInvMbps/mbps }

// Chord is the line through the cost at each end of a range of uplinks,
// costFrom at fromMbps and costTo at toMbps: a switch table records its
// rows' objective at their ends only. A range that starts at 0 or has no
// finite end gives no slope: the line is then the finite end's cost.
func Chord(fromMbps, toMbps, costFrom, costTo float64) Line {
	if !(fromMbps > 0) || math.IsInf(toMbps, 0) || !(toMbps > fromMbps) {
		if math.IsInf(toMbps, 0) {
			return Line{Fixed: costFrom}
		}
		return Line{Fixed: costTo}
	}
	b := (costFrom - costTo) / (1/fromMbps - 1/toMbps)
	return Line{Fixed: costTo - b/toMbps, PerInvMbps: b}
}

// RowsFromPlan reads a plan's switch table; each row's ID is its index there
// and its Cost the chord of its objective over its range. Rows of zero
// width (a plan may hold one at a breakpoint) are left out: no estimate can
// fall in them, and NewPolicy rejects them. Infeasible rows are kept, so
// that the table stays contiguous and the caller learns from the ID that
// the uplink cannot meet the plan's constraints.
func RowsFromPlan(p *plan.Plan) []Row {
	rows := make([]Row, 0, len(p.SwitchTable))
	for i, s := range p.SwitchTable {
		if s.ToMbps > s.FromMbps {
			rows = append(rows, Row{FromMbps: s.FromMbps, ToMbps: s.ToMbps, ID: i, Cost: Chord(s.FromMbps, s.ToMbps, s.ObjectiveFrom, s.ObjectiveTo)})
		}
	}
	return rows
}

// Policy picks the row with the lowest expected cost over the recent uplink
// samples: the mean over the samples r_i of Cost(r_i), not the cost at one
// point estimate. Cost is convex in 1/uplink, so a row's cost at a point
// understates what a swinging uplink makes it pay; averaging over the
// samples charges each row for the spread it would meet. With many samples
// the choice tends to the best fixed row in hindsight; with few it follows
// the swings. It moves only when the best row would still be cheaper with
// every sample off by HysteresisPct percent in the direction that hurts it,
// and never within Dwell of the previous switch (or of the first
// decision), so a row that wins by a hair, or samples that wobble around a
// breakpoint, do not make it flap.
type Policy struct {
	rows     []Row
	hyst     float64 // fraction, not percent
	dwell    time.Duration
	risk     float64 // quantile; 0: no risk check
	cur      int     // -1 before the first decision
	since    time.Time
	switches int
}

// NewPolicy checks the table (non-empty, each row a non-empty range of
// non-negative Mbps, each starting where the one before ends, only the last
// may end at +Inf; finite costs) and returns a policy that has not decided
// yet.
func NewPolicy(rows []Row, hysteresisPct float64, dwell time.Duration, riskQuantile float64) (*Policy, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("adapt: switch table is empty: want at least one row")
	}
	if !(hysteresisPct >= 0 && hysteresisPct < 100) {
		return nil, fmt.Errorf("adapt: hysteresis %g%%: want a percentage in [0, 100)", hysteresisPct)
	}
	if dwell < 0 {
		return nil, fmt.Errorf("adapt: dwell %v: want zero or a positive duration", dwell)
	}
	if !(riskQuantile >= 0 && riskQuantile <= 1) {
		return nil, fmt.Errorf("adapt: risk quantile %g: want a fraction in [0, 1] (0: no risk check)", riskQuantile)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for i, r := range rows {
		switch {
		case math.IsNaN(r.FromMbps) || math.IsInf(r.FromMbps, 0) || r.FromMbps < 0:
			return nil, fmt.Errorf("adapt: switch table row %d: from_mbps %g: want a finite non-negative rate", i, r.FromMbps)
		case math.IsNaN(r.ToMbps) || !(r.ToMbps > r.FromMbps):
			return nil, fmt.Errorf("adapt: switch table row %d: to_mbps %g: want more than from_mbps %g", i, r.ToMbps, r.FromMbps)
		case math.IsInf(r.ToMbps, 1) && i != len(rows)-1:
			return nil, fmt.Errorf("adapt: switch table row %d: to_mbps +Inf: only the last row may be unbounded", i)
		case i > 0 && r.FromMbps != rows[i-1].ToMbps:
			return nil, fmt.Errorf("adapt: switch table row %d: from_mbps %g: want %g, where row %d ends (rows must be sorted and contiguous)", i, r.FromMbps, rows[i-1].ToMbps, i-1)
		case !finite(r.Cost.Fixed) || !finite(r.Cost.PerInvMbps):
			return nil, fmt.Errorf("adapt: switch table row %d: cost %g + %g/Mbps: want finite numbers", i, r.Cost.Fixed, r.Cost.PerInvMbps)
		}
	}
	return &Policy{rows: append([]Row(nil), rows...), hyst: hysteresisPct / 100, dwell: dwell, risk: riskQuantile, cur: -1}, nil
}

// Decide returns the index of the row to run for the recent uplink samples
// (Mbps, e.g. Estimator.Rates) at now, and whether that is a switch from
// the previous decision, with a reason fit for a log line. The first
// decision takes the row of lowest expected cost and is not a switch. No
// samples, or a sample that is not a positive rate, keep the current row
// (-1 before the first decision).
func (p *Policy) Decide(samples []float64, now time.Time) (row int, switched bool, reason string) {
	if len(samples) == 0 {
		return p.cur, false, fmt.Sprintf("no samples: keep row %d", p.cur)
	}
	for _, s := range samples {
		if !(s > 0) || math.IsInf(s, 0) {
			return p.cur, false, fmt.Sprintf("sample %g Mbps is not a rate: keep row %d", s, p.cur)
		}
	}
	cost := make([]float64, len(p.rows))
	for j := range p.rows {
		cost[j] = p.Expected(j, samples)
	}
	best := max(p.cur, 0) // ties keep the current row
	for j, c := range cost {
		if c < cost[best] {
			best = j
		}
	}
	if p.cur < 0 {
		p.cur, p.since = best, now
		return p.cur, false, fmt.Sprintf("initial: row %d, expected %.4g over %d samples", best, cost[best], len(samples))
	}
	if best == p.cur {
		return p.cur, false, fmt.Sprintf("hold row %d: expected %.4g, the lowest over %d samples", p.cur, cost[p.cur], len(samples))
	}
	why := fmt.Sprintf("row %d expected %.4g against row %d's %.4g over %d samples", best, cost[best], p.cur, cost[p.cur], len(samples))
	// Hysteresis: the new row must still win with every sample off by
	// HysteresisPct in the direction that hurts it (slower for a row that
	// sends more, faster for one that sends less). With one sample and
	// neighbouring rows this is "cross the boundary by the margin".
	scale := 1 / (1 - p.hyst)
	if p.rows[best].Cost.PerInvMbps > p.rows[p.cur].Cost.PerInvMbps {
		scale = 1 / (1 + p.hyst)
	}
	if p.hyst > 0 {
		eb, ec := p.expectedAt(best, samples, scale), p.expectedAt(p.cur, samples, scale)
		if !(eb < ec) {
			return p.cur, false, fmt.Sprintf("hold row %d: %s, but with the samples ×%.3g (%g%% hysteresis) %.4g against %.4g", p.cur, why, scale, 100*p.hyst, eb, ec)
		}
		why += fmt.Sprintf(", and %.4g against %.4g with them ×%.3g (%g%% hysteresis)", eb, ec, scale, 100*p.hyst)
	}
	if p.risk > 0 {
		qb, qc := p.Quantile(best, samples, p.risk), p.Quantile(p.cur, samples, p.risk)
		if !(qb < qc) {
			return p.cur, false, fmt.Sprintf("hold row %d: %s, but at the %g quantile row %d costs %.4g, not less than row %d's %.4g", p.cur, why, p.risk, best, qb, p.cur, qc)
		}
	}
	if held := now.Sub(p.since); held < p.dwell {
		return p.cur, false, fmt.Sprintf("dwell: %s, but row %d entered %v ago (< %v)", why, p.cur, held, p.dwell)
	}
	p.cur, p.since = best, now
	p.switches++
	return p.cur, true, "switch: " + why
}

// Expected is row i's mean cost over the samples (Mbps).
func (p *Policy) Expected(i int, samples []float64) float64 { return p.expectedAt(i, samples, 1) }

// expectedAt is row i's mean cost over the samples scaled by scale.
func (p *Policy) expectedAt(i int, samples []float64, scale float64) float64 {
	var sum float64
	for _, s := range samples {
		sum += p.rows[i].Cost.At(s * scale)
	}
	return sum / float64(len(samples))
}

// Quantile is the q-quantile (nearest rank) of row i's cost over the
// samples (Mbps).
func (p *Policy) Quantile(i int, samples []float64, q float64) float64 {
	c := make([]float64, len(samples))
	for k, s := range samples {
		c[k] = p.rows[i].Cost.At(s)
	}
	slices.Sort(c)
	k := int(math.Ceil(q*float64(len(c)))) - 1
	return c[min(max(k, 0), len(c)-1)]
}

// Row returns the i-th row of the table.
func (p *Policy) Row(i int) Row { return p.rows[i] }

// Current returns the current row index, -1 before the first decision.
func (p *Policy) Current() int { return p.cur }

// Switches counts the switches made (the first decision is not one).
func (p *Policy) Switches() int { return p.switches }
