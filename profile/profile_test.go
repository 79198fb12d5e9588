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
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	want := map[string]string{
		"unknown_field.bad.yaml": "line 3: field acc not found",
		"range.bad.yaml":         "line 4: accuracy 91 is not a fraction",
		"duplicate.bad.yaml":     "line 5: duplicate entry",
		"two_docs.bad.yaml":      "second YAML document",
		"version.bad.yaml":       "version 2",
		"encoding.bad.yaml":      `unknown encoding "fp8"`,
		"nan.bad.yaml":           "accuracy NaN is not a fraction",
	}
	if len(files) != len(want) {
		t.Fatalf("%d bad files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadAccuracy(f)
			if err == nil || !strings.Contains(err.Error(), want[filepath.Base(f)]) || !strings.Contains(err.Error(), f) {
				t.Errorf("error %v, want %q with the file name", err, want[filepath.Base(f)])
			}
		})
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
