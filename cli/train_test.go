package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
		{"n below batch", []string{"resnet18", "--n", "8", "--out", out}, "--n 8 out of range (valid: --batch 32..360000), or train on a folder with --data DIR"},
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

// sceneFolder writes n labelled 3D Shapes scenes of split at 32×32 with
// the data command, as a user would.
func sceneFolder(t *testing.T, split string, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), split)
	if _, stderr, code := run(t, "data", "shapes3d", "--out", dir, "--n", fmt.Sprint(n), "--split", split, "--size", "32", "-q"); code != 0 {
		t.Fatalf("data shapes3d: exit %d: %s", code, stderr)
	}
	return dir
}

// TestTrainFromFolder trains on a labelled folder (class counts from its
// labels), STL with one column, and continues from the ONNX file it wrote.
func TestTrainFromFolder(t *testing.T) {
	data, test := sceneFolder(t, "train", 32), sceneFolder(t, "test", 16)
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")
	stdout, stderr, code := run(t, "train", "mobilenet_v3_small", "--data", data, "--test-data", test, "--tasks", "shape,scale",
		"--size", "32", "--batch", "16", "--epochs", "1", "--out", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"epoch 1/1  lr 1e-04  loss ", "accuracy shape ", " scale ", "test shape ", "outputs shape,scale"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	g, _, err := loadONNX(out, onnxFlags{sizeFlag: "input", given: changed(nil)})
	if err != nil {
		t.Fatal(err)
	}
	// The classes are the folder's: max label + 1 of each column.
	if len(g.Heads) != 2 || g.Heads[0].Classes != maxLabel(t, data, "shape")+1 || g.Heads[1].Classes != maxLabel(t, data, "scale")+1 {
		t.Errorf("heads %+v", g.Heads)
	}
	stl := filepath.Join(dir, "stl.safetensors")
	if _, stderr, code := run(t, "train", "resnet18", "--data", data, "--tasks", "shape", "--size", "32", "--batch", "16", "--epochs", "1", "--out", stl, "-q"); code != 0 {
		t.Fatalf("STL: exit %d: %s", code, stderr)
	}
	stdout, stderr, code = run(t, "train", out, "--data", data, "--tasks", "shape,scale", "--batch", "16", "--epochs", "1", "--out", filepath.Join(dir, "m2.safetensors"), "-q")
	if code != 0 {
		t.Fatalf("from ONNX: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote ") {
		t.Errorf("from ONNX: %s", stdout)
	}
}

// maxLabel is the largest label of column task in dir's labels.csv.
func maxLabel(t *testing.T, dir, task string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	col := slices.Index(strings.Split(lines[0], ","), task)
	m := -1
	for _, l := range lines[1:] {
		v, err := strconv.Atoi(strings.Split(l, ",")[col])
		if err != nil {
			t.Fatal(err)
		}
		m = max(m, v)
	}
	return m
}

func TestTrainFolderBadInput(t *testing.T) {
	data := sceneFolder(t, "train", 16)
	dir := t.TempDir()
	out := filepath.Join(dir, "w.safetensors")
	onnxOut := filepath.Join(dir, "m.onnx")
	if _, stderr, code := run(t, "train", "mobilenet_v3_small", "--data", data, "--tasks", "scale,shape", "--size", "32", "--batch", "16", "--epochs", "1", "--out", onnxOut, "-q"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown column", []string{"resnet18", "--data", data, "--tasks", "scale,colour", "--size", "32", "--out", out}, `unknown task column "colour" (labels.csv has: floor_hue, wall_hue`},
		{"column twice", []string{"resnet18", "--data", data, "--tasks", "scale,scale", "--size", "32", "--out", out}, `task "scale" given twice`},
		{"n with data", []string{"resnet18", "--data", data, "--n", "64", "--out", out}, "--n and --test-n render 3D Shapes scenes"},
		{"test-data without data", []string{"resnet18", "--n", "64", "--test-data", data, "--out", out}, "--test-data evaluates a model trained on --data"},
		{"no such folder", []string{"resnet18", "--data", filepath.Join(dir, "none"), "--out", out}, "--data: data set"},
		{"wrong size", []string{"resnet18", "--data", data, "--size", "64", "--out", out}, "--data:"},
		{"fewer items than batch", []string{"resnet18", "--data", data, "--size", "32", "--batch", "32", "--out", out}, "has 16 items, fewer than --batch 32"},
		{"onnx heads differ", []string{onnxOut, "--data", data, "--tasks", "shape", "--out", out}, "has 2 outputs of"},
		{"resume missing", []string{"resnet18", "--data", data, "--size", "32", "--batch", "16", "--resume", filepath.Join(dir, "none.ck"), "--out", out}, "--resume: open"},
		{"resume garbage", []string{"resnet18", "--data", data, "--size", "32", "--batch", "16", "--resume", out + ".x", "--out", out}, "not a training checkpoint"},
		{"checkpoint is out", []string{"resnet18", "--data", data, "--checkpoint", out, "--out", out}, "is also --out"},
	}
	if err := os.WriteFile(out+".x", []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { badInput(t, append([]string{"train"}, c.args...), c.want) })
	}
}

// TestTrainResume: one epoch with --checkpoint, then --resume for the
// second, writes the very bytes two epochs straight write.
func TestTrainResume(t *testing.T) {
	dir := t.TempDir()
	base := []string{"train", "mobilenet_v3_small", "--n", "32", "--batch", "16", "--size", "32", "-q"}
	straight, ck, resumed := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "run.ck"), filepath.Join(dir, "b.safetensors")
	if _, stderr, code := run(t, append(base, "--epochs", "2", "--out", straight)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, append(base, "--epochs", "1", "--checkpoint", ck, "--out", filepath.Join(dir, "half.safetensors"))...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, append(base, "--epochs", "2", "--resume", ck, "--out", resumed)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "resumed "+ck+" after epoch 1/2") || strings.Contains(stdout, "epoch 1/2  lr") || !strings.Contains(stdout, "epoch 2/2  lr 1e-05") {
		t.Errorf("resumed run printed:\n%s", stdout)
	}
	a, err := os.ReadFile(straight)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(resumed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two epochs straight and 1 + resumed 1 wrote different weights")
	}
}

