package adapt

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/plan"
)

// table has breakpoints at 10 and 20 Mbps.
var table = []Row{{0, 10, 100}, {10, 20, 101}, {20, math.Inf(1), 102}}

// step is one decision: the estimate at t0+at and what Decide should say.
type step struct {
	at       time.Duration
	mbps     float64
	row      int
	switched bool
	reason   string // a substring of the reason
}

func TestPolicyDecide(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		hyst  float64
		dwell time.Duration
		steps []step
	}{
		{name: "first decision takes the containing row", hyst: 5, dwell: 10 * s, steps: []step{
			{0, 15, 1, false, "initial: 15 Mbps in row 1 [10, 20)"},
		}},
		{name: "first decision clamps above the table", hyst: 5, steps: []step{{0, 1e6, 2, false, "initial"}}},
		{name: "first decision at a boundary goes up", hyst: 5, steps: []step{{0, 10, 1, false, "initial"}}},
		{name: "no flapping at ±2% around a breakpoint with h=5%", hyst: 5, dwell: 2 * s, steps: []step{
			{0, 10.2, 1, false, "initial"},
			{5 * s, 9.8, 1, false, "hold row 1"},
			{10 * s, 10.2, 1, false, "hold"},
			{15 * s, 9.8, 1, false, "hold"},
			{20 * s, 10.2, 1, false, "hold"},
		}},
		{name: "no flapping starting below the breakpoint", hyst: 5, dwell: 2 * s, steps: []step{
			{0, 9.8, 0, false, "initial"},
			{5 * s, 10.2, 0, false, "hold row 0"},
			{10 * s, 9.8, 0, false, "hold"},
			{15 * s, 10.2, 0, false, "hold"},
		}},
		{name: "switches up 10% past the breakpoint", hyst: 5, dwell: 2 * s, steps: []step{
			{0, 9.8, 0, false, "initial"},
			{5 * s, 11, 1, true, "up to row 1: 11 Mbps exceeds 10 Mbps by 10.0% (> 5%)"},
		}},
		{name: "switches down 10% past the breakpoint", hyst: 5, dwell: 2 * s, steps: []step{
			{0, 10.2, 1, false, "initial"},
			{5 * s, 9, 0, true, "down to row 0: 9 Mbps is below 10 Mbps by 10.0% (> 5%)"},
		}},
		{name: "a jump crosses several rows at once", hyst: 5, steps: []step{
			{0, 5, 0, false, "initial"},
			{s, 30, 2, true, "up to row 2: 30 Mbps exceeds 20 Mbps"},
		}},
		// 20.5 clears 10 by 105% but 20 only by 2.5%: land in row 1, where
		// the next estimate does not move it again.
		{name: "lands in the row it would not leave", hyst: 5, steps: []step{
			{0, 5, 0, false, "initial"},
			{s, 20.5, 1, true, "up to row 1"},
			{2 * s, 20.5, 1, false, "hold"},
		}},
		{name: "dwell blocks a second switch", hyst: 5, dwell: 2 * s, steps: []step{
			{0, 5, 0, false, "initial"},
			{3 * s, 11, 1, true, "up to row 1"},
			{4 * s, 5, 1, false, "dwell: down to row 0: 5 Mbps is below 10 Mbps by 50.0% (> 5%), but row 1 entered 1s ago (< 2s)"},
			{5 * s, 5, 0, true, "down to row 0"},
		}},
		{name: "dwell counts from the first decision", hyst: 5, dwell: 2 * s, steps: []step{
			{0, 5, 0, false, "initial"},
			{s, 15, 0, false, "dwell: up to row 1"},
			{2 * s, 15, 1, true, "up to row 1"},
		}},
		{name: "no hysteresis switches at the boundary", hyst: 0, steps: []step{
			{0, 9.99, 0, false, "initial"},
			{s, 10.01, 1, true, "up"},
			{2 * s, 9.99, 0, true, "down"},
		}},
		{name: "a bad estimate keeps the row", hyst: 5, steps: []step{
			{0, math.NaN(), -1, false, "not a rate: keep row -1"},
			{0, 15, 1, false, "initial"},
			{s, -1, 1, false, "not a rate: keep row 1"},
			{2 * s, math.NaN(), 1, false, "not a rate"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(table, tc.hyst, tc.dwell)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for i, st := range tc.steps {
				row, switched, reason := p.Decide(st.mbps, t0.Add(st.at))
				if row != st.row || switched != st.switched || !strings.Contains(reason, st.reason) {
					t.Errorf("step %d: Decide(%g, t0+%v) = %d, %v, %q; want %d, %v, reason containing %q",
						i, st.mbps, st.at, row, switched, reason, st.row, st.switched, st.reason)
				}
				if switched {
					want++
				}
			}
			if p.Switches() != want {
				t.Errorf("Switches() = %d; want %d", p.Switches(), want)
			}
		})
	}
}

