package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/plan"
)

// TestPlansFromTheOptimizerValidate: every kind of plan the optimizer
// writes loads back through plan.Load's cross-checks.
func TestPlansFromTheOptimizerValidate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		cut  string // "" when any
	}{
		{"block cut", []string{"efficientnet_b0", "--device", "rpi4", "--network", "wifi", "--encodings", "fp32,fp16,int8"}, "features.3"},
		{"layer cut", []string{"efficientnet_b0", "--device", "rpi4", "--network", "wifi", "--encodings", "fp32,fp16,int8", "--granularity", "layer"}, "features.3.0.block.3.0"},
		{"three tiers", []string{"resnet18", "--server", "epyc-16c,h100", "--network", "wifi6,5g"}, ""},
		{"local-only", []string{"resnet18", "--device", "jetson-orin-nano", "--network", "4g"}, "layer4"},
		{"remote-only", []string{"resnet18", "--device", "rpi4", "--network", "wifi6"}, "input"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".yaml")
			if _, stderr, code := run(t, append(append([]string{"plan"}, tc.args...), "--out", path)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			p, err := plan.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != plan.Version || (tc.cut != "" && p.Choice.Cut != tc.cut) {
				t.Errorf("version %d, cut %s", p.Version, p.Choice.Cut)
			}
			for j, ct := range p.CutTensors {
				if len(ct.Shape) != 3 {
					t.Errorf("cut_tensors[%d] has shape %v", j, ct.Shape)
				}
			}
		})
	}
}

