package linkemu

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTraceRefusesBadTraces(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "trace: no delivery opportunities"},
		{"word", "1\nabc\n", `trace:2: "abc" is not a whole`},
		{"negative", "-1\n", `trace:1: "-1" is not a whole`},
		{"fraction", "1\n1.5\n", `trace:2: "1.5" is not a whole`},
		{"blank line inside", "1\n\n2\n", `trace:2: "" is not a whole`},
		{"decreasing", "1\n5\n3\n", "trace:3: 3 ms comes before the previous line's 5 ms"},
		{"zero length", "0\n0\n", "trace:2: the trace must last at least 1 ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrace(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseTrace(%q) error = %v, want it to contain %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestLoadTraceNamesFile(t *testing.T) {
	_, err := LoadTrace(filepath.Join("testdata", "README.md"))
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join("testdata", "README.md")+":1: ") {
		t.Fatalf("error = %v, want it to start with the file and line 1", err)
	}
}

func TestParseTrace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		ms     []int64
		period time.Duration
		mbps   float64
	}{
		{"one MTU per ms", "1\n", []int64{1}, time.Millisecond, 12},
		{"no final newline, spaces", " 2\n2\n4", []int64{2, 2, 4}, 4 * time.Millisecond, 9},
		{"starts at zero", "0\n3\n", []int64{0, 3}, 3 * time.Millisecond, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTrace(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tr.ms, tc.ms) || tr.Period() != tc.period || tr.MeanMbps() != tc.mbps {
				t.Fatalf("got %v period %v %v Mbps, want %v period %v %v Mbps", tr.ms, tr.Period(), tr.MeanMbps(), tc.ms, tc.period, tc.mbps)
			}
		})
	}
}

func TestConstantTrace(t *testing.T) {
	for _, tc := range []struct {
		mbps float64
		ms   []int64
	}{
		{10, []int64{2, 3, 4, 5, 6}},
		{12, []int64{1}},
		{24, []int64{1, 1}},
		{6, []int64{2}},
		{1, []int64{12}},
		{18, []int64{1, 2, 2}},
		{0.5, []int64{24}},
	} {
		t.Run(fmt.Sprintf("%v Mbps", tc.mbps), func(t *testing.T) {
			tr, err := ConstantTrace(tc.mbps)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tr.ms, tc.ms) || tr.MeanMbps() != tc.mbps {
				t.Fatalf("ConstantTrace(%v) = %v (%v Mbps), want %v", tc.mbps, tr.ms, tr.MeanMbps(), tc.ms)
			}
		})
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1), 0.0001234} {
		if _, err := ConstantTrace(bad); err == nil {
			t.Errorf("ConstantTrace(%v) accepted", bad)
		}
	}
	// Any rate with three decimals is exact.
	tr, err := ConstantTrace(7.123)
	if err != nil || math.Abs(tr.MeanMbps()-7.123) > 1e-12 {
		t.Fatalf("ConstantTrace(7.123) = %v Mbps, %v", tr.MeanMbps(), err)
	}
}

// The means and durations stated in testdata/README.md.
func TestRealTraces(t *testing.T) {
	for _, tc := range []struct {
		file     string
		seconds  float64
		meanMbps float64
	}{
		{"ATT-LTE-driving.up", 1012.5, 0.83},
		{"TMobile-UMTS-driving.up", 931.2, 0.94},
		{"Verizon-EVDO-driving.up", 1064.7, 0.84},
		{"Verizon-LTE-short.up", 140.0, 5.95},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tr, err := LoadTrace(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.Period().Seconds(); math.Abs(got-tc.seconds) > 0.05 {
				t.Errorf("duration %.3f s, README says %.1f s", got, tc.seconds)
			}
			if got := tr.MeanMbps(); math.Abs(got-tc.meanMbps) > 0.005 {
				t.Errorf("mean %.4f Mbps, README says %.2f Mbps", got, tc.meanMbps)
			}
		})
	}
}

// departures runs packets arriving at the given times through a schedule.
func departures(tr *Trace, arrivals ...time.Duration) []time.Duration {
	s := schedule{t: tr}
	var out []time.Duration
	for _, a := range arrivals {
		out = append(out, s.depart(a))
	}
	return out
}

func ms(v ...int64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestScheduleFollowsTraceInVirtualTime(t *testing.T) {
	tr, err := ParseTrace(strings.NewReader("2\n2\n5\n"))
	if err != nil {
		t.Fatal(err)
	}
	zero, err := ParseTrace(strings.NewReader("0\n3\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		tr       *Trace
		arrivals []time.Duration
		want     []time.Duration
	}{
		{"backlog at 0 uses every opportunity and repeats", tr, ms(0, 0, 0, 0, 0, 0, 0), ms(2, 2, 5, 7, 7, 10, 12)},
		{"idle opportunities are lost", tr, ms(0, 6, 6, 6, 30), ms(2, 7, 7, 10, 30)},
		{"between milliseconds waits for the next", tr, []time.Duration{1500 * time.Microsecond, 5001 * time.Microsecond}, ms(2, 7)},
		{"exactly on an opportunity goes at once", tr, ms(5, 10), ms(5, 10)},
		{"period boundary holds two opportunities", zero, ms(0, 0, 0, 6, 6, 6), ms(0, 3, 3, 6, 6, 9)},
		{"far into a later repetition", tr, ms(5_000_001), ms(5_000_002)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := departures(tc.tr, tc.arrivals...); !slices.Equal(got, tc.want) {
				t.Fatalf("departures %v, want %v", got, tc.want)
			}
		})
	}
}

// A backlogged link uses exactly the trace's opportunities, period after
// period.
func TestScheduleReplaysRealTrace(t *testing.T) {
	tr, err := LoadTrace(filepath.Join("testdata", "Verizon-LTE-short.up"))
	if err != nil {
		t.Fatal(err)
	}
	s := schedule{t: tr}
	for rep := int64(0); rep < 2; rep++ {
		for i, m := range tr.ms {
			want := time.Duration(rep*tr.period+m) * time.Millisecond
			if got := s.depart(0); got != want {
				t.Fatalf("repetition %d, packet %d left at %v, trace says %v", rep, i, got, want)
			}
		}
	}
}

// TestTraceWriteTo: a constant trace written out parses back to the same
// opportunities, 1000 Mbps as 250 packets every 3 ms (a millisecond
// repeated for every packet it carries).
func TestTraceWriteTo(t *testing.T) {
	for _, mbps := range []float64{1, 10, 1000} {
		tr, err := ConstantTrace(mbps)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if _, err := tr.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		back, err := ParseTrace(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("%v Mbps: %v", mbps, err)
		}
		if !slices.Equal(back.ms, tr.ms) || back.period != tr.period || back.MeanMbps() != mbps {
			t.Errorf("%v Mbps: read back %d opportunities over %d ms (%v Mbps), want %d over %d", mbps, len(back.ms), back.period, back.MeanMbps(), len(tr.ms), tr.period)
		}
	}
	tr, _ := ConstantTrace(1000)
	if tr.Len() != 250 || tr.Period() != 3*time.Millisecond {
		t.Errorf("1000 Mbps: %d opportunities every %v, want 250 every 3ms", tr.Len(), tr.Period())
	}
}
