package adapt

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/plan"
)

// table has breakpoints at 10 and 20 Mbps, and costs that meet there: a
// local row at 100, then 50 + 500/Mbps (100 at 10, 75 at 20), then
// 25 + 1000/Mbps (75 at 20), the shape of a cost model's switch table.
var table = []Row{
	{0, 10, 100, Line{100, 0}},
	{10, 20, 101, Line{50, 500}},
	{20, math.Inf(1), 102, Line{25, 1000}},
}

// step is one decision: the samples at t0+at and what Decide should say.
type step struct {
	at       time.Duration
	samples  []float64
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
		risk  float64
		steps []step
	}{
		// At 15 Mbps: 100, 50+33.33 = 83.33, 25+66.67 = 91.67.
		{name: "first decision takes the cheapest row", hyst: 5, dwell: 10 * s, steps: []step{
			{0, []float64{15}, 1, false, "initial: row 1, expected 83.33 over 1 samples"},
		}},
		// 5 and 40 Mbps: mean 1/Mbps is (0.2+0.025)/2 = 0.1125, so row 1
		// expects 50+56.25 = 106.25 and row 2 25+112.5 = 137.5, both above
		// row 0's 100; a point estimate at the arithmetic mean (22.5 Mbps)
		// would pick row 2.
		{name: "the expectation, not the mean rate, picks the row", hyst: 5, steps: []step{
			{0, []float64{5, 40}, 0, false, "initial: row 0, expected 100"},
		}},
		{name: "first decision clamps above the table", hyst: 5, steps: []step{{0, []float64{1e6}, 2, false, "initial: row 2"}}},
		// From row 0 at 12 Mbps row 1 expects 50+41.67 = 91.67; row 1 sends
		// more, so the hysteresis makes the sample slower: at 12/1.05 =
		// 11.43 Mbps it still costs 93.75 < 100, at 12/1.2 = 10 it ties.
		{name: "a row that wins by the hysteresis switches", hyst: 5, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{s, []float64{12}, 1, true, "switch: row 1 expected 91.67 against row 0's 100 over 1 samples, and 93.75 against 100 with them ×0.952 (5% hysteresis)"},
		}},
		{name: "a row that loses within the hysteresis holds", hyst: 20, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{s, []float64{12}, 0, false, "hold row 0: row 1 expected 91.67 against row 0's 100 over 1 samples, but with the samples ×0.833 (20% hysteresis) 100 against 100"},
			{2 * s, []float64{5}, 0, false, "hold row 0: expected 100, the lowest"},
		}},
		// Row 2 at 30 Mbps: 25+33.33 = 58.33 against row 0's 100 (60 at
		// 30/1.05).
		{name: "a jump crosses several rows at once", hyst: 5, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{s, []float64{30}, 2, true, "switch: row 2 expected 58.33"},
		}},
		{name: "dwell blocks a second switch", hyst: 5, dwell: 2 * s, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{3 * s, []float64{12}, 1, true, "switch"},
			// Row 0 sends less: the sample is made faster, 5/0.95 = 5.26
			// Mbps, where row 1 costs 145.
			{4 * s, []float64{5}, 1, false, "dwell: row 0 expected 100 against row 1's 150 over 1 samples, and 100 against 145 with them ×1.05 (5% hysteresis), but row 1 entered 1s ago (< 2s)"},
			{5 * s, []float64{5}, 0, true, "switch: row 0"},
		}},
		{name: "dwell counts from the first decision", hyst: 5, dwell: 2 * s, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{s, []float64{15}, 0, false, "dwell"},
			{2 * s, []float64{15}, 1, true, "switch"},
		}},
		{name: "no hysteresis switches at any gain", hyst: 0, steps: []step{
			{0, []float64{9.99}, 0, false, "initial"},
			{s, []float64{10.01}, 1, true, "switch"},
			{2 * s, []float64{9.99}, 0, true, "switch"},
		}},
		// 8, 30, 30 Mbps: row 1 expects 50+500·(1/8+2/30)/3 = 81.94, row 2
		// 25+1000·0.19167/3 = 88.89, row 0 100 (row 1 83.54 with the
		// samples ×1/1.05). Row 1's costs are 112.5, 66.67, 66.67: its
		// worst (quantile 1) is above row 0's 100, its median (0.5) below.
		{name: "risk check: worse at the quantile holds", hyst: 5, risk: 1, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{s, []float64{8, 30, 30}, 0, false, "but at the 1 quantile row 1 costs 112.5, not less than row 0's 100"},
		}},
		{name: "risk check: better at the quantile switches", hyst: 5, risk: 0.5, steps: []step{
			{0, []float64{5}, 0, false, "initial"},
			{s, []float64{8, 30, 30}, 1, true, "switch: row 1 expected 81.94 against row 0's 100 over 3 samples, and 83.54 against 100"},
		}},
		// Back to the safe row: row 0's 100 is below row 1's 150 at 5 Mbps
		// at every quantile.
		{name: "risk check lets a slow sample move to the local row", hyst: 5, risk: 1, steps: []step{
			{0, []float64{15}, 1, false, "initial"},
			{s, []float64{15, 5}, 0, true, "switch: row 0"},
		}},
		{name: "no samples or a bad one keep the row", hyst: 5, steps: []step{
			{0, nil, -1, false, "no samples: keep row -1"},
			{0, []float64{math.NaN()}, -1, false, "not a rate: keep row -1"},
			{0, []float64{15}, 1, false, "initial"},
			{s, []float64{5, -1}, 1, false, "sample -1 Mbps is not a rate: keep row 1"},
			{2 * s, []float64{0}, 1, false, "not a rate"},
			{3 * s, []float64{math.Inf(1)}, 1, false, "not a rate"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(table, tc.hyst, tc.dwell, tc.risk)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for i, st := range tc.steps {
				row, switched, reason := p.Decide(st.samples, t0.Add(st.at))
				if row != st.row || switched != st.switched || !strings.Contains(reason, st.reason) {
					t.Errorf("step %d: Decide(%v, t0+%v) = %d, %v, %q; want %d, %v, reason containing %q",
						i, st.samples, st.at, row, switched, reason, st.row, st.switched, st.reason)
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

// TestPolicyExpected checks the expectation and the quantile by hand.
func TestPolicyExpected(t *testing.T) {
	p, err := NewPolicy(table, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	samples := []float64{8, 30, 30}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"row 0 expected", p.Expected(0, samples), 100},
		{"row 1 expected", p.Expected(1, samples), 50 + 500*(1.0/8+2.0/30)/3},
		{"row 2 expected", p.Expected(2, samples), 25 + 1000*(1.0/8+2.0/30)/3},
		{"row 1 quantile 1", p.Quantile(1, samples, 1), 112.5},
		{"row 1 quantile 0.5", p.Quantile(1, samples, 0.5), 50 + 500.0/30},
		{"row 2 quantile 0.34", p.Quantile(2, samples, 0.34), 25 + 1000.0/30},
		{"row 2 quantile 0.67", p.Quantile(2, samples, 0.67), 150},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
}

// TestPolicyStepTrace drives the estimator with a step of the uplink from 5
// to 25 Mbps and back, one 1-second transfer a second, and checks the exact
// switch sequence. With 8 samples, k of them at 25 Mbps, the mean m of
// 1/Mbps is 0.2 − 0.02k, so row 1 expects 50 + 500m = 150 − 10k and row 2
// 25 + 1000m = 225 − 20k against row 0's 100; the 5% hysteresis scales m
// by 1.05 on the way up and 0.95 on the way down. Up: row 1 is first the
// cheapest at k = 6 (second 13; 90, or 92 with m×1.05); at k = 8 (second
// 15) row 2's 65 beats row 1's 70 (67 against 71), 2 s after the last
// switch. Down: at second 16 (k = 7) row 1's 80 beats row 2's 85 inside the
// dwell; at 17 (k = 6) 90 against 105 moves to row 1; at 18 (k = 5) row 0
// ties row 1 at 100 and the row holds; at 19 (k = 4) 100 against 110 (107
// with m×0.95) moves to row 0.
func TestPolicyStepTrace(t *testing.T) {
	var now time.Time
	e := Estimator{Window: 8, Now: func() time.Time { return now }}
	p, err := NewPolicy(table, 5, 2*time.Second, 0)
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
		before := p.Current()
		row, switched, reason := p.Decide(e.Rates(), now)
		if switched {
			got = append(got, sw{sec, before, row})
			t.Logf("second %d: %s", sec, reason)
		}
	}
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
		risk  float64
		want  string
	}{
		{"empty", nil, 5, 0, 0, "switch table is empty"},
		{"negative hysteresis", table, -1, 0, 0, "hysteresis -1%: want a percentage in [0, 100)"},
		{"hysteresis 100", table, 100, 0, 0, "hysteresis 100%"},
		{"NaN hysteresis", table, math.NaN(), 0, 0, "hysteresis NaN%"},
		{"negative dwell", table, 5, -time.Second, 0, "dwell -1s"},
		{"risk above 1", table, 5, 0, 1.5, "risk quantile 1.5: want a fraction in [0, 1]"},
		{"NaN risk", table, 5, 0, math.NaN(), "risk quantile NaN"},
		{"negative from", []Row{{FromMbps: -1, ToMbps: 10}}, 5, 0, 0, "row 0: from_mbps -1: want a finite non-negative rate"},
		{"empty range", []Row{{FromMbps: 0, ToMbps: 10}, {FromMbps: 10, ToMbps: 10, ID: 1}}, 5, 0, 0, "row 1: to_mbps 10: want more than from_mbps 10"},
		{"NaN to", []Row{{FromMbps: 0, ToMbps: math.NaN()}}, 5, 0, 0, "row 0: to_mbps NaN"},
		{"gap", []Row{{FromMbps: 0, ToMbps: 10}, {FromMbps: 12, ToMbps: 20, ID: 1}}, 5, 0, 0, "row 1: from_mbps 12: want 10, where row 0 ends"},
		{"unsorted", []Row{{FromMbps: 10, ToMbps: 20}, {FromMbps: 0, ToMbps: 10, ID: 1}}, 5, 0, 0, "row 1: from_mbps 0: want 20"},
		{"unbounded middle row", []Row{{FromMbps: 0, ToMbps: inf}, {FromMbps: inf, ToMbps: inf, ID: 1}}, 5, 0, 0, "row 0: to_mbps +Inf: only the last row may be unbounded"},
		{"NaN cost", []Row{{FromMbps: 0, ToMbps: 10, Cost: Line{math.NaN(), 0}}}, 5, 0, 0, "row 0: cost NaN + 0/Mbps: want finite numbers"},
		{"infinite slope", []Row{{FromMbps: 0, ToMbps: 10, Cost: Line{1, inf}}}, 5, 0, 0, "row 0: cost 1 + +Inf/Mbps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPolicy(tc.rows, tc.hyst, tc.dwell, tc.risk)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestChord: the line through a row's two end costs, by hand.
func TestChord(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		from, to, costFrom, costTo float64
		want                       Line
	}{
		// 50 + 500/Mbps is 300 at 2 and 100 at 10: slope 200/(0.5−0.1).
		{"a remote row", 2, 10, 300, 100, Line{50, 500}},
		{"a local row", 0.5, 8, 42, 42, Line{42, 0}},
		{"from 0: no slope", 0, 10, math.Inf(1), 7, Line{7, 0}},
		{"unbounded: no slope", 10, math.Inf(1), 9, 5, Line{9, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Chord(tc.from, tc.to, tc.costFrom, tc.costTo)
			if math.Abs(got.Fixed-tc.want.Fixed) > 1e-9 || math.Abs(got.PerInvMbps-tc.want.PerInvMbps) > 1e-9 {
				t.Errorf("Chord(%g, %g, %g, %g) = %+v; want %+v", tc.from, tc.to, tc.costFrom, tc.costTo, got, tc.want)
			}
		})
	}
}

func TestRowsFromPlan(t *testing.T) {
	p := &plan.Plan{SwitchTable: []plan.Switch{
		{FromMbps: 1, ToMbps: 8, Feasible: false},
		{FromMbps: 8, ToMbps: 8, Feasible: true}, // zero width: dropped
		{FromMbps: 8, ToMbps: 50, Feasible: true, ObjectiveFrom: 50 + 500.0/8, ObjectiveTo: 60},
	}}
	rows := RowsFromPlan(p)
	want := []Row{{1, 8, 0, Line{}}, {8, 50, 2, Line{50, 500}}}
	if len(rows) != len(want) || rows[0] != want[0] || rows[1].ID != 2 || math.Abs(rows[1].Cost.Fixed-50) > 1e-9 || math.Abs(rows[1].Cost.PerInvMbps-500) > 1e-9 {
		t.Fatalf("RowsFromPlan = %v; want %v", rows, want)
	}
	if _, err := NewPolicy(rows, 5, time.Second, 0.5); err != nil {
		t.Errorf("a plan's table did not validate: %v", err)
	}
}

// TestDefaultSettings: the tuned defaults build a working estimator and
// policy: the estimator keeps the setting's window, a probe is due
// ProbeAfter after the last sample, and the policy leaves a local row for
// a sending one only when a sample clears the break-even uplink by the
// hysteresis.
func TestDefaultSettings(t *testing.T) {
	s := DefaultSettings
	e := s.Estimator(at(0))
	for i := range s.Window + 2 {
		if err := e.Observe(125000, time.Duration(i+1)*time.Second, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Rates(); len(got) != s.Window || got[len(got)-1] != 1.0/float64(s.Window+2) {
		t.Errorf("Rates() = %v; want the last %d transfers, ending at %v Mbps", got, s.Window, 1.0/float64(s.Window+2))
	}
	if e.Idle(t0.Add(s.ProbeAfter-time.Millisecond)) || !e.Idle(t0.Add(s.ProbeAfter)) {
		t.Errorf("idle is not due exactly ProbeAfter (%v) after the last transfer", s.ProbeAfter)
	}
	// Rows 0 and 1 of table break even at 10 Mbps; row 2 is dearer than
	// row 1 below 20.
	edge := 10 * (1 + s.HysteresisPct/100)
	if edge > 19 {
		t.Fatalf("hysteresis %g%% takes the test past row 1", s.HysteresisPct)
	}
	for _, tc := range []struct {
		name string
		mbps float64
		want bool
	}{
		{"just inside the hysteresis holds", edge * 0.99, false},
		{"just past it switches", edge * 1.01, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Policy(table)
			if err != nil {
				t.Fatal(err)
			}
			p.Decide([]float64{5}, t0)
			samples := make([]float64, s.Window)
			for i := range samples {
				samples[i] = tc.mbps
			}
			if _, sw, reason := p.Decide(samples, t0.Add(s.Dwell)); sw != tc.want {
				t.Errorf("%.4g Mbps from row 0: switched %v, want %v (%s)", tc.mbps, sw, tc.want, reason)
			}
		})
	}
}
