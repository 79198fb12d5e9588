package cli

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/train"
)

func TestTrainWritesWeights(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.safetensors")
	stdout, stderr, code := run(t, "train", "resnet18", "--tasks", "scale,shape", "--n", "32", "--test-n", "16",
		"--batch", "16", "--size", "32", "--epochs", "2", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Log(stdout)
	for _, want := range []string{"epoch 1/2  lr 1e-04  loss ", "epoch 2/2  lr 1e-05  loss ", "accuracy scale ", " shape ", "test scale ", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("resnet18", 32, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	_, meta, err := train.DecodeSafetensors(b, g)
	if err != nil {
		t.Fatal(err)
	}
	if meta["tasks"] != "scale,shape" || meta["classes"] != "8,4" || meta["graph_hash"] != g.Hash() {
		t.Errorf("metadata %v", meta)
	}
	if _, stderr, code := run(t, "train", "resnet18", "--n", "32", "--batch", "16", "--size", "32", "--epochs", "1", "--out", out, "--quiet"); code != 2 || !strings.Contains(stderr, "exists") {
		t.Errorf("overwriting without --force: exit %d, %s", code, stderr)
	}
}

func TestTrainBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.safetensors")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"resnet18", "--n", "64"}, "train needs --out FILE.safetensors"},
		{"out extension", []string{"resnet18", "--n", "64", "--out", "w.pt"}, "--out w.pt: name it *.safetensors (the weights) or *.onnx"},
		{"unknown task", []string{"resnet18", "--tasks", "scale,color", "--n", "64", "--out", out}, `--tasks: unknown task "color"`},
		{"n below batch", []string{"resnet18", "--n", "8", "--out", out}, "--n 8 out of range (valid: --batch 32..360000)"},
		{"epochs", []string{"resnet18", "--n", "64", "--epochs", "0", "--out", out}, "--epochs 0 must be at least 1"},
		{"unknown model", []string{"resnet19", "--n", "32", "--size", "16", "--out", out, "-q"}, `unknown model "resnet19"`},
		{"lr", []string{"resnet18", "--n", "64", "--lr", "0", "--out", out}, "--lr 0 must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"train"}, c.args...)...)
			if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", code, stderr, c.want)
			}
		})
	}
}

// TestTrainWritesONNX trains the same tiny run twice, to safetensors and
// to ONNX: the ONNX file holds the very weights the safetensors file does,
// under the same keys, with one output per task named after it, and
// inspect and plan take it as a two-task model.
func TestTrainWritesONNX(t *testing.T) {
	dir := t.TempDir()
	args := []string{"train", "mobilenet_v3_small", "--tasks", "scale,shape", "--n", "16", "--batch", "16", "--size", "32", "--epochs", "1", "--quiet"}
	onnxPath, stPath := filepath.Join(dir, "m.onnx"), filepath.Join(dir, "m.safetensors")
	stdout, stderr, code := run(t, append(args, "--out", onnxPath)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "wrote " + onnxPath + " (mobilenet_v3_small, ONNX opset 13, outputs scale,shape)"; !strings.Contains(stdout, want) {
		t.Errorf("output lacks %q:\n%s", want, stdout)
	}
	if _, stderr, code := run(t, append(args, "--out", stPath)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	classes := train.TaskClasses([]int{3, 4}) // scale, shape
	g, w, err := loadONNX(onnxPath, onnxFlags{sizeFlag: "input", given: changed(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Heads) != 2 || g.Heads[0].Task != "scale" || g.Heads[0].Classes != classes[0] || g.Heads[1].Task != "shape" || g.Heads[1].Classes != classes[1] {
		t.Fatalf("heads %+v, want scale (%d), shape (%d)", g.Heads, classes[0], classes[1])
	}
	b, err := os.ReadFile(stPath)
	if err != nil {
		t.Fatal(err)
	}
	zoo, err := model.New("mobilenet_v3_small", 32, classes)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := train.DecodeSafetensors(b, zoo)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Params()) != len(want.Params()) {
		t.Errorf("the ONNX file has %d tensors, the safetensors file %d", len(w.Params()), len(want.Params()))
	}
	for _, p := range want.Params() {
		got, exp := w.Get(p.Node, p.Param), want.Get(p.Node, p.Param)
		same := len(got) == len(exp)
		for i := 0; same && i < len(exp); i++ {
			same = math.Float32bits(got[i]) == math.Float32bits(exp[i])
		}
		if !same {
			t.Errorf("tensor %s differs between the two files", p.Key())
		}
	}

	stdout, stderr, code = run(t, "inspect", onnxPath, "-o", "json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var ins inspectOutput
	if err := json.Unmarshal([]byte(stdout), &ins); err != nil {
		t.Fatal(err)
	}
	if len(ins.Heads) != 2 || ins.Heads[0].Task != "scale" || ins.Heads[1].Task != "shape" || len(ins.Blocks) != 13 || ins.Blocks[12].Name != "features.12" {
		t.Errorf("inspect: heads %+v, %d blocks", ins.Heads, len(ins.Blocks))
	}

	stdout, stderr, code = run(t, "plan", onnxPath, "--device", "rpi4", "--server", "h100", "--network", "wifi", "-o", "json")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var plan struct {
		Model struct {
			Tasks []struct {
				Name string `json:"name"`
			} `json:"tasks"`
		} `json:"model"`
		Choice struct {
			Cut   string            `json:"cut"`
			Heads map[string]string `json:"heads"`
		} `json:"choice"`
		Predicted struct {
			TotalMS float64 `json:"total_ms"`
		} `json:"predicted"`
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
		t.Fatal(err)
	}
	if ts := plan.Model.Tasks; len(ts) != 2 || ts[0].Name != "scale" || ts[1].Name != "shape" ||
		plan.Choice.Heads["scale"] == "" || plan.Choice.Heads["shape"] == "" || plan.Choice.Cut == "" || !(plan.Predicted.TotalMS > 0) {
		t.Errorf("plan %+v", plan)
	}
}
