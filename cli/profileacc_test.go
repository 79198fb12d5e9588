package cli

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// ownLabels writes n seeded noise tensors (.f32, 3×32×32, amplitudes
// varying so that the network's predictions vary) as a data set labelled
// with the CLI's own mobilenet_v3_small (tasks 8,4, --seed 1) fp32
// predictions, under the given column names (a column past the heads
// repeats the last head's, for a count mismatch).
func ownLabels(t *testing.T, n int, columns []string) string {
	t.Helper()
	g, err := model.New("mobilenet_v3_small", 32, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	w, err := engine.RandomWeights(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(g, w, engine.Options{Threads: 1, Backend: engine.BestBackend()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	return labelledBy(t, p, n, columns)
}

// labelledBy writes the data set of ownLabels labelled by program p.
func labelledBy(t *testing.T, p *engine.Program, n int, columns []string) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 4))
	var csv strings.Builder
	csv.WriteString("file," + strings.Join(columns, ",") + "\n")
	x := make([]float32, p.Graph().Input.Elems())
	for i := range n {
		amp := 0.2 + 2.8*rng.Float64()
		raw := make([]byte, 4*len(x))
		for j := range x {
			x[j] = float32(rng.NormFloat64() * amp)
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x[j]))
		}
		name := fmt.Sprintf("x%03d.f32", i)
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		_, heads, err := p.RunAll(x)
		if err != nil {
			t.Fatal(err)
		}
		row := []string{name}
		for h := range columns {
			row = append(row, fmt.Sprint(measure.Top1(heads[min(h, len(heads)-1)])))
		}
		csv.WriteString(strings.Join(row, ",") + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestProfileAccuracyFeedsPlan: profile --accuracy on labels that are the
// network's own predictions gives the plain forward pass's accuracy (1) for
// fp32 at every cut; the table it writes loads in plan --accuracy, and a
// floor on task1 just above the chosen plan's measured accuracy moves the
// choice while a floor at it does not.
func TestProfileAccuracyFeedsPlan(t *testing.T) {
	data := ownLabels(t, 40, []string{"task1", "task2"})
	acc := filepath.Join(t.TempDir(), "acc.yaml")
	stdout, stderr, code := run(t, "profile", "mobilenet_v3_small", "--input", "32", "--accuracy", "--data", data,
		"--encodings", "fp32,int8,int4", "--accuracy-out", acc)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "top-1 accuracy on 40 samples") || !strings.Contains(stdout, "task1 (column task1): 100.0% [91.2, 100.0]") {
		t.Errorf("stdout:\n%s", stdout)
	}
	tab, err := profile.LoadAccuracy(acc)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Method != profile.MethodLabelled || tab.Samples != 40 || len(tab.Entries) != 13*3*2 || len(tab.Sizes) != 13*3 {
		t.Fatalf("method %q, %d samples, %d entries, %d sizes", tab.Method, tab.Samples, len(tab.Entries), len(tab.Sizes))
	}
	lossy := 0
	for _, e := range tab.Entries {
		if e.Encoding == codec.FP32 && e.Accuracy != 1 {
			t.Errorf("fp32 at %s: %s %g, the forward pass gives 1", e.Cut, e.Task, e.Accuracy)
		}
		if e.Accuracy < 1 {
			lossy++
		}
	}
	if lossy == 0 {
		t.Fatal("no encoding lost accuracy: the floor test below would prove nothing")
	}
	plan := func(floor string) (cut string, enc codec.Encoding, accuracy float64) {
		t.Helper()
		got := planWithFloor(t, floor, "mobilenet_v3_small", "--input", "32", "--device", "jetson-nano", "--network", "wifi6", "--uplink-mbps", "5",
			"--encodings", "fp32,int8,int4", "--accuracy", acc)
		// The plan reports the interval the table measured for that entry.
		_, lo, hi, ok := tab.CI("task1", got.Choice.Cut, got.Choice.Encoding)
		if ci := got.Predicted.AccuracyCI["task1"]; !ok || ci != [2]float64{lo, hi} {
			t.Errorf("plan's task1 interval %v, the table's %v–%v (%v)", ci, lo, hi, ok)
		}
		return got.Choice.Cut, got.Choice.Encoding, got.Predicted.Accuracy["task1"]
	}
	cut, enc, a := plan("")
	measured, ok := tab.Accuracy("task1", cut, enc)
	if !ok || measured != a || !(a < 1) {
		t.Fatalf("unconstrained plan: %s %s with task1 %g; the table says %g (%v); the test needs a lossy choice", cut, enc, a, measured, ok)
	}
	t.Logf("unconstrained: %s %s, task1 %g", cut, enc, a)
	if c, e, _ := plan(fmt.Sprintf("task1=%g", a)); c != cut || e != enc {
		t.Errorf("floor at the measured %g moved the choice to %s %s", a, c, e)
	}
	c, e, got := plan(fmt.Sprintf("task1=%g", a+0.001))
	if c == cut && e == enc || got < a+0.001 {
		t.Errorf("floor above the measured %g kept %s %s (task1 %g)", a, c, e, got)
	}
	t.Logf("floor %g: %s %s, task1 %g", a+0.001, c, e, got)
}

// TestProfileAccuracyByOrder: label columns not named after the heads are
// scored by order, and the command says so.
func TestProfileAccuracyByOrder(t *testing.T) {
	data := ownLabels(t, 4, []string{"shape", "colour"})
	stdout, stderr, code := run(t, "profile", "mobilenet_v3_small", "--input", "32", "--accuracy", "--data", data, "--encodings", "int8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "scored by order, shape→task1, colour→task2") || !strings.Contains(stdout, "task2 (column colour): 100.0%") {
		t.Errorf("stderr %q\nstdout:\n%s", stderr, stdout)
	}
}

func TestProfileAccuracyBadInput(t *testing.T) {
	dir := t.TempDir()
	three := ownLabels(t, 2, []string{"a", "b", "c"})
	big := t.TempDir()
	os.WriteFile(filepath.Join(big, "x.f32"), make([]byte, 4*3*32*32), 0o644)
	os.WriteFile(filepath.Join(big, "labels.csv"), []byte("file,task1,task2\nx.f32,9,0\n"), 0o644)
	nan := t.TempDir()
	raw := make([]byte, 4*3*32*32)
	binary.LittleEndian.PutUint32(raw[40:], math.Float32bits(float32(math.NaN())))
	os.WriteFile(filepath.Join(nan, "x.f32"), raw, 0o644)
	os.WriteFile(filepath.Join(nan, "labels.csv"), []byte("file,task1,task2\nx.f32,1,0\n"), 0o644)
	base := []string{"profile", "mobilenet_v3_small", "--input", "32"}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing dir", []string{"--accuracy", "--data", filepath.Join(dir, "nope")}, []string{"--data", "no such directory"}},
		{"no labels", []string{"--accuracy", "--data", dir}, []string{"has no labels.csv"}},
		{"label count mismatch", []string{"--accuracy", "--data", three}, []string{"the data has 3 label columns (a,b,c) but mobilenet_v3_small has 2 task heads (task1,task2)"}},
		{"class out of range", []string{"--accuracy", "--data", big}, []string{`label column "task1" has 10 classes but head task1 has 8 outputs`}},
		{"value not finite", []string{"--accuracy", "--data", nan}, []string{"--data: ", "labels.csv:2: x.f32: value 10 is NaN (not finite)"}},
		{"accuracy without data", []string{"--accuracy"}, []string{"--accuracy needs --data DIR"}},
		{"data without accuracy", []string{"--measure", "--data", big}, []string{"--data is read by --accuracy"}},
		{"accuracy and fidelity", []string{"--accuracy", "--data", big, "--fidelity", "3"}, []string{"give one"}},
		{"zstd encoding", []string{"--accuracy", "--data", big, "--encodings", "int8+zstd"}, []string{"give base encodings"}},
		{"bad batch", []string{"--accuracy", "--data", big, "--batch", "0"}, []string{"--batch 0"}},
		{"bad shape", []string{"--accuracy", "--data", big, "--shape", "3,64,64"}, []string{"--shape 3,64,64: the model takes 3,32,32"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			badInput(t, append(append([]string(nil), base...), c.args...), c.want...)
		})
	}
}

