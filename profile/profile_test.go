package profile

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
)

func TestEncodingBytes(t *testing.T) {
	// resnet18 layer3 at 224: 256×14×14 = 50176 values.
	cut := Cuts(mustModel(t, "resnet18", 224))[7]
	tests := []struct {
		enc  codec.Encoding
		want int64
	}{
		{codec.FP32, 200704},
		{codec.FP16, 100352},
		{codec.Int8, 50176 + 8},
		{codec.Int4, 25088 + 8},
	}
	if cut.Name != "layer3" {
		t.Fatalf("cut 7 is %s", cut.Name)
	}
	for _, tc := range tests {
		if got := cut.Bytes(tc.enc); got != tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.enc, got, tc.want)
		}
	}
	if got := (Cut{Index: 1, Shape: model.Shape{3, 1, 1}}).Bytes(codec.Int4); got != 2+8 {
		t.Errorf("odd int4 count rounds up: %d", got)
	}
	// The input cut always sends the raw uint8 image, whatever is asked.
	if in := Cuts(mustModel(t, "resnet18", 160))[0]; in.Bytes(codec.FP32) != 3*160*160 {
		t.Errorf("input cut: %d bytes", in.Bytes(codec.FP32))
	}
}

func mustModel(t *testing.T, name string, size int) *model.Graph {
	t.Helper()
	g, err := model.New(name, size, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMemoryBytes(t *testing.T) {
	// A chain input→conv→relu keeps at most two tensors alive at once.
	b := model.NewBuilder("chain", 3, 4)
	b.Block("c", "Conv2d")
	x := b.Conv2d("c", b.Input(), model.Conv{OutChannels: 2, Kernel: 1, Stride: 1})
	b.Block("r", "ReLU")
	b.Activation("r", model.OpReLU, x)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// weights 6; activations: input 48 + conv 32 alive at the conv = 80.
	if got := MemoryBytes(g, onEdge(g, 2, nil), 4); got != (6+80)*4 {
		t.Errorf("chain: %d bytes, want %d", got, (6+80)*4)
	}
	// Only the input on the edge (remote-only): the image alone.
	if got := MemoryBytes(g, onEdge(g, 0, nil), 4); got != 48*4 {
		t.Errorf("input only: %d bytes", got)
	}
	// A residual block keeps its skip tensor alive: more than the chain peak.
	r := mustModel(t, "resnet18", 224)
	all := MemoryBytes(r, onEdge(r, len(r.Blocks), []bool{false, false}), 4)
	if want := r.BackboneParams() * 4; all <= want {
		t.Errorf("resnet18 edge memory %d not above its weights %d", all, want)
	}
}

func TestAccuracyTable(t *testing.T) {
	good := []byte("version: 1\nmodel: resnet18\nentries:\n  - {task: task1, cut: layer3, encoding: int8, accuracy: 0.91}\n  - {task: task1, cut: layer3, encoding: fp32, accuracy: 0.93}\n")
	tab, err := ParseAccuracy(good)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := tab.Accuracy("task1", "layer3", codec.Int8); !ok || a != 0.91 {
		t.Errorf("lookup: %v %v", a, ok)
	}
	if a, ok := tab.Native("task1"); !ok || a != 0.93 {
		t.Errorf("native: %v %v", a, ok)
	}
	// A measured table: intervals, the plain forward pass (which Native
	// prefers) and sizes after zstd.
	measured := []byte(`version: 1
model: resnet18
method: labelled
samples: 200
interval: wilson-95
tasks:
  - {task: task1, column: shape, classes: 4, accuracy: 0.95, samples: 200, ci_low: 0.91, ci_high: 0.973}
entries:
  - {task: task1, cut: layer3, encoding: int4, accuracy: 0, samples: 200, ci_low: 0, ci_high: 0.0188}
  - {task: task1, cut: layer3, encoding: fp32, accuracy: 0.95, samples: 200, ci_low: 0.91, ci_high: 0.973}
sizes:
  - {cut: layer3, encoding: int4+zstd, mean_bytes: 1500.5, p95_bytes: 1700, max_bytes: 1800}
`)
	mt, err := ParseAccuracy(measured)
	if err != nil {
		t.Fatal(err)
	}
	if n, lo, hi, ok := mt.CI("task1", "layer3", codec.Int4); !ok || n != 200 || lo != 0 || hi != 0.0188 {
		t.Errorf("interval: %d [%g, %g] %v", n, lo, hi, ok)
	}
	if a, ok := mt.Native("task1"); !ok || a != 0.95 {
		t.Errorf("native: %v %v", a, ok)
	}
	if s, ok := mt.Size("layer3", "int4+zstd"); !ok || s.MeanBytes != 1500.5 || s.P95Bytes != 1700 {
		t.Errorf("size: %+v %v", s, ok)
	}
	g := mustModel(t, "resnet18", 224)
	var l Latency
	mt.UseSizes(g, &l)
	if len(l.CutBytes) != len(g.Blocks)+1 || l.CutBytes[7]["int4+zstd"] != 1501 || len(l.CutBytes[6]) != 0 {
		t.Errorf("sizes into the latency: %v", l.CutBytes)
	}
	if _, _, _, ok := tab.CI("task1", "layer3", codec.Int8); ok {
		t.Error("an old table has no intervals")
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	want := map[string]string{
		"unknown_field.bad.yaml": `unknown_field.bad.yaml:3: unknown field "acc" (did you mean "accuracy"?)`,
		"range.bad.yaml":         "range.bad.yaml:4: entries[1].accuracy is 91 (want a fraction in [0, 1])",
		"duplicate.bad.yaml":     "duplicate.bad.yaml:5: entries[2] repeats entries[0] (task task1, cut layer3, int8)",
		"two_docs.bad.yaml":      "second YAML document",
		"version.bad.yaml":       "version.bad.yaml:1: version is 2 (want 1)",
		"encoding.bad.yaml":      `encoding.bad.yaml:3: entries[0].encoding "fp8" is unknown`,
		"nan.bad.yaml":           "nan.bad.yaml:3: entries[0].accuracy is NaN",
		"ci_outside.bad.yaml":    "ci_outside.bad.yaml:3: entries[0] has accuracy 0.9 outside its interval [0.91, 0.95]",
		"ci_half.bad.yaml":       "ci_half.bad.yaml:3: entries[0] needs both ci_low and ci_high, or neither",
		"ci_no_samples.bad.yaml": "ci_no_samples.bad.yaml:3: entries[0] has a confidence interval but no samples",
		"method.bad.yaml":        `method.bad.yaml:2: method "guessed" is unknown`,
		"sizes.bad.yaml":         "sizes.bad.yaml:4: sizes[0] has mean_bytes 900 and p95_bytes 1200 above max_bytes 1100",
		"task_range.bad.yaml":    "task_range.bad.yaml:3: tasks[0].accuracy is 1.5 (want a fraction in [0, 1])",
	}
	if len(files) != len(want) {
		t.Fatalf("%d bad files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadAccuracy(f)
			if err == nil || !strings.Contains(err.Error(), want[filepath.Base(f)]) {
				t.Errorf("error %v, want %q", err, want[filepath.Base(f)])
			}
		})
	}
}

// TestAccuracyCheck: entries for a task or cut the model does not have are
// refused at their line, not silently ignored.
func TestAccuracyCheck(t *testing.T) {
	g := mustModel(t, "resnet18", 224)
	tests := []struct {
		name, entries string
		want          []string // "" entries: accepted
	}{
		{"good", "  - {task: task1, cut: layer3, encoding: int8, accuracy: 0.9}\n  - {task: task2, cut: input, encoding: uint8, accuracy: 0.95}\n", nil},
		{"unknown task", "  - {task: task3, cut: layer3, encoding: int8, accuracy: 0.9}\n", []string{`acc.yaml:4: entries[0].task "task3" is not a task of resnet18 (did you mean "task1"`}},
		{"unknown cut", "  - {task: task1, cut: layer3, encoding: int8, accuracy: 0.9}\n  - {task: task1, cut: layer5, encoding: int8, accuracy: 0.9}\n",
			[]string{`acc.yaml:5: entries[1].cut "layer5" is not a cut of resnet18 (did you mean "layer1"`}},
		{"unknown size cut and task", "  - {task: task1, cut: layer3, encoding: int8, accuracy: 0.9}\nsizes:\n  - {cut: layer9, encoding: int8+zstd, mean_bytes: 1, p95_bytes: 1, max_bytes: 1}\ntasks:\n  - {task: task7, accuracy: 0.9}\n",
			[]string{`acc.yaml:8: tasks[0].task "task7" is not a task of resnet18`, `acc.yaml:6: sizes[0].cut "layer9" is not a cut of resnet18`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "acc.yaml")
			if err := os.WriteFile(path, []byte("version: 1\nmodel: resnet18\nentries:\n"+tc.entries), 0o644); err != nil {
				t.Fatal(err)
			}
			tab, err := LoadAccuracy(path)
			if err != nil {
				t.Fatal(err)
			}
			err = tab.Check(g)
			if tc.want == nil {
				if err != nil {
					t.Error(err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
		})
	}
	other, _ := ParseAccuracy([]byte("version: 1\nmodel: vgg16\nentries: []\n"))
	if err := other.Check(g); err == nil || !strings.Contains(err.Error(), "line 2: model is vgg16, but the plan is for resnet18") {
		t.Errorf("a vgg16 table for resnet18: %v", err)
	}
}

// TestMeasuredTableGoodAndBad: every number of a measured table is checked
// (finite, in range, order statistics in order) and every field known, in
// this project's YAML and in the reference JSON alike.
func TestMeasuredTableGoodAndBad(t *testing.T) {
	want := map[string][]string{
		"nan_median.bad.yaml":    {"nan_median.bad.yaml:13: backbones.resnet18.blocks[0].latency.median_ms is NaN (want a finite number ≥ 0)"},
		"inf_p90.bad.yaml":       {"inf_p90.bad.yaml:16: backbones.resnet18.blocks[1].latency.p90_ms is +Inf"},
		"negative.bad.yaml":      {"negative.bad.yaml:20: backbones.resnet18.heads[0].latency.median_ms is -0.3"},
		"p90_below.bad.yaml":     {"p90_below.bad.yaml:22: backbones.resnet18.latency.end_to_end.p90_ms 1.9 is below the median 2.1"},
		"unknown_field.bad.yaml": {`unknown_field.bad.yaml:13: unknown field "medain_ms" (did you mean`},
		"dtype.bad.yaml":         {`dtype.bad.yaml:3: meta.dtype "int8" is unknown`},
		"batch.bad.yaml":         {"batch.bad.yaml:4: meta.batch is 8 (the planner's costs are per image"},
		"cut_bytes.bad.yaml":     {"cut_bytes.bad.yaml:14: backbones.resnet18.blocks[0].cut_bytes.fp32 is 0 (want a size in bytes > 0)", `cut_bytes.int3 "int3" is unknown (did you mean "int8"`},
		"head.bad.yaml":          {"head.bad.yaml:18: backbones.resnet18.heads[0] has k 0"},
		"unknown_field.bad.json": {`unknown_field.bad.json:7: unknown field "stddev_ms" (valid: median_ms, p90_ms`},
		"minmax.bad.json":        {"minmax.bad.json:6: backbones.vgg16.blocks[0].latency.median_ms 0.1 lies outside [min_ms, max_ms] = [0.05, 0.09]"},
	}
	files, _ := filepath.Glob("testdata/measured/*")
	if len(files) != len(want)+1 {
		t.Fatalf("%d files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tab, err := LoadTable(f)
			if strings.Contains(name, ".good.") {
				if err != nil || tab.Backbones["resnet18"].Blocks[0].CutBytes["int8+zstd"] != 500000 {
					t.Fatalf("%v", err)
				}
				return
			}
			for _, w := range want[name] {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
		})
	}
	// The reference tables themselves pass.
	refs, _ := filepath.Glob("../hwprofiles/measured/*.json")
	for _, f := range refs {
		if _, err := LoadTable(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestMeasuredWins checks that a measured table replaces the prediction
// block by block and head by head, and keeps layers consistent with blocks.
func TestMeasuredWins(t *testing.T) {
	raw, err := os.ReadFile("../hwprofiles/measured/h100_fp16_b1_224.json")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ParseTable(raw)
	if err != nil {
		t.Fatal(err)
	}
	cm := CostModel{Device: "h100", BytesPerElem: 2, PeakGFLOPS: 989400, MemBandwidthGBps: 3350, LayerOverheadMS: 0.014,
		Efficiency: map[OpClass]float64{ClassConv: 0.1, ClassDepthwise: 0.01, ClassLinear: 0.1, ClassElementwise: 0.05, ClassPool: 0.05}}
	src := Measured{File: "h100_fp16_b1_224.json", Table: tab, Fallback: cm}
	for _, name := range model.Zoo() {
		g := mustModel(t, name, 224)
		l, err := src.Latency(g)
		if err != nil {
			t.Fatal(err)
		}
		if l.Source != "measured: h100_fp16_b1_224.json" {
			t.Errorf("%s: source %q", name, l.Source)
		}
		for i, b := range tab.Backbones[name].Blocks {
			if l.BlockMS[i] != b.Latency.MedianMS {
				t.Errorf("%s block %s: %g ms, measured %g", name, b.Name, l.BlockMS[i], b.Latency.MedianMS)
			}
			var sum float64
			for id := g.Blocks[i].First; id <= g.Blocks[i].Output; id++ {
				sum += l.NodeMS[id]
			}
			if math.Abs(sum-b.Latency.MedianMS) > 1e-9 {
				t.Errorf("%s block %s: layers add to %g, block %g", name, b.Name, sum, b.Latency.MedianMS)
			}
		}
		if l.HeadMS[0] != tab.Backbones[name].Heads[0].Latency.MedianMS {
			t.Errorf("%s head: %g", name, l.HeadMS[0])
		}
		// At another input size the table does not apply: predicted.
		l64, err := src.Latency(mustModel(t, name, 64))
		if err != nil || l64.Source != "predicted" {
			t.Errorf("%s at 64: %v %v", name, l64.Source, err)
		}
	}
}

// TestPredictionOverheadDominatesSmallLayers: at batch 1 on a GPU a ReLU costs
// about the per-layer overhead, and MobileNetV3-Small (many small layers)
// takes longer than VGG16 — as measured on the H100.
func TestPredictionOverheadDominatesSmallLayers(t *testing.T) {
	cm := CostModel{Device: "gpu", BytesPerElem: 2, PeakGFLOPS: 989400, MemBandwidthGBps: 3350, LayerOverheadMS: 0.014,
		Efficiency: map[OpClass]float64{ClassConv: 0.1, ClassDepthwise: 0.01, ClassLinear: 0.1, ClassElementwise: 0.05, ClassPool: 0.05}}
	total := func(name string) float64 {
		l, err := cm.Latency(mustModel(t, name, 224))
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, v := range l.BlockMS {
			s += v
		}
		return s
	}
	if m, v := total("mobilenet_v3_small"), total("vgg16"); m <= v {
		t.Errorf("mobilenet_v3_small %g ms ≤ vgg16 %g ms", m, v)
	}
}

// onEdge reports which nodes run on the edge when the first cut blocks of
// the backbone and the heads marked in headsOnEdge run there.
func onEdge(g *model.Graph, cut int, headsOnEdge []bool) []bool {
	on := make([]bool, len(g.Nodes))
	on[0] = true
	for _, n := range g.Nodes {
		switch {
		case n.Task >= 0:
			on[n.ID] = headsOnEdge[n.Task]
		case n.Block >= 0:
			on[n.ID] = n.Block < cut
		}
	}
	return on
}

// TestMeasuredLayersSplitBlocks: measured layer times set how a block's
// measured time splits over its layers (fused layers get none).
func TestMeasuredLayersSplitBlocks(t *testing.T) {
	g := mustModel(t, "resnet18", 64)
	var tb TableBackbone
	for _, b := range g.Blocks {
		tb.Blocks = append(tb.Blocks, TableBlock{Name: b.Name, Latency: Stat{MedianMS: 2}})
	}
	// Every node of layer1 measured at 1 ms except its batch norms, fused.
	l1 := g.Blocks[4]
	for id := l1.First; id <= l1.Output; id++ {
		n := g.Nodes[id]
		ly := TableLayer{Node: id, Name: n.Name, Op: string(n.Op), Latency: Stat{MedianMS: 1}}
		if n.Op == model.OpBatchNorm2d {
			ly.Latency, ly.FusedInto = Stat{}, "conv"
		}
		tb.Layers = append(tb.Layers, ly)
	}
	tab := &Table{Backbones: map[string]TableBackbone{"resnet18": tb}}
	tab.Meta.Size = 64
	cm := CostModel{Device: "x", BytesPerElem: 4, PeakGFLOPS: 100, MemBandwidthGBps: 10, LayerOverheadMS: 0.01,
		Efficiency: map[OpClass]float64{ClassConv: 0.5, ClassDepthwise: 0.1, ClassLinear: 0.3, ClassElementwise: 0.2, ClassPool: 0.2}}
	l, err := Measured{File: "t", Table: tab, Fallback: cm}.Latency(g)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for id := l1.First; id <= l1.Output; id++ {
		sum += l.NodeMS[id]
		if g.Nodes[id].Op == model.OpBatchNorm2d && l.NodeMS[id] != 0 {
			t.Errorf("fused %s has %g ms", g.Nodes[id].Name, l.NodeMS[id])
		}
	}
	if math.Abs(sum-2) > 1e-9 || l.BlockMS[4] != 2 {
		t.Errorf("layer1: layers add to %g, block %g; want 2", sum, l.BlockMS[4])
	}
	// Blocks without measured layers keep the predicted split, scaled.
	var conv1 float64
	for id := g.Blocks[0].First; id <= g.Blocks[0].Output; id++ {
		conv1 += l.NodeMS[id]
	}
	if math.Abs(conv1-2) > 1e-9 {
		t.Errorf("conv1: nodes add to %g, want 2", conv1)
	}
}

// FuzzParseTable: no input makes the measured table parser panic, and a
// table it accepts has only finite times.
func FuzzParseTable(f *testing.F) {
	good, _ := os.ReadFile("testdata/measured/tiny.good.yaml")
	f.Add(good)
	f.Add([]byte(`{"meta": {"dtype": "fp32", "batch": 1, "size": 1}, "backbones": {"x": {"blocks": [{"name": "a", "latency": {"median_ms": 1, "p90_ms": 1}}]}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tab, err := ParseTable(raw)
		if err != nil {
			return
		}
		for _, b := range tab.Backbones {
			for _, bl := range b.Blocks {
				if math.IsNaN(bl.Latency.MedianMS) || math.IsInf(bl.Latency.MedianMS, 0) || bl.Latency.MedianMS < 0 {
					t.Errorf("accepted median %g", bl.Latency.MedianMS)
				}
			}
		}
	})
}

// FuzzParseAccuracy: no input makes the accuracy table parser panic.
func FuzzParseAccuracy(f *testing.F) {
	f.Add([]byte("version: 1\nentries:\n  - {task: task1, cut: layer3, encoding: int8, accuracy: 0.9}\n"))
	f.Add([]byte("entries: [1, 2]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if tab, err := ParseAccuracy(raw); err == nil {
			for _, e := range tab.Entries {
				if !(e.Accuracy >= 0 && e.Accuracy <= 1) {
					t.Errorf("accepted accuracy %g", e.Accuracy)
				}
			}
		}
	})
}

// TestCostModelConvClasses: a 1×1 conv runs at the conv1x1 efficiency, a
// 3×3 stride-1 conv at conv3x3's, a strided 3×3 or 7×7 at conv's; without
// them, both fall back to conv's.
func TestCostModelConvClasses(t *testing.T) {
	g, err := model.Classifier("resnet18", 224)
	if err != nil {
		t.Fatal(err)
	}
	node := func(name string) model.Node {
		for _, n := range g.Nodes {
			if n.Name == name {
				return n
			}
		}
		t.Fatalf("resnet18 has no %s", name)
		return model.Node{}
	}
	// Compute-bound: bandwidth far above what any layer needs.
	m := CostModel{BytesPerElem: 4, PeakGFLOPS: 100, MemBandwidthGBps: 1e9,
		Efficiency: map[OpClass]float64{ClassConv: 0.5, ClassConv1x1: 0.25, ClassConv3x3: 2}}
	for _, tc := range []struct {
		name string
		eff  float64
	}{{"layer2.0.downsample.0", 0.25}, {"layer2.0.conv2", 2}, {"layer2.0.conv1", 0.5}, {"conv1", 0.5}} {
		n := node(tc.name)
		want := FLOPs(n) / (100 * tc.eff * 1e6)
		if got := m.NodeMS(g, n); math.Abs(got/want-1) > 1e-9 {
			t.Errorf("%s: %.6g ms, want %.6g (efficiency %g)", tc.name, got, want, tc.eff)
		}
		plain := m
		plain.Efficiency = map[OpClass]float64{ClassConv: 0.5}
		want = FLOPs(n) / (100 * 0.5 * 1e6)
		if got := plain.NodeMS(g, n); math.Abs(got/want-1) > 1e-9 {
			t.Errorf("%s without conv1x1 and conv3x3: %.6g ms, want %.6g", tc.name, got, want)
		}
	}
}