// TestPolicyStepTrace drives the estimator with a step of the uplink from 5
// to 25 Mbps and back, one 1-second transfer a second, and checks the exact
// switch sequence. With an 8-sample harmonic window the estimate after k
// samples of the new rate is 8/((8-k)/5 + k/25): 5.56, 6.25, 7.14, 8.33, 10,
// 12.5, 16.7, 25 on the way up; 16.7, 12.5, 10, 8.33, ... on the way down.
func TestPolicyStepTrace(t *testing.T) {
	var now time.Time
	e := Estimator{Window: 8, Now: func() time.Time { return now }}
	p, err := NewPolicy(table, 5, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type sw struct {
		sec      int
		from, to int
	}
	var got []sw
	rate := func(sec int) int64 { // bytes per 1-second transfer
		if sec >= 8 && sec < 16 {
			return 25e6 / 8
		}
		return 5e6 / 8
	}
	for sec := range 24 {
		now = t0.Add(time.Duration(sec) * time.Second)
		if err := e.Observe(rate(sec), time.Second, now); err != nil {
			t.Fatal(err)
		}
		est, ok := e.Mbps()
		if !ok {
			t.Fatalf("second %d: no estimate", sec)
		}
		before := p.Current()
		row, switched, reason := p.Decide(est, now)
		if switched {
			got = append(got, sw{sec, before, row})
			t.Logf("second %d: %.3g Mbps: %s", sec, est, reason)
		}
	}
	// Up: 12.5 at second 13 clears 10.5; 16.7 at 14 is short of 21; 25 at
	// 15 clears it, 2 s after the last switch. Down: 16.7 at 16 is below 19
	// but inside the dwell; 12.5 at 17 goes to row 1; 8.33 at 19 goes to
	// row 0, 2 s later.
	want := []sw{{13, 0, 1}, {15, 1, 2}, {17, 2, 1}, {19, 1, 0}}
	if len(got) != len(want) {
		t.Fatalf("switches %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("switch %d = %+v; want %+v (all: %v)", i, got[i], want[i], got)
		}
	}
	if p.Switches() != len(want) {
		t.Errorf("Switches() = %d; want %d", p.Switches(), len(want))
	}
}

func TestNewPolicyRejects(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name  string
		rows  []Row
		hyst  float64
		dwell time.Duration
		want  string
	}{
		{"empty", nil, 5, 0, "switch table is empty"},
		{"negative hysteresis", table, -1, 0, "hysteresis -1%: want a percentage in [0, 100)"},
		{"hysteresis 100", table, 100, 0, "hysteresis 100%"},
		{"NaN hysteresis", table, math.NaN(), 0, "hysteresis NaN%"},
		{"negative dwell", table, 5, -time.Second, "dwell -1s"},
		{"negative from", []Row{{-1, 10, 0}}, 5, 0, "row 0: from_mbps -1: want a finite non-negative rate"},
		{"empty range", []Row{{0, 10, 0}, {10, 10, 1}}, 5, 0, "row 1: to_mbps 10: want more than from_mbps 10"},
		{"NaN to", []Row{{0, math.NaN(), 0}}, 5, 0, "row 0: to_mbps NaN"},
		{"gap", []Row{{0, 10, 0}, {12, 20, 1}}, 5, 0, "row 1: from_mbps 12: want 10, where row 0 ends"},
		{"unsorted", []Row{{10, 20, 0}, {0, 10, 1}}, 5, 0, "row 1: from_mbps 0: want 20"},
		{"unbounded middle row", []Row{{0, inf, 0}, {inf, inf, 1}}, 5, 0, "row 0: to_mbps +Inf: only the last row may be unbounded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPolicy(tc.rows, tc.hyst, tc.dwell)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRowsFromPlan(t *testing.T) {
	p := &plan.Plan{SwitchTable: []plan.Switch{
		{FromMbps: 1, ToMbps: 8, Feasible: false},
		{FromMbps: 8, ToMbps: 8, Feasible: true}, // zero width: dropped
		{FromMbps: 8, ToMbps: 50, Feasible: true},
	}}
	rows := RowsFromPlan(p)
	want := []Row{{1, 8, 0}, {8, 50, 2}}
	if len(rows) != len(want) || rows[0] != want[0] || rows[1] != want[1] {
		t.Fatalf("RowsFromPlan = %v; want %v", rows, want)
	}
	if _, err := NewPolicy(rows, 5, time.Second); err != nil {
		t.Errorf("a plan's table did not validate: %v", err)
	}
}

// TestDefaultSettings: the tuned defaults build a working estimator and
// policy, and the estimator's window is the setting's (1: the last
// transfer alone).
func TestDefaultSettings(t *testing.T) {
	s := DefaultSettings
	e := s.Estimator(at(0))
	for _, o := range []obs{{125000, 250 * time.Millisecond, 0}, {31250, 250 * time.Millisecond, 0}} {
		if err := e.Observe(o.bytes, o.transfer, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := e.Mbps(); !ok || got != 1 {
		t.Errorf("window-1 estimate = %v, %v; want the last transfer's 1 Mbps", got, ok)
	}
	if e.Idle(t0.Add(s.ProbeAfter-time.Millisecond)) || !e.Idle(t0.Add(s.ProbeAfter)) {
		t.Errorf("idle is not due exactly ProbeAfter (%v) after the last transfer", s.ProbeAfter)
	}
	p, err := s.Policy(table)
	if err != nil {
		t.Fatal(err)
	}
	// 50% hysteresis: from row 0 ([0, 10)), 14.9 Mbps holds and 15.1 moves up.
	p.Decide(5, t0)
	if _, sw, _ := p.Decide(14.9, t0.Add(2*time.Second)); sw {
		t.Error("14.9 Mbps left row 0 within the 50% hysteresis of its 10 Mbps boundary")
	}
	if _, sw, _ := p.Decide(15.1, t0.Add(3*time.Second)); !sw {
		t.Error("15.1 Mbps did not leave row 0")
	}
}