// TestProfileAccuracySizesInProfile: with --measure too, the measured
// profile's zstd sizes are the data set's means (rounded up), not one
// random input's, so plan --profile prices "int8+zstd" on the data.
func TestProfileAccuracySizesInProfile(t *testing.T) {
	data := ownLabels(t, 6, []string{"task1", "task2"})
	dir := t.TempDir()
	acc, prof := filepath.Join(dir, "acc.yaml"), filepath.Join(dir, "profile.yaml")
	if _, stderr, code := run(t, "profile", "mobilenet_v3_small", "--input", "32", "--accuracy", "--data", data, "--encodings", "int8",
		"--accuracy-out", acc, "--measure", "--reps", "1", "--warmup", "0", "--out", prof); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tab, err := profile.LoadAccuracy(acc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := profile.LoadTable(prof)
	if err != nil {
		t.Fatal(err)
	}
	blocks := m.Backbones["mobilenet_v3_small"].Blocks
	if len(blocks) != 13 {
		t.Fatalf("%d blocks", len(blocks))
	}
	for _, b := range blocks {
		for _, e := range []codec.Encoding{"fp32+zstd", "int8+zstd"} {
			s, ok := tab.Size(b.Name, e)
			if want := int64(math.Ceil(s.MeanBytes)); !ok || b.CutBytes[string(e)] != want {
				t.Errorf("%s %s: profile has %d B, the data set's mean is %g (%v)", b.Name, e, b.CutBytes[string(e)], s.MeanBytes, ok)
			}
		}
	}
}

// TestFidelitySaysConstant: the fallback warns about a task whose fp32
// prediction never changed over its random inputs (here task2 of the seeded
// mobilenet_v3_small at 32 px), and not about one whose did.
func TestFidelitySaysConstant(t *testing.T) {
	stdout, stderr, code := run(t, "profile", "mobilenet_v3_small", "--input", "32", "--fidelity", "8", "--encodings", "int8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "warning: fidelity: the fp32 prediction of task2 was the same class on all 8 inputs, so agreement proves nothing there"
	if !strings.Contains(stderr, want) || strings.Contains(stderr, "task1") || !strings.Contains(stdout, "not accuracy") {
		t.Errorf("stderr %q, want %q (and nothing about task1)\nstdout:\n%s", stderr, want, stdout)
	}
}

// TestProfileAccuracyONNX: a single-output ONNX file gets the zoo's heads
// of --tasks (seeded random weights, the file's own for the backbone), and
// is scored like a zoo model: on its own predictions, 1 at every fp32 cut.
func TestProfileAccuracyONNX(t *testing.T) {
	const file = "../onnx/testdata/tiny_folded.onnx"
	eo := EngineOptions{Model: file, Tasks: "5,3", Seed: 1, Threads: 1, Backend: string(engine.BestBackend()), Heads: true}
	p, err := eo.program()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	g := p.Graph()
	data := labelledBy(t, p, 12, []string{"task1", "task2"})
	acc := filepath.Join(t.TempDir(), "acc.yaml")
	if _, stderr, code := run(t, "profile", file, "--tasks", "5,3", "--accuracy", "--data", data, "--encodings", "int4", "--accuracy-out", acc); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tab, err := profile.LoadAccuracy(acc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Check(g); err != nil {
		t.Fatal(err)
	}
	if len(tab.Entries) != len(g.Blocks)*2*2 {
		t.Fatalf("%d entries for %d blocks", len(tab.Entries), len(g.Blocks))
	}
	for _, e := range tab.Entries {
		if e.Encoding == codec.FP32 && e.Accuracy != 1 {
			t.Errorf("fp32 at %s: %s %g", e.Cut, e.Task, e.Accuracy)
		}
	}
	badInput(t, []string{"profile", file, "--tasks", "", "--accuracy", "--data", data}, "has no task heads: give --tasks")

	// At layer granularity every layer is a cut (blocks under their names),
	// and plan --accuracy takes the table.
	layers := filepath.Join(t.TempDir(), "layers.yaml")
	if _, stderr, code := run(t, "profile", file, "--tasks", "5,3", "--accuracy", "--data", data, "--encodings", "int8",
		"--granularity", "layer", "--accuracy-out", layers); code != 0 {
		t.Fatalf("layer granularity: exit %d: %s", code, stderr)
	}
	lt, err := profile.LoadAccuracy(layers)
	if err != nil {
		t.Fatal(err)
	}
	cuts := map[string]bool{}
	for _, e := range lt.Entries {
		cuts[e.Cut] = true
		if e.Encoding == codec.FP32 && e.Accuracy != 1 {
			t.Errorf("layer fp32 at %s: %s %g", e.Cut, e.Task, e.Accuracy)
		}
	}
	if len(cuts) != len(measure.LayerCuts(g)) || !cuts["features.3"] || !cuts["features.0.0#1"] {
		t.Errorf("%d layer cuts, want %d with features.3 and features.0.0#1: %v", len(cuts), len(measure.LayerCuts(g)), cuts)
	}
	if _, stderr, code := run(t, "plan", file, "--tasks", "5,3", "--granularity", "layer", "--encodings", "fp32,int8", "--accuracy", layers, "--min-accuracy", "0.5"); code != 0 {
		t.Errorf("plan with the layer table: exit %d: %s", code, stderr)
	}
}

// TestProfileAccuracySkip: with --on-bad skip, bad rows are left out and
// listed on stderr, and the table counts only the rows scored.
func TestProfileAccuracySkip(t *testing.T) {
	data := ownLabels(t, 3, []string{"task1", "task2"})
	f, err := os.OpenFile(filepath.Join(data, "labels.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("gone.f32,0,0\n")
	f.Close()
	args := []string{"profile", "mobilenet_v3_small", "--input", "32", "--accuracy", "--data", data, "--encodings", "int8", "-o", "yaml"}
	badInput(t, args, "labels.csv:5: gone.f32: no such file")
	stdout, stderr, code := run(t, append(args, "--on-bad", "skip")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 bad rows of "+data) || !strings.Contains(stderr, "labels.csv:5: gone.f32: no such file") {
		t.Errorf("stderr %q", stderr)
	}
	tab, err := profile.ParseAccuracy([]byte(stdout))
	if err != nil || tab.Samples != 3 {
		t.Fatalf("table of %v samples, err %v", tab, err)
	}
}

// TestProfileAccuracyTwoOutputONNX: on the two-output network PyTorch
// exported (onnx/testdata/mtl_resnet.onnx: tasks hue and shape), labelled
// by its own fp32 predictions, fp32 scores 1 at every cut — the plain
// forward pass — and int4 at the earliest cut scores measurably less.
func TestProfileAccuracyTwoOutputONNX(t *testing.T) {
	const file = "../onnx/testdata/mtl_resnet.onnx"
	eo := EngineOptions{Model: file, Seed: 1, Threads: 1, Backend: string(engine.BestBackend()), Heads: true}
	p, err := eo.program()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	g := p.Graph()
	data := labelledBy(t, p, 40, []string{"hue", "shape"})
	acc := filepath.Join(t.TempDir(), "acc.yaml")
	if _, stderr, code := run(t, "profile", file, "--accuracy", "--data", data, "--encodings", "int4", "--accuracy-out", acc); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tab, err := profile.LoadAccuracy(acc)
	if err != nil {
		t.Fatal(err)
	}
	first := g.Blocks[0].Name
	for _, task := range []string{"hue", "shape"} {
		if a, ok := tab.Native(task); !ok || a != 1 {
			t.Errorf("%s: plain forward pass %g (%v), want 1 on its own predictions", task, a, ok)
		}
	}
	lost := false
	for _, e := range tab.Entries {
		if e.Encoding == codec.FP32 && e.Accuracy != 1 {
			t.Errorf("fp32 at %s: %s %g, want the plain pass's 1", e.Cut, e.Task, e.Accuracy)
		}
		if e.Encoding == codec.Int4 && e.Cut == first && e.Accuracy < 1 {
			lost = true
			t.Logf("int4 after %s: %s %g", first, e.Task, e.Accuracy)
		}
	}
	if !lost {
		t.Errorf("int4 after %s lost nothing on either task", first)
	}

	// The plan on the file reads the table: a floor on a task just above
	// what the unconstrained choice measures moves the choice.
	plan := func(floor string) (choice string, accuracy map[string]float64) {
		t.Helper()
		got := planWithFloor(t, floor, file, "--device", "rpi4", "--server", "h100", "--network", "4g", "--objective", "energy",
			"--encodings", "fp32,int4", "--accuracy", acc)
		return got.Choice.Cut + "/" + string(got.Choice.Encoding), got.Predicted.Accuracy
	}
	free, a := plan("")
	task := "hue"
	if a["shape"] < a["hue"] {
		task = "shape"
	}
	if !(a[task] < 1) {
		t.Fatalf("unconstrained %s scores %v: the floor below would prove nothing", free, a)
	}
	if c, _ := plan(fmt.Sprintf("%s=%g", task, a[task])); c != free {
		t.Errorf("a floor at the measured %s %g moved %s to %s", task, a[task], free, c)
	}
	if c, got := plan(fmt.Sprintf("%s=%g", task, a[task]+0.001)); c == free || got[task] <= a[task] {
		t.Errorf("a floor above the measured %s %g kept %s (%v)", task, a[task], c, got)
	}
}

// plannedAccuracy is what the floor tests read from plan -o json.
type plannedAccuracy struct {
	Choice struct {
		Cut      string         `json:"cut"`
		Encoding codec.Encoding `json:"encoding"`
	} `json:"choice"`
	Predicted struct {
		Accuracy   map[string]float64    `json:"accuracy"`
		AccuracyCI map[string][2]float64 `json:"accuracy_ci"`
	} `json:"predicted"`
}

// planWithFloor plans args (after "plan"), with --min-accuracy floor if
// one is given.
func planWithFloor(t *testing.T, floor string, args ...string) plannedAccuracy {
	t.Helper()
	args = append([]string{"plan"}, append(args, "-o", "json")...)
	if floor != "" {
		args = append(args, "--min-accuracy", floor)
	}
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("plan --min-accuracy %q: exit %d: %s", floor, code, stderr)
	}
	var got plannedAccuracy
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	return got
}
