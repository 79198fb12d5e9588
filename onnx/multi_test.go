package onnx

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// TestMultiOutputExports imports the two-output torch exports of
// gen_multi.py: one task per output, named after it, with the layers that
// feed only that output as its head.
func TestMultiOutputExports(t *testing.T) {
	type head struct {
		task    string
		classes int
		ops     []model.Op
		params  int64
		macs    int64
	}
	mlp := []model.Op{model.OpLinear, model.OpReLU, model.OpLinear}
	for _, tc := range []struct {
		file      string
		heads     []head
		blocks    int
		feature   string // the backbone's output shape
		params    int64  // backbone
		firstHead string // the first head's first node reads the backbone output
	}{
		// Linear(32→256) → ReLU → Linear(256→k): 32·256+256 + 256·k+k.
		// torch.onnx merged the two heads' Flatten into one the backbone
		// ends with ("hue.0").
		{file: "mtl_resnet", blocks: 11, feature: "[32]", params: 44720, heads: []head{
			{"hue", 8, mlp, 8448 + 2056, 8192 + 2048},
			{"shape", 4, mlp, 8448 + 1028, 8192 + 1024},
		}},
		// a: pool → flatten → Linear(8→3); b: Conv(8→4, 3×3) → ReLU →
		// pool → flatten → Linear(4→2), 4·8·9+4 + 4·2+2 params and
		// 4·8·8·72 + 8 MACs.
		{file: "mtl_tiny", blocks: 4, feature: "[8 8 8]", params: 224 + 584, heads: []head{
			{"a", 3, []model.Op{model.OpAdaptiveAvgPool2d, model.OpFlatten, model.OpLinear}, 27, 24},
			{"b", 2, []model.Op{model.OpConv2d, model.OpReLU, model.OpAdaptiveAvgPool2d, model.OpFlatten, model.OpLinear}, 302, 18432 + 8},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			im, err := Load("testdata/" + tc.file + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			g := im.Graph
			var names []string
			for _, h := range tc.heads {
				names = append(names, h.task)
			}
			if !slices.Equal(im.Outputs, names) || len(g.Heads) != len(tc.heads) {
				t.Fatalf("outputs %q, %d heads; want %q", im.Outputs, len(g.Heads), names)
			}
			if len(g.Blocks) != tc.blocks || g.Nodes[g.Backbone()].OutShape.String() != tc.feature || g.BackboneParams() != tc.params {
				t.Errorf("%d blocks, backbone output %v, %d params; want %d, %s, %d",
					len(g.Blocks), g.Nodes[g.Backbone()].OutShape, g.BackboneParams(), tc.blocks, tc.feature, tc.params)
			}
			for k, want := range tc.heads {
				h := g.Heads[k]
				var ops []model.Op
				for _, id := range h.Nodes {
					ops = append(ops, g.Nodes[id].Op)
					if n := g.Nodes[id]; n.Task != k || n.Block != -1 {
						t.Errorf("head %s: node %q has task %d, block %d", h.Task, n.Name, n.Task, n.Block)
					}
				}
				if h.Task != want.task || h.Classes != want.classes || !slices.Equal(ops, want.ops) || h.Params != want.params || h.MACs != want.macs {
					t.Errorf("head %d: %s, %d classes, ops %v, %d params, %d MACs; want %+v", k, h.Task, h.Classes, ops, h.Params, h.MACs, want)
				}
				if first := g.Nodes[h.Nodes[0]]; !slices.Equal(first.Inputs, []int{g.Backbone()}) {
					t.Errorf("head %s starts with %q reading %v, not the backbone output %d", h.Task, first.Name, first.Inputs, g.Backbone())
				}
				if len(im.Weights[g.Nodes[h.Output].Name]["weight"]) == 0 {
					t.Errorf("head %s: no weights for its last layer %q", h.Task, g.Nodes[h.Output].Name)
				}
			}
		})
	}
}

// TestWrappedBackboneKeepsCuts checks that a backbone held as
// self.backbone has the cut points and blocks of the same network with its
// modules at the top level: structure decides, not top-level names.
func TestWrappedBackboneKeepsCuts(t *testing.T) {
	wrapped, err := Load("testdata/mtl_resnet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	flat, err := Load("testdata/mtl_resnet_flat.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(wrapped.Cuts, flat.Cuts) || len(wrapped.Cuts) != 17 {
		t.Errorf("cuts %v (wrapped) and %v (flat), want the same 17", wrapped.Cuts, flat.Cuts)
	}
	wb, fb := wrapped.Graph.Blocks, flat.Graph.Blocks
	if len(wb) != len(fb) {
		t.Fatalf("%d blocks wrapped, %d flat", len(wb), len(fb))
	}
	// torchvision's resnet blocks, one per residual block of each stage.
	want := []string{"conv1", "relu", "maxpool", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "avgpool", "hue.0"}
	for i := range wb {
		w, f := wb[i], fb[i]
		if strings.TrimPrefix(w.Name, "backbone.") != f.Name || f.Name != want[i] || w.Output != f.Output ||
			w.OutShape.String() != f.OutShape.String() || w.Params != f.Params || w.MACs != f.MACs {
			t.Errorf("block %d: wrapped %q %v %d/%d, flat %q %v %d/%d, want %q", i, w.Name, w.OutShape, w.Params, w.MACs,
				f.Name, f.OutShape, f.Params, f.MACs, want[i])
		}
	}
}

// TestMultiOutputRefused covers the multi-output graphs that are not a
// shared backbone with one head per output: each is refused naming why.
func TestMultiOutputRefused(t *testing.T) {
	convNode, convInits := conv1("/0/Conv", "x", "c") // [4 8 8]
	relu := func(name, in, out string) []byte { return node(name, "Relu", []string{in}, []string{out}) }
	for _, tc := range []struct {
		name  string
		model testModel
		err   string
	}{
		{
			name: "an output inside the backbone",
			model: testModel{output: "c", more: []string{"y"}, inits: convInits,
				nodes: [][]byte{convNode, relu("/1/Relu", "c", "y")}},
			err: `output "c" is made inside the shared backbone`,
		},
		{
			name: "outputs that share nothing",
			model: testModel{output: "c", more: []string{"y"}, inits: convInits,
				nodes: [][]byte{convNode, relu("/1/Relu", "x", "y")}},
			err: `outputs "c", "y" share no layer`,
		},
		{
			name: "a head reading inside the backbone",
			model: testModel{output: "y", more: []string{"z"}, inits: convInits, nodes: [][]byte{convNode,
				relu("/1/Relu", "c", "r"),
				node("/a/Add", "Add", []string{"r", "c"}, []string{"y"}),
				relu("/b/Relu", "r", "z")}},
			err: `the head of output "y" reads "c"`,
		},
		{
			name: "two outputs naming one tensor",
			model: testModel{output: "y", more: []string{"z"}, inits: convInits, nodes: [][]byte{convNode,
				relu("/1/Relu", "c", "y"), node("id", "Identity", []string{"y"}, []string{"z"})}},
			err: `outputs "y" and "z" are the same tensor`,
		},
		{
			name:  "an output listed twice",
			model: testModel{output: "c", more: []string{"c"}, inits: convInits, nodes: [][]byte{convNode}},
			err:   `output "c" is listed twice`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(string(tc.model.encode())))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
	// Two heads on the conv's output: a shared backbone of one layer.
	ok := testModel{output: "y", more: []string{"z"}, inits: convInits, nodes: [][]byte{convNode,
		relu("/a/Relu", "c", "y"), node("/b/Sigmoid", "Sigmoid", []string{"c"}, []string{"z"})}}
	im, err := Parse(strings.NewReader(string(ok.encode())))
	if err != nil {
		t.Fatal(err)
	}
	if g := im.Graph; len(g.Blocks) != 1 || len(g.Heads) != 2 || g.Heads[1].Task != "z" || g.Heads[1].Classes != 4*8*8 {
		t.Errorf("blocks %+v, heads %+v", g.Blocks, g.Heads)
	}
}

// TestDynamicSize sizes an input whose height and width the file leaves
// dynamic (symbolic, or a dimension without a value), and keeps a fixed
// size whatever size is asked.
func TestDynamicSize(t *testing.T) {
	convNode, convInits := conv1("/0/Conv", "x", "c")
	model := func(input ...int64) []byte {
		return testModel{output: "c", input: input, inits: convInits, nodes: [][]byte{convNode}}.encode()
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		size  int
		shape string // the conv's output; empty for an error
		err   string
	}{
		{name: "symbolic height and width", data: model(1, 3, -1, -1), size: 20, shape: "[4 20 20]"},
		{name: "unset height and width", data: model(1, 3, 0, 0), size: 12, shape: "[4 12 12]"},
		{name: "fixed size wins", data: model(1, 3, 8, 8), size: 20, shape: "[4 8 8]"},
		{name: "fixed size, none asked", data: model(1, 3, 8, 8), shape: "[4 8 8]"},
		{name: "dynamic, no size", data: model(1, 3, -1, -1), err: "dynamic and no size was given"},
		{name: "fixed height, dynamic width", data: model(1, 3, 8, -1), size: 10, err: "8×10 image"},
		{name: "dynamic channels", data: model(1, -1, 8, 8), size: 8, err: "fixed positive C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := parse(tc.data, "dyn", tc.size)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if tc.size == 0 && !errors.Is(err, ErrDynamicSize) {
					t.Errorf("error %v does not wrap ErrDynamicSize", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := im.Graph.Nodes[1].OutShape.String(); got != tc.shape {
				t.Errorf("conv output %s, want %s", got, tc.shape)
			}
		})
	}
}

// manyOutputs is a conv with 17 heads, one Relu each: more tasks than the
// planner takes (the CLI tests use the file). TestManyOutputs -update
// writes it.
func manyOutputs() []byte {
	convNode, convInits := conv1("/0/Conv", "x", "c")
	m := testModel{inits: convInits, nodes: [][]byte{convNode}}
	for k := range 17 {
		out := fmt.Sprintf("t%d", k+1)
		m.nodes = append(m.nodes, node("/"+out+"/Relu", "Relu", []string{"c"}, []string{out}))
		if k == 0 {
			m.output = out
		} else {
			m.more = append(m.more, out)
		}
	}
	return m.encode()
}

func TestManyOutputs(t *testing.T) {
	const path = "testdata/many_outputs.onnx"
	if *update {
		if err := os.WriteFile(path, manyOutputs(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	im, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if g := im.Graph; len(g.Heads) != 17 || g.Heads[16].Task != "t17" || g.Heads[16].Classes != 4*8*8 || len(g.Blocks) != 1 {
		t.Errorf("%d heads, %d blocks", len(g.Heads), len(g.Blocks))
	}
}
