package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
)

func TestCalibrateJSONContract(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fitted.yaml")
	stdout, stderr, code := run(t, "calibrate", "--profile", "../hwprofiles/measured/h100_fp16_b1_224.json", "--bandwidth-gbps", "3350", "-o", "json", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		MAPEBlock    *float64 `json:"mape_block"`
		MAPEEndToEnd *float64 `json:"mape_end_to_end"`
		Params       []struct {
			Name       string  `json:"name"`
			Value      float64 `json:"value"`
			Identified bool    `json:"identified"`
			Why        string  `json:"why"`
		} `json:"params"`
		Holdout struct {
			MAPEBlock    float64 `json:"mape_block"`
			MAPEEndToEnd float64 `json:"mape_end_to_end"`
			Backbones    []struct {
				Backbone          string  `json:"backbone"`
				MAPEBlock         float64 `json:"mape_block"`
				InSampleMAPEBlock float64 `json:"in_sample_mape_block"`
			} `json:"backbones"`
		} `json:"holdout"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.MAPEBlock == nil || got.MAPEEndToEnd == nil || *got.MAPEBlock > 0.2 || *got.MAPEEndToEnd > 0.1 {
		t.Errorf("MAPE block %v, end to end %v", got.MAPEBlock, got.MAPEEndToEnd)
	}
	// Held out is worse than in sample, and still near the goals.
	if h := got.Holdout; len(h.Backbones) != 5 || h.MAPEBlock < *got.MAPEBlock || h.MAPEBlock > 0.2 || h.MAPEEndToEnd > 0.1 {
		t.Errorf("held out: %+v", h)
	}
	// At batch 1 the H100's memory never binds: its bandwidth is the fit's
	// bound, not a measurement, and the catalog entry says so.
	for _, p := range got.Params {
		if p.Name == "mem_bandwidth_gbps" && (p.Identified || !strings.Contains(p.Why, "memory never binds")) {
			t.Errorf("%+v", p)
		}
	}
	cat, err := hwprofiles.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	h100, err := cat.Server("h100")
	if err != nil {
		t.Fatal(err)
	}
	if bw := h100.MemBandwidthGBps; bw.Identified == nil || *bw.Identified || !strings.Contains(bw.Source, "not identified by it (batch 1): memory never binds") {
		t.Errorf("mem_bandwidth_gbps in --out: %+v", bw)
	}
	if c := h100.OverheadMS["conv"]; c.Identified != nil || !strings.HasPrefix(c.Source, "fitted: ") {
		t.Errorf("overhead_ms.conv in --out: %+v", c)
	}
	// The fitted device is a catalog file the planner takes with --hw.
	if _, stderr, code := run(t, "plan", "resnet18", "--input", "160", "--server", "h100", "--hw", out); code != 0 {
		t.Errorf("plan with the fitted device: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{{"--profile", "../go.mod"}, {"--profile", "../hwprofiles/measured/h100_fp16_b1_224.json", "--bandwidth-gbps", "-1"}} {
		if _, stderr, code := run(t, append([]string{"calibrate"}, args...)...); code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("calibrate %v: exit %d: %q", args, code, stderr)
		}
	}
}
