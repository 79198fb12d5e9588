package cli

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
)

// multiFixtures are the two-output torch exports of
// ../onnx/testdata/gen_multi.py with PyTorch's output for each task.
var multiFixtures = []struct {
	file  string
	tasks []string
	sizes []int64
	input int64
}{
	{"mtl_resnet", []string{"hue", "shape"}, []int64{8, 4}, 3 * 64 * 64},
	{"mtl_tiny", []string{"a", "b"}, []int64{3, 2}, 3 * 16 * 16},
}

const multiDir = "../onnx/testdata/"

// TestInferMultiOutputONNX runs each two-output export and compares every
// task's output with PyTorch's, element by element, to 1e-4 relative.
func TestInferMultiOutputONNX(t *testing.T) {
	for _, fx := range multiFixtures {
		t.Run(fx.file, func(t *testing.T) {
			model, input := multiDir+fx.file+".onnx", multiDir+fx.file+".input.f32"
			dir := filepath.Join(t.TempDir(), "out")
			if _, stderr, code := run(t, "infer", model, "--input", input, "--out-dir", dir); code != 0 {
				t.Fatalf("--out-dir: exit %d: %s", code, stderr)
			}
			// The same outputs through --out, one file per task in order.
			var outs []string
			for _, task := range fx.tasks {
				outs = append(outs, filepath.Join(t.TempDir(), task+".f32"))
			}
			if _, stderr, code := run(t, "infer", model, "--input", input, "--out", strings.Join(outs, ",")); code != 0 {
				t.Fatalf("--out: exit %d: %s", code, stderr)
			}
			for k, task := range fx.tasks {
				want, err := readF32(multiDir+fx.file+"."+task+".f32", fx.sizes[k])
				if err != nil {
					t.Fatal(err)
				}
				got, err := readF32(filepath.Join(dir, task+".f32"), fx.sizes[k])
				if err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				for i := range want {
					worst = max(worst, math.Abs(float64(got[i]-want[i]))/math.Abs(float64(want[i])))
				}
				t.Logf("%s: max relative error %.3g", task, worst)
				if !(worst <= 1e-4) {
					t.Errorf("%s: output %v, PyTorch %v: max relative error %.3g > 1e-4", task, got, want, worst)
				}
				again, err := readF32(outs[k], fx.sizes[k])
				if err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if again[i] != got[i] {
						t.Errorf("%s: --out gave %v, --out-dir %v", task, again, got)
						break
					}
				}
			}
		})
	}
	model, input := multiDir+"mtl_tiny.onnx", multiDir+"mtl_tiny.input.f32"
	badInput(t, []string{"infer", model, "--input", input, "--out", filepath.Join(t.TempDir(), "y.f32")},
		"mtl_tiny has 2 outputs (a, b)", "--out-dir")
	badInput(t, []string{"infer", model, "--input", input}, "--out FILE or --out-dir DIR")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badInput(t, []string{"infer", model, "--input", input, "--out-dir", file}, "is a file")
}

// TestONNXTasksAgree checks that --tasks may restate a multi-output file's
// tasks or be left out, and that every command refuses one that
// contradicts the file, with exit 2 and one line.
func TestONNXTasksAgree(t *testing.T) {
	model := multiDir + "mtl_resnet.onnx"
	out := filepath.Join(t.TempDir(), "y")
	input := multiDir + "mtl_resnet.input.f32"
	for _, args := range [][]string{
		{"inspect", model},
		{"plan", model},
		{"sweep", model},
		{"profile", model, "--measure", "--reps", "1", "--warmup", "0"},
		{"infer", model, "--input", input, "--out-dir", out, "--force"},
	} {
		for _, tasks := range []string{"8,5", "8", "8,4,2"} {
			badInput(t, append(args, "--tasks", tasks), "--tasks "+tasks+" contradicts", "hue (8 values), shape (4 values)", "--tasks 8,4")
		}
		if _, stderr, code := run(t, append(args, "--tasks", "8,4")...); code != 0 {
			t.Errorf("%s --tasks 8,4: exit %d: %s", args[0], code, stderr)
		}
	}
}

