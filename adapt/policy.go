package adapt

import (
	"fmt"
	"math"
	"time"

	"github.com/mtlsplit/mtlsplit/plan"
)

// Row is one row of a switch table: the plan identified by ID is optimal
// for uplinks in [FromMbps, ToMbps).
type Row struct {
	FromMbps, ToMbps float64
	ID               int
}

// RowsFromPlan reads a plan's switch table; each row's ID is its index there.
// Rows of zero width (a plan may hold one at a breakpoint) are left out: no
// estimate can fall in them, and NewPolicy rejects them. Infeasible rows are
// kept, so that the table stays contiguous and the caller learns from the
// ID that the uplink cannot meet the plan's constraints.
func RowsFromPlan(p *plan.Plan) []Row {
	rows := make([]Row, 0, len(p.SwitchTable))
	for i, s := range p.SwitchTable {
		if s.ToMbps > s.FromMbps {
			rows = append(rows, Row{FromMbps: s.FromMbps, ToMbps: s.ToMbps, ID: i})
		}
	}
	return rows
}

// Policy picks the row for an uplink estimate. It moves up only when the
// estimate exceeds the boundary it crosses by HysteresisPct percent, down
// only when it is below it by that much, and never within Dwell of the
// previous switch (or of the first decision), so an estimate that wobbles
// around a breakpoint does not flap between rows.
type Policy struct {
	rows     []Row
	hyst     float64 // fraction, not percent
	dwell    time.Duration
	cur      int // -1 before the first decision
	since    time.Time
	switches int
}

// NewPolicy checks the table (non-empty, each row a non-empty range of
// non-negative Mbps, each starting where the one before ends; only the last
// may end at +Inf) and returns a policy that has not decided yet.
func NewPolicy(rows []Row, hysteresisPct float64, dwell time.Duration) (*Policy, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("adapt: switch table is empty: want at least one row")
	}
	if !(hysteresisPct >= 0 && hysteresisPct < 100) {
		return nil, fmt.Errorf("adapt: hysteresis %g%%: want a percentage in [0, 100)", hysteresisPct)
	}
	if dwell < 0 {
		return nil, fmt.Errorf("adapt: dwell %v: want zero or a positive duration", dwell)
	}
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
		}
	}
	return &Policy{rows: append([]Row(nil), rows...), hyst: hysteresisPct / 100, dwell: dwell, cur: -1}, nil
}

// Decide returns the index of the row to run for estimate (Mbps) at now, and
// whether that is a switch from the previous decision, with a reason fit for
// a log line. The first decision takes the row the estimate falls in
// (clamped to the table) and is not a switch. An estimate that is not a
// non-negative number keeps the current row (-1 before the first decision).
func (p *Policy) Decide(estimate float64, now time.Time) (row int, switched bool, reason string) {
	if math.IsNaN(estimate) || estimate < 0 {
		return p.cur, false, fmt.Sprintf("estimate %g Mbps is not a rate: keep row %d", estimate, p.cur)
	}
	if p.cur < 0 {
		p.cur, p.since = p.containing(estimate), now
		r := p.rows[p.cur]
		return p.cur, false, fmt.Sprintf("initial: %.3g Mbps in row %d [%.4g, %.4g)", estimate, p.cur, r.FromMbps, r.ToMbps)
	}
	to, why := p.target(estimate)
	if to == p.cur {
		return p.cur, false, fmt.Sprintf("hold row %d: %.3g Mbps", p.cur, estimate)
	}
	if held := now.Sub(p.since); held < p.dwell {
		return p.cur, false, fmt.Sprintf("dwell: %s, but row %d entered %v ago (< %v)", why, p.cur, held, p.dwell)
	}
	p.cur, p.since = to, now
	p.switches++
	return p.cur, true, why
}

// target is the row hysteresis allows for estimate from the current row:
// the furthest row whose near boundary the estimate clears by the margin.
// Rows are contiguous, so the up and down conditions exclude each other.
func (p *Policy) target(estimate float64) (int, string) {
	to := p.cur
	for j := p.cur + 1; j < len(p.rows) && estimate > p.rows[j].FromMbps*(1+p.hyst); j++ {
		to = j
	}
	for j := p.cur - 1; j >= 0 && estimate < p.rows[j].ToMbps*(1-p.hyst); j-- {
		to = j
	}
	switch {
	case to > p.cur:
		b := p.rows[to].FromMbps
		return to, fmt.Sprintf("up to row %d: %.3g Mbps exceeds %.4g Mbps by %.1f%% (> %g%%)", to, estimate, b, 100*(estimate/b-1), 100*p.hyst)
	case to < p.cur:
		b := p.rows[to].ToMbps
		return to, fmt.Sprintf("down to row %d: %.3g Mbps is below %.4g Mbps by %.1f%% (> %g%%)", to, estimate, b, 100*(1-estimate/b), 100*p.hyst)
	}
	return to, ""
}

// containing is the row whose range holds estimate, clamped to the table.
func (p *Policy) containing(estimate float64) int {
	for i, r := range p.rows {
		if estimate < r.ToMbps {
			return i
		}
	}
	return len(p.rows) - 1
}

// Row returns the i-th row of the table.
func (p *Policy) Row(i int) Row { return p.rows[i] }

// Current returns the current row index, -1 before the first decision.
func (p *Policy) Current() int { return p.cur }

// Switches counts the switches made (the first decision is not one).
func (p *Policy) Switches() int { return p.switches }
