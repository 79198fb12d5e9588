package experiments

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/optimizer"
)

func catalog(t *testing.T) *hwprofiles.Catalog {
	t.Helper()
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestFixedPlanLatencyIsTheCostModels: over a constant trace every request
// of a fixed plan takes what the cost model predicts at that rate, to
// within one packet's time and the trace's millisecond (the packets cross
// at whole opportunities, the model divides bytes by the rate), and the
// simulation's reading of a plan's timing is the cost model's exactly.
func TestFixedPlanLatencyIsTheCostModels(t *testing.T) {
	cat := catalog(t)
	a := DefaultAdaptive(nil)
	for _, c := range []Combo{{"resnet18", "rpi4", "h100"}, {"vgg16", "rpi5", "epyc-16c"}} {
		cp, err := a.plans(cat, c, "4g")
		if err != nil {
			t.Fatal(err)
		}
		plans := append([]simPlan{cp.local, cp.remote}, cp.plans...)
		for _, mbps := range []float64{1.2, 10, 96} {
			tr, err := linkemu.ConstantTrace(mbps)
			if err != nil {
				t.Fatal(err)
			}
			tol := 1500*8/(mbps*1e3) + 1
			for _, sp := range plans {
				r := simulateFixed(tr, sp, 20*time.Second)
				want := sp.modelMS(mbps)
				for i, got := range r.latencyMS {
					if math.Abs(got-want) > tol {
						t.Errorf("%s, %s at %g Mbps: request %d took %.3f ms, the cost model says %.3f (± %.2f)", c, sp.label, mbps, i, got, want, tol)
						break
					}
				}
			}
		}
		// The decomposition: a + transfer is the cost model's total.
		p := problemFor(t, cat, c)
		r, err := optimizer.Solve(p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []optimizer.Evaluated{r.Baselines.LocalOnly, r.Baselines.RemoteOnly, r.Baselines.MTLSplit} {
			sp, err := newSimPlan(p, e)
			if err != nil {
				t.Fatal(err)
			}
			for _, mbps := range []float64{0.5, 7, 300} {
				ev, err := p.Evaluate(e.Placement, mbps)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := sp.modelMS(mbps), ev.Cost.TotalMS; math.Abs(got-want) > 1e-9*want {
					t.Errorf("%s, %s at %g Mbps: simulated model %.6f ms, cost model %.6f", c, e.Label, mbps, got, want)
				}
			}
		}
	}
}

func problemFor(t *testing.T, cat *hwprofiles.Catalog, c Combo) *optimizer.Problem {
	t.Helper()
	p, err := DefaultAdaptive(nil).problem(cat, c, "4g")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stepTrace is WiFi-like for the first half (24 Mbps: two packets every
// ms), 3G-like after (1.2 Mbps: one packet every 10 ms).
func stepTrace(t *testing.T, halfS int) *linkemu.Trace {
	var b strings.Builder
	for ms := 1; ms <= halfS*1000; ms++ {
		fmt.Fprintf(&b, "%d\n%d\n", ms, ms)
	}
	for ms := halfS*1000 + 10; ms <= 2*halfS*1000; ms += 10 {
		fmt.Fprintf(&b, "%d\n", ms)
	}
	tr, err := linkemu.ParseTrace(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestAdaptiveFollowsAStep: resnet18 on a Raspberry Pi 4 with an H100
// switches between sending the image and running locally at 5.9 Mbps. On
// WiFi-like 24 Mbps it sends the image; when the uplink drops to a
// 3G-like 1.2 Mbps mid-run, the first two requests whose transfers cross
// the slow link measure it (with the default window of 4 and 50%
// hysteresis one slow sample against three fast is not enough, two are),
// and the next one runs locally: the cut moves within 3 requests of the
// drop (as in splitrun's TestAdaptiveFollowsUplinkDrop), and stays.
func TestAdaptiveFollowsAStep(t *testing.T) {
	cat := catalog(t)
	a := DefaultAdaptive([]NamedTrace{{Name: "step", Network: "4g", Trace: stepTrace(t, 30)}})
	a.Combos = []Combo{{"resnet18", "rpi4", "h100"}}
	rows, lines, err := a.Run(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	tl := lines[0]
	remote, local := -1, -1
	for i, l := range tl.Labels {
		switch {
		case strings.HasPrefix(l, "input/"):
			remote = i
		case strings.HasSuffix(l, "/EE") && strings.Contains(l, "/none/"):
			local = i
		}
	}
	if remote < 0 || local < 0 {
		t.Fatalf("switch table %v lacks the image and local-only rows", tl.Labels)
	}
	const within = 3
	first := -1 // the first request started after the drop
	for i, s := range tl.StartS {
		switch {
		case s < 30:
			if s > 1 && tl.Row[i] != remote { // after the first request's probe
				t.Fatalf("request %d at %.2f s on WiFi ran %s, want %s", i, s, tl.Labels[tl.Row[i]], tl.Labels[remote])
			}
		case first < 0:
			first = i
		}
	}
	moved := -1
	for i := first - 1; i < len(tl.Row); i++ {
		if tl.Row[i] == local {
			moved = i
			break
		}
	}
	if moved < 0 || moved-first >= within {
		t.Fatalf("the cut moved at request %d, %d after the drop; want within %d", moved, moved-first, within)
	}
	for i := moved; i < len(tl.Row); i++ {
		if tl.Row[i] != local && tl.StartS[i] > tl.StartS[moved]+a.Policy.Dwell.Seconds() {
			// Probes every ProbeAfter see 1.2 Mbps, far below the boundary.
			t.Fatalf("request %d at %.2f s went back to %s on the slow link", i, tl.StartS[i], tl.Labels[tl.Row[i]])
		}
	}
	t.Logf("drop at 30 s: request %d starts at %.3f s; local from request %d; %d switches; adaptive mean %.1f ms", first, tl.StartS[first], moved, tl.Switches(), rows[0].MeanMS)
}

// TestAdaptiveDeterministic: the same study twice gives the same numbers
// and timelines, to the bit.
func TestAdaptiveDeterministic(t *testing.T) {
	cat := catalog(t)
	nt, err := LoadTrace("../linkemu/testdata/Verizon-LTE-short.up")
	if err != nil {
		t.Fatal(err)
	}
	a := DefaultAdaptive([]NamedTrace{nt})
	a.Combos = []Combo{{"resnet18", "rpi4", "h100"}}
	a.Duration = 30 * time.Second
	r1, l1, err := a.Run(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, l2, err := a.Run(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(l1, l2) {
		t.Error("two runs of the same study differ")
	}
	if len(r1) != 5 || r1[0].Strategy != StratAdaptive || r1[0].Requests < 50 {
		t.Fatalf("rows %+v: want 5 strategies, adaptive first, over 50 requests in 30 s", r1)
	}
	// The mean-bandwidth plan is a row of the table: the best fixed row
	// is at least as fast.
	if r1[1].Strategy != StratBestFixed || r1[2].Strategy != StratMeanPlan || r1[2].MeanMS < r1[1].MeanMS {
		t.Errorf("best fixed %s %.1f ms, mean-bandwidth plan %s %.1f ms", r1[1].Plan, r1[1].MeanMS, r1[2].Plan, r1[2].MeanMS)
	}
}

// TestAdaptiveRejects: a bad combo names what is wrong.
func TestAdaptiveRejects(t *testing.T) {
	cat := catalog(t)
	tr, _ := linkemu.ConstantTrace(10)
	for _, tc := range []struct {
		name  string
		combo Combo
		want  string
	}{
		{"model", Combo{"resnet19", "rpi4", "h100"}, "resnet19"},
		{"device", Combo{"resnet18", "rpi6", "h100"}, "rpi6"},
		{"server", Combo{"resnet18", "rpi4", "h200"}, "h200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := DefaultAdaptive([]NamedTrace{{Name: "c", Network: "4g", Trace: tr}})
			a.Combos = []Combo{tc.combo}
			_, _, err := a.Run(cat, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v; want one line naming %q", err, tc.want)
			}
		})
	}
}

// TestCommittedAdaptive recomputes results/adaptive and fails when the
// committed CSV or README no longer say what the code computes: run
// `make figures` (or mtlsplit experiment adaptive --tune --force) to refresh them.
func TestCommittedAdaptive(t *testing.T) {
	cat := catalog(t)
	paths, err := filepath.Glob("../linkemu/testdata/*.up")
	if err != nil || len(paths) != 4 {
		t.Fatalf("traces: %v, %v", paths, err)
	}
	var traces []NamedTrace
	for _, p := range paths {
		nt, err := LoadTrace(p)
		if err != nil {
			t.Fatal(err)
		}
		traces = append(traces, nt)
	}
	a := DefaultAdaptive(traces)
	rows, lines, err := a.Run(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := "../results/adaptive"
	for name, want := range map[string][]byte{"adaptive.csv": AdaptiveCSV(rows), "README.md": AdaptiveSummary(a, rows, lines)} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s/%s is stale (run make figures, or mtlsplit experiment adaptive --tune --force): first difference at line %d", dir, name, firstDiffLine(got, want))
		}
	}
	for _, f := range AdaptiveFiles(nil) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	for _, tl := range figureTimelines(lines) {
		for _, ext := range []string{".png", ".svg"} {
			if _, err := os.Stat(filepath.Join(dir, figureName(tl.Trace)+ext)); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestTuneRule orders settings by the stated rule.
func TestTuneRule(t *testing.T) {
	row := func(worst, geo float64, dwell time.Duration, window int) TuneRow {
		return TuneRow{Policy: PolicySettings{Window: window, Dwell: dwell}, WorstRatio: worst, GeoMeanRatio: geo}
	}
	for _, tc := range []struct {
		name string
		a, b TuneRow
		want bool
	}{
		{"lower worst case wins over lower mean", row(1.004, 0.995, 0, 1), row(1.03, 0.99, 0, 1), true},
		{"worst-case tie: lower geometric mean", row(1.0046, 0.9931, 0, 1), row(1.00461, 0.9940, 0, 1), true},
		{"full tie: longer dwell", row(1.0046, 0.9931, time.Second, 1), row(1.0046, 0.9931, 0, 1), true},
		{"then the larger window", row(1.0046, 0.9931, 0, 1), row(1.0046, 0.9931, 0, 4), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := better(tc.a, tc.b); got != tc.want {
				t.Errorf("better(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}
