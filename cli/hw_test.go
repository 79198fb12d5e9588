package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestHWStacks(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{"devices list their stacks", []string{"hw", "devices"}, []string{"STACKS", "ncnn,ncnn-vulkan,opencv,opencv-cuda,tensorrt", "ncnn,opencv,pytorch,tflite"}},
		{"stack table", []string{"hw", "stacks"}, []string{"LOO ERROR", "rpi4              tflite       cpu   fp32       4 @ 1.5 GHz"}},
		{"yaml shows every stack's per-layer cost", []string{"hw", "-o", "yaml"}, []string{"layer_overhead_ms:", "call_overhead_ms:", "expected_error_pct:"}},
		{"devices as a stack runs them", []string{"hw", "devices", "--stack", "tensorrt"}, []string{"jetson-nano", "jetson-xavier-nx", "predicted ±"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestHWStackJSON checks --stack against the catalog: only devices with
// the stack, each carrying it and its stack's numbers.
func TestHWStackJSON(t *testing.T) {
	stdout, stderr, code := run(t, "hw", "devices", "--stack", "tflite", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Devices []struct {
			ID         string `json:"id"`
			Stack      string `json:"stack"`
			Dtype      string `json:"dtype"`
			PeakGFLOPS struct {
				Value float64 `json:"value"`
			} `json:"peak_gflops"`
		} `json:"devices"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Devices) != 1 || got.Devices[0].ID != "rpi4" || got.Devices[0].Stack != "tflite" || got.Devices[0].Dtype != "fp32" || got.Devices[0].PeakGFLOPS.Value != 48 {
		t.Errorf("hw devices --stack tflite = %+v, want rpi4 with tflite, fp32, 48 GFLOP/s (4 A72 cores at 1.5 GHz)", got.Devices)
	}
}

func TestHWStackBadInput(t *testing.T) {
	badInput(t, []string{"hw", "--stack", "ncn"}, `--stack "ncn"`, `did you mean "ncnn"`)
	badInput(t, []string{"hw", "stack"}, "stacks")
}
