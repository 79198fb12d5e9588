package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanStack: --stack predicts the device as that inference stack runs
// it, which can move the choice (ncnn runs resnet18 on a Pi 5 fast enough
// to keep it there), and the plan records the stack and its expected error.
func TestPlanStack(t *testing.T) {
	choice := func(args ...string) (cut string, tier map[string]any) {
		t.Helper()
		out, stderr, code := run(t, append([]string{"plan", "resnet18", "--device", "rpi5", "--server", "h100", "--network", "wifi", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
		var p struct {
			Choice struct{ Cut, Encoding string }
			Tiers  []map[string]any
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		return p.Choice.Cut + "/" + p.Choice.Encoding, p.Tiers[0]
	}
	own, tier := choice()
	if _, ok := tier["stack"]; ok {
		t.Errorf("a plan without --stack records one: %v", tier)
	}
	ncnn, tier := choice("--stack", "ncnn")
	if own == ncnn {
		t.Errorf("ncnn does not move the choice (%s)", own)
	}
	if tier["stack"] != "ncnn" || !(tier["expected_error_pct"].(float64) > 0) {
		t.Errorf("device tier %v: want stack ncnn and its expected error", tier)
	}
	badInput(t, []string{"plan", "resnet18", "--device", "rpi4", "--stack", "tensorrt"}, "--device/--stack", `"tensorrt"`, "ncnn")
}

// TestExperimentStack: with --stack and every device, the study runs the
// devices that have the stack.
func TestExperimentStack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	_, stderr, code := run(t, "experiment", "scenarios", "--stack", "tensorrt", "--models", "resnet18", "--networks", "wifi", "--out", dir, "-q")
	if code != 0 {
		t.Fatal(stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "scenarios.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if csv := string(b); !strings.Contains(csv, "jetson-nano") || strings.Contains(csv, "rpi4") {
		t.Errorf("scenarios.csv:\n%s", csv)
	}
	badInput(t, []string{"experiment", "scenarios", "--stack", "nothing", "--out", filepath.Join(t.TempDir(), "x")}, "--stack", "no device")
}
