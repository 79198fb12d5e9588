package experiments

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
)

func TestScenarios(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	s := Scenarios{Models: []string{"resnet18", "efficientnet_b0"}, Devices: []string{"rpi4", "jetson-nano"},
		Networks: []string{"3g", "wifi", "ethernet"}, Server: "h100", Tasks: []int{8, 4}, Input: 224,
		Encodings: []codec.Encoding{codec.FP32, codec.FP16, codec.Int8}}
	var calls int
	rows, err := s.Run(cat, func(done, total int) {
		calls++
		if done != calls || total != 12 {
			t.Errorf("progress %d/%d at call %d", done, total, calls)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 12 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		for name, base := range map[string]float64{"local": r.LocalMS, "remote": r.RemoteMS, "mtl-split": r.MTLSplitMS} {
			if r.OptimumMS > base+1e-9 {
				t.Errorf("%s/%s/%s: optimum %g ms worse than %s %g ms", r.Model, r.Device, r.Network, r.OptimumMS, name, base)
			}
		}
	}
	dir := t.TempDir()
	paths, err := WriteScenarios(dir, rows, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 6 {
		t.Errorf("wrote %v", paths)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "scenarios.csv"))
	if strings.Count(string(csv), "\n") != 13 {
		t.Errorf("csv has %d lines", strings.Count(string(csv), "\n"))
	}
	if _, err := WriteScenarios(dir, rows, false); err == nil {
		t.Error("overwrote results without asking")
	}
	if _, err := s.Run(cat, nil); err != nil {
		t.Fatal(err)
	}
	s.Devices = []string{"rpi6"}
	if _, err := s.Run(cat, nil); err == nil || !strings.Contains(err.Error(), "rpi5") {
		t.Errorf("unknown device: %v", err)
	}
}

// TestCommittedScenarios recomputes the study the README shows and fails
// when docs/figures/scenarios (or the README's headline) no longer says
// what the current code computes: run `make figures` to refresh them.
func TestCommittedScenarios(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := DefaultScenarios(cat).Run(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := "../docs/figures/scenarios"
	for name, want := range map[string][]byte{"scenarios.csv": ScenarioCSV(rows), "summary.md": Summary(rows)} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s/%s is stale (run make figures): first difference at line %d", dir, name, firstDiffLine(got, want))
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The README restates the summary's counts and speed-up in prose.
	prose := strings.Join(strings.Fields(string(readme)), " ")
	var beats, cells, local, remote, split int
	var geo float64
	sum := string(Summary(rows))
	for _, scan := range []struct {
		from, format string
		args         []any
	}{
		{"- The searched", "- The searched optimum is faster than MTL-Split's fixed split in %d of %d cells; geometric-mean speed-up %f", []any{&beats, &cells, &geo}},
		{"- Optimum kind: ", "- Optimum kind: %d local-only, %d remote-only, %d a real split", []any{&local, &remote, &split}},
	} {
		if _, err := fmt.Sscanf(sum[strings.Index(sum, scan.from):], scan.format, scan.args...); err != nil {
			t.Fatalf("summary: %v", err)
		}
	}
	share := fmt.Sprintf("in %d of the %d cells", beats, cells)
	if beats == cells {
		share = fmt.Sprintf("in every one of the %d cells", cells)
	}
	for _, s := range []string{
		fmt.Sprintf("%s, by %.1f× in geometric mean", share, geo),
		fmt.Sprintf("local-only in %d cells, remote-only in %d and a real split in %d", local, remote, split),
	} {
		if !strings.Contains(prose, s) {
			t.Errorf("README does not say %q (from the current summary)", s)
		}
	}
}

func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestREADMEAccuracyExample: the README's accuracy-floor table is the one
// `make example-accuracy` last wrote.
func TestREADMEAccuracyExample(t *testing.T) {
	summary, err := os.ReadFile("../results/accuracy-example/summary.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(summary)
	table := strings.TrimSpace(s[strings.Index(s, "| --min-accuracy"):])
	if !strings.Contains(string(readme), table) {
		t.Errorf("README's accuracy-floor table differs from results/accuracy-example/summary.md:\n%s", table)
	}
}

// With a stack, every cell carries the stack's expected error and the band
// it implies on the optimum's latency: the edge part times the error.
func TestScenariosStackBand(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	s := Scenarios{Models: []string{"resnet18"}, Devices: []string{"rpi4"}, Networks: []string{"3g", "ethernet"},
		Server: "h100", Stack: "ncnn", Tasks: []int{8, 4}, Input: 224, Encodings: []codec.Encoding{codec.FP32, codec.Int8}}
	rows, err := s.Run(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := cat.DeviceStack("rpi4", "ncnn")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Stack != "ncnn" || r.ExpectedErrorPct != dev.ExpectedErrorPct.Value || r.ExpectedErrorPct <= 0 {
			t.Errorf("%s: stack %q ±%g%%, want ncnn ±%g%%", r.Network, r.Stack, r.ExpectedErrorPct, dev.ExpectedErrorPct.Value)
		}
		// Remote-only computes nothing on the device: no band. Device-only
		// (nothing sent) is all edge part, to rounding: the optimum sums
		// the same layers in another order.
		ulps := 1e-12 * r.OptimumMS
		if r.EdgeMS < 0 || r.EdgeMS > r.OptimumMS+ulps || (r.Bytes == 0 && math.Abs(r.EdgeMS-r.OptimumMS) > ulps) {
			t.Errorf("%s: edge part %g ms of an optimum of %g ms", r.Network, r.EdgeMS, r.OptimumMS)
		}
		if want := r.EdgeMS * r.ExpectedErrorPct / 100; math.Abs(r.BandMS()-want) > 1e-12*want {
			t.Errorf("%s: band %g ms, want %g", r.Network, r.BandMS(), want)
		}
	}
	csv := string(ScenarioCSV(rows))
	if !strings.Contains(strings.SplitN(csv, "\n", 2)[0], "optimum_plus_minus_ms") {
		t.Errorf("csv header without the band: %q", strings.SplitN(csv, "\n", 2)[0])
	}
	if !strings.Contains(string(Summary(rows)), "ncnn stack's fit") {
		t.Errorf("summary does not state the band:\n%s", Summary(rows))
	}
	plain := string(ScenarioCSV([]ScenarioRow{{Model: "m", OptimumMS: 1, MTLSplitMS: 1}}))
	if strings.Contains(plain, "stack") {
		t.Errorf("a study without a stack grew band columns: %q", plain)
	}
}
