package adapt

import (
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// at returns a clock stopped at t0+d, for Estimator.Now.
func at(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

type obs struct {
	bytes    int64
	transfer time.Duration
	at       time.Duration // after t0
}

func TestEstimatorMbps(t *testing.T) {
	// 125000 bytes in 250 ms is 4 Mbps; 250 ms and 4 are exact in binary, so
	// a constant throughput must come back exactly.
	four := obs{125000, 250 * time.Millisecond, 0}
	repeat := func(o obs, n int, step time.Duration) []obs {
		var out []obs
		for i := range n {
			o.at = time.Duration(i) * step
			out = append(out, o)
		}
		return out
	}
	outlier := append(repeat(four, 7, time.Second), obs{12500000, 250 * time.Millisecond, 7 * time.Second}) // one at 400 Mbps
	slowThenFour := append(repeat(obs{31250, 250 * time.Millisecond, 0}, 4, 0), repeat(four, 8, time.Second)...)
	for i := 4; i < len(slowThenFour); i++ {
		slowThenFour[i].at += time.Second
	}
	tests := []struct {
		name   string
		window int
		obs    []obs
		now    time.Duration
		want   float64
		wantOK bool
	}{
		{name: "none", now: 0, wantOK: false},
		{name: "constant throughput exactly", obs: repeat(four, 8, time.Second), now: 8 * time.Second, want: 4, wantOK: true},
		{name: "constant over a partly filled window", obs: repeat(four, 3, time.Second), now: 3 * time.Second, want: 4, wantOK: true},
		// Harmonic: 8 / (7/4 + 1/400) = 4.5649; the arithmetic mean would be 53.5.
		{name: "one fast outlier barely moves it", obs: outlier, now: 8 * time.Second, want: 8 / (7.0/4 + 1.0/400), wantOK: true},
		// Four 1 Mbps samples were pushed out of the 8-sample window.
		{name: "window keeps the last N", obs: slowThenFour, now: 12 * time.Second, want: 4, wantOK: true},
		// Window 2: only the last two samples (4 and 400) count: 2/(1/4+1/400).
		{name: "window set", window: 2, obs: outlier, now: 8 * time.Second, want: 2 / (1.0/4 + 1.0/400), wantOK: true},
		// A 1 Mbps sample at 0 and a 4 Mbps one at 40 s; at 45 s only the second is younger than 30 s.
		{name: "old samples expire", obs: []obs{{31250, 250 * time.Millisecond, 0}, {125000, 250 * time.Millisecond, 40 * time.Second}}, now: 45 * time.Second, want: 4, wantOK: true},
		{name: "all samples expired", obs: []obs{{125000, 250 * time.Millisecond, 0}}, now: 31 * time.Second, wantOK: false},
		// Both live: 2 / (1/1 + 1/4) = 1.6.
		{name: "both live before expiry", obs: []obs{{31250, 250 * time.Millisecond, 0}, {125000, 250 * time.Millisecond, 10 * time.Second}}, now: 30 * time.Second, want: 1.6, wantOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Estimator{Window: tc.window, Now: at(tc.now)}
			for _, o := range tc.obs {
				if err := e.Observe(o.bytes, o.transfer, t0.Add(o.at)); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := e.Mbps()
			if ok != tc.wantOK || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Mbps() = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
			if tc.name == "constant throughput exactly" && got != 4 {
				t.Errorf("constant 4 Mbps came back as %v, not exactly 4", got)
			}
		})
	}
}

func TestEstimatorObserveRejects(t *testing.T) {
	tests := []struct {
		name     string
		bytes    int64
		transfer time.Duration
		want     string
	}{
		{"no bytes", 0, time.Second, "bytes 0: want a positive byte count"},
		{"negative bytes", -5, time.Second, "bytes -5"},
		{"no time", 100, 0, "transfer time 0s for 100 bytes: want a positive duration"},
		{"negative time", 100, -time.Millisecond, "transfer time -1ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Estimator{Now: at(0)}
			err := e.Observe(tc.bytes, tc.transfer, t0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to contain %q", err, tc.want)
			}
			if _, ok := e.Mbps(); ok || e.Samples() != 0 || !e.Idle(t0) {
				t.Errorf("a rejected transfer changed the estimator: %d samples", e.Samples())
			}
		})
	}
}

func TestEstimatorIdle(t *testing.T) {
	e := Estimator{IdleAfter: 5 * time.Second}
	if !e.Idle(t0) {
		t.Error("an estimator with no sample should want a probe")
	}
	if err := e.Observe(1000, time.Millisecond, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		now  time.Duration
		want bool
	}{
		{"just after", 0, false},
		{"before D", 4999 * time.Millisecond, false},
		{"at D", 5 * time.Second, true},
		{"after D", time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.Idle(t0.Add(tc.now)); got != tc.want {
				t.Errorf("Idle(t0+%v) = %v; want %v", tc.now, got, tc.want)
			}
		})
	}
	// A late report of an older transfer must not restart the idle clock.
	if err := e.Observe(1000, time.Millisecond, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !e.Idle(t0.Add(5 * time.Second)) {
		t.Error("an older sample moved the idle clock back")
	}
}

// TestEstimatorRates: the live samples of the window, oldest first, as the
// policy takes its expectation over them.
func TestEstimatorRates(t *testing.T) {
	ms250 := 250 * time.Millisecond
	// 1, 4, 2 and 8 Mbps at 0, 10, 20 and 35 s; a window of 3 drops the first.
	o := []obs{{31250, ms250, 0}, {125000, ms250, 10 * time.Second}, {62500, ms250, 20 * time.Second}, {250000, ms250, 35 * time.Second}}
	for _, tc := range []struct {
		name string
		now  time.Duration
		want []float64
	}{
		{"the window's samples", 35 * time.Second, []float64{4, 2, 8}},
		// At 41 s the 4 Mbps sample is 31 s old, past the 30 s MaxAge.
		{"expired samples left out", 41 * time.Second, []float64{2, 8}},
		{"all expired", 66 * time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Estimator{Window: 3, Now: at(tc.now)}
			for _, x := range o {
				if err := e.Observe(x.bytes, x.transfer, t0.Add(x.at)); err != nil {
					t.Fatal(err)
				}
			}
			got := e.Rates()
			if len(got) != len(tc.want) {
				t.Fatalf("Rates() = %v; want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Rates() = %v; want %v", got, tc.want)
				}
			}
		})
	}
}
