package experiments

import (
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
