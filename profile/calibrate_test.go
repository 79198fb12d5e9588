package profile

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCalibrateReferenceTables fits the cost model to the two measured
// reference tables and checks the prediction error against the goals
// (block MAPE ≤ 20%, end-to-end ≤ 10%), where they are met.
func TestCalibrateReferenceTables(t *testing.T) {
	tests := []struct {
		file           string
		base           CostModel
		maxBlock, maxE float64
		// notIdentified are parameters the table cannot pin down.
		notIdentified []string
	}{
		// At batch 1 the H100 is all launch overhead: memory never binds.
		{"h100_fp16_b1_224.json", CostModel{PeakGFLOPS: 989400, MemBandwidthGBps: 3350}, 0.20, 0.10, []string{"mem_bandwidth_gbps"}},
		// On the CPU, whole-model runs and big tensors see DRAM, blocks
		// timed one by one mostly cache: the two-level memory term fits both.
		{"epyc2c_fp32_b1_224.json", CostModel{PeakGFLOPS: 332.8, MemBandwidthGBps: 25}, 0.20, 0.10, []string{"efficiency.linear"}},
		// This project's engine on the same VM (make calibrate-host).
		{"engine_epyc2c_fp32_b1_224.json", CostModel{PeakGFLOPS: 332.8, MemBandwidthGBps: 25}, 0.20, 0.10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("../hwprofiles/measured/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			tab, err := ParseTable(raw)
			if err != nil {
				t.Fatal(err)
			}
			fit, err := Calibrate(tab, tc.base)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("block MAPE %.3f, end-to-end MAPE %.3f", fit.MAPEBlock, fit.MAPEEndToEnd)
			if fit.MAPEBlock > tc.maxBlock || fit.MAPEEndToEnd > tc.maxE {
				t.Errorf("block MAPE %.3f (goal %.2f), end-to-end %.3f (goal %.2f)", fit.MAPEBlock, tc.maxBlock, fit.MAPEEndToEnd, tc.maxE)
			}
			for _, name := range tc.notIdentified {
				for _, p := range fit.Params {
					if p.Name == name && p.Identified {
						t.Errorf("%s = %.4g identified, want not (range %.4g to %.4g)", name, p.Value, p.Lo, p.Hi)
					}
				}
			}
			if err := fit.Model.Validate(); err != nil {
				t.Errorf("fitted model invalid: %v", err)
			}
			// The README's calibration table (make calibrate-reference)
			// shows these in-sample numbers.
			row := readmeRow(t, tc.file)
			for _, v := range []float64{fit.MAPEBlock, fit.MAPEEndToEnd} {
				if want := fmt.Sprintf("| %.1f%% |", 100*v); !strings.Contains(row, want) {
					t.Errorf("README row %q lacks %q: run make calibrate-reference and update it", row, want)
				}
			}
		})
	}
}

// readmeRow is the row of the README's calibration table naming file.
func readmeRow(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "| `"+file+"`") {
			return line
		}
	}
	t.Fatalf("README has no calibration row for %s", file)
	return ""
}