// TestRefusedInputs: each input is refused with exit 2, one line, naming
// what was wrong, and nothing is written.
func TestRefusedInputs(t *testing.T) {
	dir := t.TempDir()
	goodPlan := filepath.Join(dir, "good.yaml")
	if _, stderr, code := run(t, "plan", "efficientnet_b0", "--device", "rpi4", "--network", "wifi", "--encodings", "fp32,fp16,int8", "--out", goodPlan); code != 0 {
		t.Fatalf("plan: %s", stderr)
	}
	raw, err := os.ReadFile(goodPlan)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "  encoding: int8\n  heads:") || !strings.Contains(string(raw), "  rtt_ms: 20\n") {
		t.Fatal("the plan no longer sends int8 over a 20 ms link: the edits below would not break it")
	}
	// A plan whose choice says fp16 while its tensor is int8, and one with
	// an encoding that does not exist.
	edited := writeFile(t, "edited.yaml", strings.Replace(string(raw), "  encoding: int8\n  heads:", "  encoding: fp16\n  heads:", 1))
	int3 := writeFile(t, "int3.yaml", strings.ReplaceAll(string(raw), "encoding: int8", "encoding: int3"))
	nanRTT := writeFile(t, "nanrtt.yaml", strings.Replace(string(raw), "  rtt_ms: 20", "  rtt_ms: .nan", 1))
	acc := "version: 1\nmodel: resnet18\nentries:\n  - {task: task1, cut: layer3, encoding: int8, accuracy: 0.9}\n"
	goodAcc := writeFile(t, "acc.yaml", acc)
	unknownTask := writeFile(t, "acc.yaml", acc+"  - {task: task7, cut: layer3, encoding: int8, accuracy: 0.9}\n")
	unknownCut := writeFile(t, "acc.yaml", acc+"  - {task: task2, cut: layer9, encoding: int8, accuracy: 0.9}\n")
	measured := "meta: {device_name: x, dtype: fp32, batch: 1, size: 224, threads: 1}\nbackbones:\n  resnet18:\n    blocks:\n" +
		"      - {name: conv1, latency: {median_ms: .nan, p90_ms: 1}}\n    heads: []\n    latency: {end_to_end: {median_ms: 1, p90_ms: 2}}\n"
	nanProfile := writeFile(t, "profile.yaml", measured)
	nanJSON := writeFile(t, "profile.json", `{"meta": {"device_name": "x", "dtype": "fp32", "batch": 1, "size": 224, "threads": 1},
 "backbones": {"resnet18": {"blocks": [{"name": "conv1", "latency": {"median_ms": 1, "p90_ms": 2, "mean_ms": -1}}],
  "heads": [], "latency": {"end_to_end": {"median_ms": 1, "p90_ms": 2}}}}}`)
	unknownProfileField := writeFile(t, "profile.json", `{"meta": {"device_name": "x", "dtype": "fp32", "batch": 1, "size": 224, "threads": 1, "gpu": "none"},
 "backbones": {"resnet18": {"blocks": [], "heads": []}}}`)
	nanHW := writeFile(t, "hw.yaml", "version: 1\nnetworks:\n  - id: lan\n    name: LAN\n    uplink_mbps: {value: .nan, source: x}\n"+
		"    downlink_mbps: {value: 10, source: x}\n    rtt_ms: {value: 1, source: x}\n    tx_power_w: {value: 1, source: x}\n")
	file := writeFile(t, "file.txt", "x")
	input := filepath.Join(dir, "in.f32")
	if err := os.WriteFile(input, make([]byte, 4*3*32*32), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"serve empty listen", []string{"serve", "--plan", goodPlan, "--tier", "9", "--listen", ""}, []string{`--listen ""`, "HOST:PORT", "0.0.0.0:7070"}},
		{"serve listen without port", []string{"serve", "--plan", goodPlan, "--tier", "9", "--listen", "127.0.0.1"}, []string{`--listen "127.0.0.1"`}},
		{"serve bad port", []string{"serve", "--plan", goodPlan, "--tier", "9", "--listen", "127.0.0.1:99999"}, []string{`port "99999"`}},
		{"serve negative threads", []string{"serve", "--plan", goodPlan, "--tier", "9", "--threads", "-1"}, []string{"--threads -1", "≥ 0"}},
		{"run negative threads", []string{"run", "--plan", goodPlan, "--threads", "-1"}, []string{"--threads -1"}},
		{"infer negative threads", []string{"infer", "resnet18", "--size", "32", "--input", input, "--out", filepath.Join(dir, "y.f32"), "--threads", "-2"}, []string{"--threads -2"}},
		{"serve edited plan", []string{"serve", "--plan", edited, "--listen", "127.0.0.1:0", "--tier", "9"}, []string{"edited.yaml:", "cut_tensors[0].encoding int8 does not match choice.encoding fp16"}},
		{"run int3 plan", []string{"run", "--plan", int3}, []string{"int3.yaml:", `choice.encoding "int3" is unknown (did you mean "int8"`}},
		{"run NaN rtt plan", []string{"run", "--plan", nanRTT}, []string{"nanrtt.yaml:", "tiers[1].rtt_ms is NaN"}},
		{"experiment near miss", []string{"experiment", "scenario"}, []string{`unknown command "scenario" for "mtlsplit experiment" (did you mean "scenarios"?)`}},
		{"root near miss", []string{"plna", "resnet18"}, []string{`unknown command "plna" for "mtlsplit" (did you mean "plan"?)`}},
		{"plan out directory", []string{"plan", "resnet18", "--out", dir}, []string{"--out " + dir + " is a directory"}},
		{"plan out directory forced", []string{"plan", "resnet18", "--out", dir, "--force"}, []string{"is a directory"}},
		{"plan out missing dir", []string{"plan", "resnet18", "--out", filepath.Join(dir, "no", "plan.yaml")}, []string{"directory " + filepath.Join(dir, "no") + " does not exist"}},
		{"plan out twice", []string{"plan", "resnet18", "--out", filepath.Join(dir, "x"), "--export-lp", filepath.Join(dir, "x")}, []string{"--out and --export-lp both name"}},
		{"export lp directory", []string{"plan", "resnet18", "--export-lp", dir}, []string{"--export-lp " + dir + " is a directory"}},
		{"sweep plot directory", []string{"sweep", "resnet18", "--plot", dir}, []string{"--plot " + dir + " is a directory"}},
		{"infer out directory", []string{"infer", "resnet18", "--size", "32", "--input", input, "--out", dir}, []string{"--out " + dir + " is a directory"}},
		{"calibrate out directory", []string{"calibrate", "--profile", "../hwprofiles/measured/h100_fp16_b1_224.json", "--out", dir}, []string{"is a directory"}},
		{"profile out directory", []string{"profile", "resnet18", "--measure", "--out", dir}, []string{"is a directory"}},
		{"profile out without measure", []string{"profile", "resnet18", "--fidelity", "2", "--out", filepath.Join(dir, "p.yaml")}, []string{"--out writes the measured profile", "--measure"}},
		{"accuracy out directory", []string{"profile", "resnet18", "--fidelity", "2", "--accuracy-out", dir}, []string{"--accuracy-out " + dir + " is a directory"}},
		{"experiment out file", []string{"experiment", "scenarios", "--out", file}, []string{"--out " + file + " is a file"}},
		{"duplicate min-accuracy", []string{"plan", "resnet18", "--accuracy", goodAcc, "--min-accuracy", "task1=0.9,task1=0.8"}, []string{"task task1 two floors (0.9 and 0.8)"}},
		{"empty min-accuracy key", []string{"plan", "resnet18", "--accuracy", goodAcc, "--min-accuracy", "=0.9"}, []string{"--min-accuracy"}},
		{"accuracy unknown task", []string{"plan", "resnet18", "--accuracy", unknownTask}, []string{"acc.yaml:5: entries[1].task \"task7\" is not a task of resnet18"}},
		{"accuracy unknown cut", []string{"plan", "resnet18", "--accuracy", unknownCut}, []string{"acc.yaml:5: entries[1].cut \"layer9\" is not a cut of resnet18"}},
		{"profile NaN", []string{"plan", "resnet18", "--profile", nanProfile}, []string{"profile.yaml:5: backbones.resnet18.blocks[0].latency.median_ms is NaN"}},
		{"calibrate negative mean", []string{"calibrate", "--profile", nanJSON}, []string{"profile.json:2: backbones.resnet18.blocks[0].latency.mean_ms is -1"}},
		{"calibrate unknown field", []string{"calibrate", "--profile", unknownProfileField}, []string{`profile.json:1: unknown field "gpu"`}},
		{"hw NaN", []string{"plan", "resnet18", "--hw", nanHW, "--network", "lan"}, []string{"hw.yaml:5", "uplink_mbps.value is NaN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, tc.args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(dir)); len(entries) != 2 {
		t.Errorf("refused commands left files: %v", entries)
	}
}