// TestPlanMultiOutputONNX plans and sweeps the two-output file: its tasks
// come from its outputs, and the plan places its heads.
func TestPlanMultiOutputONNX(t *testing.T) {
	model := multiDir + "mtl_resnet.onnx"
	for _, gran := range []string{"block", "layer"} {
		stdout, stderr, code := run(t, "plan", model, "--device", "rpi4", "--network", "ethernet", "--encodings", "fp32,int8",
			"--granularity", gran, "-o", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", gran, code, stderr)
		}
		var got struct {
			Model struct {
				Tasks []struct {
					Name    string `json:"name"`
					Classes int    `json:"classes"`
				} `json:"tasks"`
			} `json:"model"`
			Choice struct {
				Heads map[string]string `json:"heads"`
			} `json:"choice"`
			Predicted struct {
				TotalMS float64 `json:"total_ms"`
			} `json:"predicted"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		ts := got.Model.Tasks
		if len(ts) != 2 || ts[0].Name != "hue" || ts[0].Classes != 8 || ts[1].Name != "shape" || ts[1].Classes != 4 ||
			got.Choice.Heads["hue"] == "" || got.Choice.Heads["shape"] == "" || !(got.Predicted.TotalMS > 0) {
			t.Errorf("%s: plan %+v", gran, got)
		}
	}
	stdout, stderr, code := run(t, "sweep", model, "--device", "rpi4", "--network", "4g", "--from", "1", "--to", "1000")
	if code != 0 || !strings.Contains(stdout, "heads hue@") {
		t.Errorf("sweep: exit %d: %s%s", code, stdout, stderr)
	}
}

// TestInspectAndProfileMultiOutputONNX lists the file's tasks and heads, and
// times every head.
func TestInspectAndProfileMultiOutputONNX(t *testing.T) {
	stdout, stderr, code := run(t, "inspect", multiDir+"mtl_tiny.onnx", "-o", "json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var ins inspectOutput
	if err := json.Unmarshal([]byte(stdout), &ins); err != nil {
		t.Fatal(err)
	}
	if len(ins.Heads) != 2 || len(ins.Blocks) != 4 {
		t.Fatalf("inspect: %d heads, %d blocks", len(ins.Heads), len(ins.Blocks))
	}
	a, b := ins.Heads[0], ins.Heads[1]
	if a.Task != "a" || a.Classes != 3 || a.InFeatures != 8*8*8 || strings.Join(a.Layers, " ") != "a.0 a.2" ||
		b.Task != "b" || b.Classes != 2 || strings.Join(b.Layers, " ") != "b.0 b.1 b.2 b.4" || b.Params != 302 {
		t.Errorf("inspect heads %+v", ins.Heads)
	}
	stdout, stderr, code = run(t, "profile", multiDir+"mtl_resnet.onnx", "--measure", "--reps", "2", "--warmup", "0", "-o", "json")
	if code != 0 {
		t.Fatalf("profile: exit %d: %s", code, stderr)
	}
	var prof profileOutput
	if err := json.Unmarshal([]byte(stdout), &prof); err != nil {
		t.Fatal(err)
	}
	if len(prof.Heads) != 2 || prof.Heads[0].Name != "hue" || prof.Heads[1].Name != "shape" || len(prof.Blocks) != 11 {
		t.Errorf("profile: heads %+v, %d blocks", prof.Heads, len(prof.Blocks))
	}
	for _, h := range prof.Heads {
		if !(h.LatencyMS.Median > 0) {
			t.Errorf("head %s not timed: %+v", h.Name, h.LatencyMS)
		}
	}
}

// TestONNXInputSize sizes a file exported with a dynamic height and width
// with the size flag, refuses to guess one, and refuses a size that
// contradicts a fixed one.
func TestONNXInputSize(t *testing.T) {
	dynamic, fixed, input := multiDir+"mtl_tiny_dynamic.onnx", multiDir+"mtl_tiny.onnx", multiDir+"mtl_tiny.input.f32"
	dir := filepath.Join(t.TempDir(), "out")
	if _, stderr, code := run(t, "infer", dynamic, "--size", "16", "--input", input, "--out-dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The same weights at the size it was traced at: PyTorch's outputs.
	for k, task := range []string{"a", "b"} {
		n := []int64{3, 2}[k]
		got, err := readF32(filepath.Join(dir, task+".f32"), n)
		if err != nil {
			t.Fatal(err)
		}
		want, err := readF32(multiDir+"mtl_tiny."+task+".f32", n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*math.Abs(float64(want[i])) {
				t.Errorf("%s: %v, PyTorch %v", task, got, want)
				break
			}
		}
	}
	stdout, stderr, code := run(t, "inspect", dynamic, "--input", "32", "-o", "json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var ins inspectOutput
	if err := json.Unmarshal([]byte(stdout), &ins); err != nil {
		t.Fatal(err)
	}
	if shapeString(ins.Input) != "3×32×32" || shapeString(ins.Blocks[len(ins.Blocks)-1].OutShape) != "8×16×16" || ins.Heads[1].MACs != 4*16*16*72+8 {
		t.Errorf("at 32 px: input %v, backbone output %v, head b %d MACs", ins.Input, ins.Blocks[len(ins.Blocks)-1].OutShape, ins.Heads[1].MACs)
	}
	badInput(t, []string{"infer", dynamic, "--input", input, "--out-dir", dir}, "dynamic", "give it with --size N")
	badInput(t, []string{"plan", dynamic}, "dynamic", "give it with --input N")
	badInput(t, []string{"plan", dynamic, "--input", "0"}, "--input 0: an image side of 1 to 16384 px")
	badInput(t, []string{"inspect", fixed, "--input", "32"}, "--input 32 contradicts", "fixed at [3 16 16]")
	badInput(t, []string{"infer", fixed, "--size", "32", "--input", input, "--out-dir", dir}, "--size 32 contradicts")
	if _, stderr, code := run(t, "plan", fixed, "--input", "16"); code != 0 {
		t.Errorf("plan restating the fixed size: exit %d: %s", code, stderr)
	}
}

// TestMultiOutputSplitRuns runs the two-output file split at every block
// cut, each head then run from the backbone output on its own, and checks
// every task's output equals the whole run's bit for bit: a head may run on
// either side of any cut.
func TestMultiOutputSplitRuns(t *testing.T) {
	g, w, err := loadONNX(multiDir+"mtl_resnet.onnx", onnxFlags{sizeFlag: "input", given: changed(nil)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(g, w, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := readF32(multiDir+"mtl_resnet.input.f32", 3*64*64)
	if err != nil {
		t.Fatal(err)
	}
	_, whole, err := p.RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 2 || len(whole[0]) != 8 || len(whole[1]) != 4 {
		t.Fatalf("RunAll gave %d heads", len(whole))
	}
	for k := 0; k <= p.Cuts(); k++ {
		mid, err := p.RunRange(0, k, in)
		if err != nil {
			t.Fatal(err)
		}
		feature, err := p.RunRange(k, p.Cuts(), mid)
		if err != nil {
			t.Fatal(err)
		}
		for h := range g.Heads {
			got, err := p.RunHead(h, feature)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, whole[h]) {
				t.Errorf("cut %d, head %s: %v, whole run %v", k, g.Heads[h].Task, got, whole[h])
			}
		}
	}
}

// TestManyOutputsONNX runs a 17-output file (one file per task) but refuses
// to plan more tasks than the search takes.
func TestManyOutputsONNX(t *testing.T) {
	model := multiDir + "many_outputs.onnx"
	badInput(t, []string{"plan", model}, "has 17 outputs", "at most 16 tasks")
	in := filepath.Join(t.TempDir(), "x.f32")
	if err := os.WriteFile(in, f32Bytes(make([]float32, 3*8*8)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, stderr, code := run(t, "infer", model, "--input", in, "--out-dir", dir); code != 0 {
		t.Fatalf("infer: exit %d: %s", code, stderr)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "t*.f32")); len(files) != 17 {
		t.Errorf("infer wrote %d task files, want 17", len(files))
	}
}
