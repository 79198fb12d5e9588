package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunONNXPlan: a plan made from a two-output ONNX file runs with
// 'mtlsplit run' from another directory (the file is found relative to the
// plan), or with --model naming a copy; a file with one byte flipped, a
// missing file and --model on a zoo plan are refused with exit 2 on one
// line. A zoo plan records its weights' seed, which run uses and refuses
// another.
func TestRunONNXPlan(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile("../onnx/testdata/mtl_resnet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"models", "plans"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file, pl := filepath.Join(dir, "models", "mtl.onnx"), filepath.Join(dir, "plans", "p.yaml")
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-100] ^= 1
	copyFile, tampered := filepath.Join(dir, "copy.onnx"), filepath.Join(dir, "tampered.onnx")
	for path, data := range map[string][]byte{file: raw, copyFile: raw, tampered: flipped} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := run(t, "plan", file, "--device", "rpi4", "--server", "h100", "--network", "ethernet", "--out", pl, "-o", "json"); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	text, _ := os.ReadFile(pl)
	if !strings.Contains(string(text), "path: ../models/mtl.onnx") || !strings.Contains(string(text), "outputs: [hue, shape]") {
		t.Fatalf("the plan's source:\n%s", text)
	}
	for _, model := range []string{"", copyFile} {
		args := []string{"run", "--plan", pl, "--n", "2", "--no-emulate", "-o", "json"}
		if model != "" {
			args = append(args, "--model", model)
		}
		if stdout, stderr, code := run(t, args...); code != 0 || !strings.Contains(stdout, `"n": 2`) {
			t.Errorf("run --model %q: exit %d: %s%s", model, code, stderr, stdout)
		}
	}
	zooPlan := filepath.Join(dir, "zoo.yaml")
	if _, stderr, code := run(t, "plan", "resnet18", "--input", "64", "--seed", "7", "--out", zooPlan); code != 0 {
		t.Fatalf("zoo plan: exit %d: %s", code, stderr)
	}
	if text, _ := os.ReadFile(zooPlan); !strings.Contains(string(text), "source:\n    kind: zoo\n    seed: 7\n") {
		t.Errorf("the zoo plan's source:\n%s", text)
	}
	for _, seed := range []string{"7", ""} {
		args := []string{"run", "--plan", zooPlan, "--n", "1", "--no-emulate", "-q"}
		if seed != "" {
			args = append(args, "--seed", seed)
		}
		if _, stderr, code := run(t, args...); code != 0 {
			t.Errorf("run the zoo plan, --seed %q: exit %d: %s", seed, code, stderr)
		}
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"tampered", []string{"--plan", pl, "--model", tampered}, []string{"tampered.onnx has SHA-256 ", "made from ../models/mtl.onnx with SHA-256 "}},
		{"zoo plan with --model", []string{"--plan", zooPlan, "--model", copyFile}, []string{"zoo model resnet18", "leave --model out"}},
		{"another seed", []string{"--plan", zooPlan, "--seed", "8"}, []string{"--seed 8", "weights of seed 7 (model.source.seed)"}},
		{"missing file", []string{"--plan", pl, "--model", filepath.Join(dir, "none.onnx")}, []string{"none.onnx", "--model FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"run", "--n", "1"}, tc.args...)...)
			if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("exit %d: %q", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%q lacks %q", stderr, w)
				}
			}
		})
	}
}