// TestNoPartialWrites: a command refuses before it writes anything when one
// of its outputs cannot be written.
func TestNoPartialWrites(t *testing.T) {
	dir := t.TempDir()
	lp, out := filepath.Join(dir, "model.lp"), filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(out, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, "plan", "resnet18", "--export-lp", lp, "--out", out)
	if _, err := os.Stat(lp); code != 2 || !strings.Contains(stderr, "--out "+out) || err == nil {
		t.Errorf("plan: exit %d, %q; LP written: %v", code, stderr, err == nil)
	}
	png, svg := filepath.Join(dir, "s.png"), filepath.Join(dir, "s.svg")
	if err := os.WriteFile(svg, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, "sweep", "resnet18", "--plot", png)
	if _, err := os.Stat(png); code != 2 || !strings.Contains(stderr, "--plot "+svg) || err == nil {
		t.Errorf("sweep: exit %d, %q; PNG written: %v", code, stderr, err == nil)
	}
	exp := filepath.Join(dir, "exp")
	if err := os.MkdirAll(exp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(exp, "summary.md"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, "experiment", "scenarios", "--models", "resnet18", "--devices", "rpi4", "--networks", "wifi", "--out", exp)
	if _, err := os.Stat(filepath.Join(exp, "scenarios.csv")); code != 2 || !strings.Contains(stderr, "summary.md") || err == nil {
		t.Errorf("experiment: exit %d, %q; CSV written: %v", code, stderr, err == nil)
	}
	for _, f := range []string{out, svg, filepath.Join(exp, "summary.md")} {
		if b, _ := os.ReadFile(f); string(b) != "keep" {
			t.Errorf("%s changed", f)
		}
	}
}

// TestListenWarnsOnEveryInterface: an address that opens every interface is
// served, with a warning; loopback is not warned about.
func TestListenWarnsOnEveryInterface(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:7070", false}, {"localhost:7070", false}, {":7070", true}, {"0.0.0.0:7070", true}, {"[::]:7070", true}} {
		var errw bytes.Buffer
		if err := checkListen(&IO{Err: &errw}, tc.addr); err != nil {
			t.Errorf("%s: %v", tc.addr, err)
		}
		if got := strings.Contains(errw.String(), "every interface"); got != tc.warn {
			t.Errorf("%s: warning %q", tc.addr, errw.String())
		}
	}
}
