package cli

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepStackBand: with --stack the JSON gives each feasible segment the
// edge stack's latency band (edge ms scaled by 1 ± the expected error, so
// lower ≤ optimum ≤ upper and the width is 2·e·edge), the table gains a
// column and the plot files are written; without --stack there is no band.
func TestSweepStackBand(t *testing.T) {
	type segment struct {
		Feasible      bool         `json:"feasible"`
		Cut           string       `json:"cut"`
		ObjectiveFrom float64      `json:"objective_from"`
		ObjectiveTo   float64      `json:"objective_to"`
		Band          *latencyBand `json:"latency_band"`
	}
	sweep := func(extra ...string) []segment {
		t.Helper()
		args := append([]string{"sweep", "resnet18", "--device", "rpi4", "--server", "h100", "-o", "json"}, extra...)
		stdout, stderr, code := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var got struct {
			Segments []segment `json:"segments"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stdout, "latency_band") != (len(extra) > 0) {
			t.Errorf("%v: latency_band in the JSON: %v", args, strings.Contains(stdout, "latency_band"))
		}
		return got.Segments
	}
	for _, s := range sweep() {
		if s.Band != nil {
			t.Errorf("segment %s has a band without --stack: %+v", s.Cut, s.Band)
		}
	}
	dir := t.TempDir()
	png := filepath.Join(dir, "band.png")
	segs := sweep("--stack", "ncnn", "--plot", png)
	withEdge := 0
	for _, s := range segs {
		b := s.Band
		if b == nil {
			t.Fatalf("segment %s has no band: %+v", s.Cut, s)
		}
		e := b.ExpectedErrorPct / 100
		if b.Stack != "ncnn" || !(e > 0 && e < 1) || b.EdgeMS < 0 {
			t.Errorf("segment %s: band %+v", s.Cut, b)
		}
		if b.EdgeMS > 0 {
			withEdge++
		}
		if math.Abs(b.PlusMinusMS-e*b.EdgeMS) > 1e-9 {
			t.Errorf("segment %s: ±%g ms, want %g%% of %g ms", s.Cut, b.PlusMinusMS, b.ExpectedErrorPct, b.EdgeMS)
		}
		for _, end := range []struct{ lo, y, hi float64 }{{b.LowerFrom, s.ObjectiveFrom, b.UpperFrom}, {b.LowerTo, s.ObjectiveTo, b.UpperTo}} {
			if !(end.lo <= end.y && end.y <= end.hi) || math.Abs(end.hi-end.lo-2*e*b.EdgeMS) > 1e-9 {
				t.Errorf("segment %s: band [%g, %g] around %g, want width 2·%g·%g", s.Cut, end.lo, end.hi, end.y, e, b.EdgeMS)
			}
		}
	}
	if withEdge == 0 {
		t.Errorf("no segment computes on the edge, so every band is empty: %+v", segs)
	}
	for _, f := range []string{png, filepath.Join(dir, "band.svg")} {
		if st, err := os.Stat(f); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if svg, _ := os.ReadFile(filepath.Join(dir, "band.svg")); !strings.Contains(string(svg), "expected range") {
		t.Error("the plot draws no band")
	}
	stdout, stderr, code := run(t, "sweep", "resnet18", "--device", "rpi4", "--server", "h100", "--stack", "ncnn")
	if code != 0 || !strings.Contains(stdout, "EDGE ms ± ERR") || !strings.Contains(stdout, "rpi4 (ncnn, ±") {
		t.Errorf("table: exit %d: %s%s", code, stdout, stderr)
	}
	stdout, _, _ = run(t, "sweep", "resnet18", "--device", "rpi4", "--server", "h100", "--stack", "ncnn", "--objective", "energy", "-o", "json")
	if strings.Contains(stdout, "latency_band") || !strings.Contains(stdout, "band is on latency") {
		t.Errorf("energy objective: want no band and a note saying why: %s", stdout)
	}
}