// The training status line averages the epoch so far, counts images per
// second of wall time and the time left for every remaining batch.
func TestTrainStatusLine(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	draw := statusLine(&buf, []string{"scale", "shape"}, 32, 2, now)
	// Epoch 1 of 2, 4 batches of 32, one a second.
	for b, r := range []train.Result{
		{Loss: []float64{2, 1}, Accuracy: []float64{0.25, 0.5}},
		{Loss: []float64{1, 1}, Accuracy: []float64{0.75, 0.5}},
	} {
		clock = clock.Add(time.Second)
		buf.Reset()
		draw(0, b+1, 4, r)
	}
	want := "epoch 1/2 2/4  loss 2.5000  accuracy scale 0.500 shape 0.500  32 img/s  ETA 6s"
	if got := strings.TrimPrefix(buf.String(), "\r\033[K"); got != want {
		t.Errorf("status line\n got %q\nwant %q", got, want)
	}
	// Lines closer than 200 ms apart are skipped, but not an epoch's last.
	buf.Reset()
	clock = clock.Add(100 * time.Millisecond)
	draw(0, 3, 4, train.Result{Loss: []float64{1, 1}, Accuracy: []float64{1, 1}})
	if buf.Len() != 0 {
		t.Errorf("drew again after 100 ms: %q", buf.String())
	}
	draw(0, 4, 4, train.Result{Loss: []float64{1, 1}, Accuracy: []float64{1, 1}})
	if !strings.Contains(buf.String(), "4/4  loss 2.2500  accuracy scale 0.750 shape 0.750") {
		t.Errorf("epoch's last line: %q", buf.String())
	}
}
