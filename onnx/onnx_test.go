package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

var update = flag.Bool("update", false, "rewrite the generated testdata/*.bad.onnx files")

// referenceModel is torchvision's mobilenet_v3_small().features exported
// by torch 1.13 (opset 13, eval mode, random weights): read from
// ../shared/reference when the repo sits beside it, else from the copy in
// testdata — never skipped.
func referenceModel(t *testing.T) string {
	for _, p := range []string{"../../shared/reference/mobilenet_v3_small.onnx", "testdata/mobilenet_v3_small.onnx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("mobilenet_v3_small.onnx is neither in ../shared/reference nor in testdata")
	return ""
}

// torchvisionRef is the part of model/testdata/torchvision_224.json (a
// vendored copy of ../shared/reference/torchvision/backbones_224.json) that
// the tests compare with.
type torchvisionRef struct {
	Totals struct {
		Params int64 `json:"params"`
		MACs   int64 `json:"macs"`
	} `json:"totals"`
	Blocks []struct {
		Name     string `json:"name"`
		OutShape []int  `json:"out_shape"`
		Params   int64  `json:"params"`
		MACs     int64  `json:"macs"`
	} `json:"blocks"`
	Leaves []struct {
		Name           string `json:"name"`
		Type           string `json:"type"`
		OutShape       []int  `json:"out_shape"`
		Params         int64  `json:"params"`
		MACs           int64  `json:"macs"`
		ElementwiseOps int64  `json:"elementwise_ops"`
		Block          int    `json:"block"`
	} `json:"leaves"`
}

func loadTorchvisionRef(t *testing.T, backbone string) torchvisionRef {
	raw, err := os.ReadFile("../model/testdata/torchvision_224.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Backbones map[string]torchvisionRef `json:"backbones"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	ref, ok := f.Backbones[backbone]
	if !ok {
		t.Fatalf("no %s in torchvision_224.json", backbone)
	}
	return ref
}

func TestMobileNetV3Small(t *testing.T) {
	im, err := Load(referenceModel(t))
	if err != nil {
		t.Fatal(err)
	}
	g := im.Graph
	ref := loadTorchvisionRef(t, "mobilenet_v3_small")
	if g.Name != "mobilenet_v3_small" || g.Input.String() != "[3 224 224]" || im.Opset != 13 || im.Producer != "pytorch 1.13.0" {
		t.Errorf("got %s %v opset %d producer %q", g.Name, g.Input, im.Opset, im.Producer)
	}
	if out := g.Nodes[g.Backbone()].OutShape; out.String() != "[576 7 7]" {
		t.Errorf("output shape %v, want [576 7 7]", out)
	}

	// torch.onnx folded every BatchNorm2d into the conv before it: the conv
	// gains a bias (+C params) and the batch norm's γ and β (2C) are gone,
	// so each of the 34 batch norms (6056 channels in all) takes C params
	// off torchvision's 927008. MACs exclude biases and are unchanged.
	bnChannels := map[int]int64{} // by block
	var allBN int64
	for _, l := range ref.Leaves {
		if l.Type == "BatchNorm2d" {
			bnChannels[l.Block] += int64(l.OutShape[1])
			allBN += int64(l.OutShape[1])
		}
	}
	const wantParams = 927008 - 6056
	if ref.Totals.Params != 927008 || allBN != 6056 {
		t.Fatalf("reference changed: %d params, %d batch-norm channels", ref.Totals.Params, allBN)
	}
	if p, m := g.BackboneParams(), g.BackboneMACs(); p != wantParams || m != ref.Totals.MACs || m != 54896576 {
		t.Errorf("params %d MACs %d, want %d and %d", p, m, wantParams, ref.Totals.MACs)
	}

	// The 13 top-level blocks: the export is of .features, so torch's
	// scopes name them "0".."12" where torchvision says features.0..12.
	if len(g.Blocks) != len(ref.Blocks) {
		t.Fatalf("%d blocks, want %d", len(g.Blocks), len(ref.Blocks))
	}
	for i, wb := range ref.Blocks {
		b := g.Blocks[i]
		want := wb.Params - bnChannels[i]
		if "features."+b.Name != wb.Name || b.OutShape.String() != model.Shape(wb.OutShape[1:]).String() || b.Params != want || b.MACs != wb.MACs {
			t.Errorf("block %d: %s %v params %d MACs %d, want %s %v %d %d", i, b.Name, b.OutShape, b.Params, b.MACs,
				wb.Name, wb.OutShape[1:], want, wb.MACs)
		}
		if !slices.Contains(im.Cuts, b.Output) {
			t.Errorf("block %s output %d is not among the cuts %v", b.Name, b.Output, im.Cuts)
		}
	}
	// Finer cuts: between the layers of non-residual blocks.
	if len(im.Cuts) != 37 {
		t.Errorf("%d cuts, want 37: %v", len(im.Cuts), im.Cuts)
	}

	// Every torchvision leaf but the batch norms, in order, with its name,
	// shape, MACs and elementwise ops; torch's HardSigmoid·x is Hardswish.
	var leaves []model.Node
	for _, n := range g.Nodes {
		if n.Op.IsModule() {
			leaves = append(leaves, n)
		}
	}
	k := 0
	for i, wl := range ref.Leaves {
		if wl.Type == "BatchNorm2d" {
			continue
		}
		if k >= len(leaves) {
			t.Fatalf("only %d leaves", len(leaves))
		}
		n := leaves[k]
		k++
		wantParams := wl.Params
		if i+1 < len(ref.Leaves) && ref.Leaves[i+1].Type == "BatchNorm2d" {
			wantParams += int64(wl.OutShape[1]) // the folded bias
		}
		if "features."+n.Name != wl.Name || string(n.Op) != wl.Type || n.OutShape.String() != model.Shape(wl.OutShape[1:]).String() ||
			n.Params != wantParams || n.MACs != wl.MACs || n.ElementwiseOps != wl.ElementwiseOps || n.Block != wl.Block {
			t.Errorf("leaf %d: %s %s %v p%d m%d e%d b%d, want %s %s %v p%d m%d e%d b%d", k-1,
				n.Name, n.Op, n.OutShape, n.Params, n.MACs, n.ElementwiseOps, n.Block,
				wl.Name, wl.Type, wl.OutShape[1:], wantParams, wl.MACs, wl.ElementwiseOps, wl.Block)
		}
	}
	if k != len(leaves) {
		t.Errorf("%d leaves, want %d", len(leaves), k)
	}

	// Weights: each conv's tensors are the file's, in PyTorch's layout.
	checkConvWeights(t, referenceModel(t), im)
}

// checkConvWeights compares every Conv's weight and bias in im with the
// initializers its ONNX node reads (through torch's Identity sharing).
func checkConvWeights(t *testing.T, path string, im *Imported) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeModel(data)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]*tensorProto{}
	for i := range m.graph.initializers {
		consts[m.graph.initializers[i].name] = &m.graph.initializers[i]
	}
	for _, n := range m.graph.nodes {
		if n.opType == "Identity" && consts[n.inputs[0]] != nil {
			consts[n.outputs[0]] = consts[n.inputs[0]]
		}
	}
	convs := 0
	for _, n := range m.graph.nodes {
		if n.opType != "Conv" {
			continue
		}
		convs++
		name := strings.Join(modulePath(n.name), ".")
		ws, ok := im.Weights[name]
		if !ok {
			t.Errorf("no weights for conv %s (%s)", name, n.name)
			continue
		}
		for k, param := range []string{"weight", "bias"} {
			want, err := consts[n.inputs[k+1]].float32s()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ws[param], want) {
				t.Errorf("conv %s: %s differs from initializer %s", name, param, n.inputs[k+1])
			}
		}
		var node *model.Node
		for i := range im.Graph.Nodes {
			if im.Graph.Nodes[i].Name == name {
				node = &im.Graph.Nodes[i]
			}
		}
		if c := node.Conv; int64(len(ws["weight"])) != int64(c.OutChannels*c.InChannels/c.Groups*c.Kernel*c.Kernel) || len(ws["bias"]) != c.OutChannels {
			t.Errorf("conv %s: %d weights, %d biases for %+v", name, len(ws["weight"]), len(ws["bias"]), c)
		}
	}
	if convs == 0 || len(im.Weights) != convs {
		t.Errorf("%d weighted nodes, %d convs", len(im.Weights), convs)
	}
}

// TestTinyTorchExports imports two exports of one tiny torch network (see
// testdata/gen_tiny.py) that use the ops mobilenet_v3_small does not:
// batch norm (kept, or folded), ReLU6 as Clip, SiLU as Sigmoid·x, Concat,
// MaxPool, AvgPool (torch writes Pad + AveragePool), Flatten, Gemm.
func TestTinyTorchExports(t *testing.T) {
	blocks := []string{"features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
		"pool", "/Flatten_output_0", "classifier.0", "classifier.1", "classifier.3"}
	ops := func(bn bool) []model.Op {
		o := []model.Op{model.OpInput, model.OpConv2d, model.OpReLU6, model.OpConv2d, model.OpSiLU, model.OpAdd,
			model.OpConv2d, model.OpConv2d, model.OpConcat, model.OpMaxPool2d, model.OpConv2d, model.OpHardswish,
			model.OpAvgPool2d, model.OpAdaptiveAvgPool2d, model.OpFlatten, model.OpLinear, model.OpSigmoid, model.OpLinear}
		if bn {
			o = slices.Insert(o, 2, model.OpBatchNorm2d)
		}
		return o
	}
	for _, tc := range []struct {
		file   string
		bn     bool
		params int64
	}{
		// torch counts 783 params; folding the one 8-channel batch norm
		// into its conv takes 8 off.
		{"tiny_bn", true, 783},
		{"tiny_folded", false, 775},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file+".onnx")
			im, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			g := im.Graph
			var names []string
			for _, b := range g.Blocks {
				names = append(names, b.Name)
			}
			if !slices.Equal(names, blocks) {
				t.Errorf("blocks %q, want %q", names, blocks)
			}
			var got []model.Op
			for _, n := range g.Nodes {
				got = append(got, n.Op)
			}
			if !slices.Equal(got, ops(tc.bn)) {
				t.Errorf("ops %v, want %v", got, ops(tc.bn))
			}
			if p, m := g.BackboneParams(), g.BackboneMACs(); p != tc.params || m != 159810 {
				t.Errorf("params %d MACs %d, want %d 159810", p, m, tc.params)
			}
			if out := g.Nodes[g.Backbone()].OutShape; out.String() != "[3]" {
				t.Errorf("output %v, want [3]", out)
			}
			// The Concat's block holds both branches: no single tensor
			// is live between them.
			concat := g.Blocks[2]
			if concat.Output-concat.First != 2 || g.Nodes[concat.Output].OutShape.String() != "[8 16 16]" {
				t.Errorf("concat block %+v", concat)
			}
			// Gemm with transB=1 is already [out, in].
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := decodeModel(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, init := range m.graph.initializers {
				if init.name == "classifier.0.weight" {
					want, _ := init.float32s()
					if !slices.Equal(im.Weights["classifier.0"]["weight"], want) || len(want) != 48 {
						t.Errorf("classifier.0 weight differs from the file's")
					}
				}
			}
			if tc.bn {
				bn := g.Nodes[2]
				w := im.Weights[bn.Name]
				if bn.Name != "features.0.1" || bn.Eps != 1e-5 || len(w) != 4 || len(w["running_var"]) != 8 {
					t.Errorf("batch norm %s eps %g weights %d", bn.Name, bn.Eps, len(w))
				}
			}
		})
	}
}

// conv1 is a 3→4 channel 3×3 conv with bias at padding 1, named as torch
// would ("/0/Conv" → module 0) unless name says otherwise.
func conv1(name, in, out string) ([]byte, [][]byte) {
	return node(name, "Conv", []string{in, out + ".w", out + ".b"}, []string{out},
			intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1), intsAttr("strides", 1, 1)),
		[][]byte{floatTensor(out+".w", []int64{4, 3, 3, 3}, seq(108, 0.1)), floatTensor(out+".b", []int64{4}, seq(4, 1))}
}

func TestSynthetic(t *testing.T) {
	convNode, convInits := conv1("/0/Conv", "x", "c")
	withConv := func(m testModel) testModel {
		m.nodes = append([][]byte{convNode}, m.nodes...)
		m.inits = append(m.inits, convInits...)
		return m
	}
	flat := func(m testModel) testModel { // x → conv [4 8 8] → pool [4 1 1] → flatten [4]
		m.nodes = append([][]byte{convNode,
			node("/1/GlobalAveragePool", "GlobalAveragePool", []string{"c"}, []string{"p"}),
			node("/Flatten", "Flatten", []string{"p"}, []string{"f"}, attrInt("axis", 1))}, m.nodes...)
		m.inits = append(m.inits, convInits...)
		return m
	}
	for _, tc := range []struct {
		name  string
		model testModel
		err   string // substring of the error; empty for success
		check func(t *testing.T, im *Imported)
	}{
		{
			name: "unsupported op",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("lstm_1", "LSTM", []string{"c"}, []string{"y"})}}),
			err: `unsupported ONNX op "LSTM" at node "lstm_1"`,
		},
		{
			name: "unsupported op without a node name",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("", "Softmax", []string{"c"}, []string{"y"})}}),
			err: `unsupported ONNX op "Softmax" at node "output y"`,
		},
		{
			name: "op of another domain",
			model: testModel{output: "y", nodes: [][]byte{
				cat(node("fc", "FusedConv", []string{"x"}, []string{"y"}), pbString(nodeDomain, "com.microsoft"))}},
			err: `unsupported ONNX op "com.microsoft.FusedConv" at node "fc"`,
		},
		{
			name: "unsupported op in dead code is ignored",
			model: withConv(testModel{output: "r", nodes: [][]byte{
				node("shape", "Shape", []string{"c"}, []string{"s"}),
				node("/0/Relu", "Relu", []string{"c"}, []string{"r"})}}),
			check: func(t *testing.T, im *Imported) {
				if len(im.Graph.Nodes) != 3 {
					t.Errorf("%d nodes, want input, conv, relu", len(im.Graph.Nodes))
				}
			},
		},
		{
			name: "clip 0..6 from initializers is ReLU6",
			model: withConv(testModel{output: "y", inits: [][]byte{floatTensor("lo", nil, []float32{0}), floatTensor("hi", nil, []float32{6})},
				nodes: [][]byte{node("/1/Clip", "Clip", []string{"c", "lo", "hi"}, []string{"y"})}}),
			check: func(t *testing.T, im *Imported) { wantOps(t, im, model.OpConv2d, model.OpReLU6) },
		},
		{
			name: "clip 0..6 from Constant nodes at opset 9 attributes",
			model: withConv(testModel{opset: 9, output: "y", nodes: [][]byte{
				node("/1/Clip", "Clip", []string{"c"}, []string{"y"}, attrFloat("min", 0), attrFloat("max", 6))}}),
			check: func(t *testing.T, im *Imported) { wantOps(t, im, model.OpConv2d, model.OpReLU6) },
		},
		{
			name: "clip with min only is ReLU",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("k", "Constant", nil, []string{"lo"}, attrTensor("value", floatTensor("", nil, []float32{0}))),
				node("/1/Clip", "Clip", []string{"c", "lo"}, []string{"y"})}}),
			check: func(t *testing.T, im *Imported) { wantOps(t, im, model.OpConv2d, model.OpReLU) },
		},
		{
			name: "clip to other bounds",
			model: withConv(testModel{output: "y", inits: [][]byte{floatTensor("lo", nil, []float32{0}), floatTensor("hi", nil, []float32{3})},
				nodes: [][]byte{node("clip_1", "Clip", []string{"c", "lo", "hi"}, []string{"y"})}}),
			err: `unsupported ONNX op "Clip" at node "clip_1": min 0, max 3`,
		},
		{
			name: "HardSigmoid alone, and x·Sigmoid(x) is SiLU",
			model: withConv(testModel{output: "m", nodes: [][]byte{
				node("/1/HardSigmoid", "HardSigmoid", []string{"c"}, []string{"h"}, attrFloat("alpha", 1.0/6)),
				node("/2/Sigmoid", "Sigmoid", []string{"h"}, []string{"s"}),
				node("/2/Mul", "Mul", []string{"s", "h"}, []string{"m"})}}),
			check: func(t *testing.T, im *Imported) {
				wantOps(t, im, model.OpConv2d, model.OpHardsigmoid, model.OpSiLU)
				if n := im.Graph.Nodes[3].Name; n != "2" {
					t.Errorf("SiLU named %q, want 2", n)
				}
			},
		},
		{
			name: "HardSigmoid with ONNX's default alpha",
			model: withConv(testModel{output: "h", nodes: [][]byte{
				node("hs", "HardSigmoid", []string{"c"}, []string{"h"})}}),
			err: `unsupported ONNX op "HardSigmoid" at node "hs": alpha 0.2, beta 0.5`,
		},
		{
			name: "HardSwish",
			model: withConv(testModel{output: "h", nodes: [][]byte{
				node("/1/HardSwish", "HardSwish", []string{"c"}, []string{"h"})}}),
			check: func(t *testing.T, im *Imported) { wantOps(t, im, model.OpConv2d, model.OpHardswish) },
		},
		{
			name: "mul by a constant",
			model: withConv(testModel{output: "y", inits: [][]byte{floatTensor("two", nil, []float32{2})},
				nodes: [][]byte{node("scale", "Mul", []string{"c", "two"}, []string{"y"})}}),
			err: `unsupported ONNX op "Mul" at node "scale": input 1 ("two") is a constant`,
		},
		{
			name: "mul of equal shapes",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("sq", "Mul", []string{"c", "c"}, []string{"y"})}}),
			err: `Mul node "sq": cannot multiply [4 8 8] by [4 8 8]`,
		},
		{
			name: "squeeze-excitation with the scale first, as torchvision writes it",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("/1/avgpool/GlobalAveragePool", "GlobalAveragePool", []string{"c"}, []string{"p"}),
				node("/1/Sigmoid", "Sigmoid", []string{"p"}, []string{"s"}),
				node("/1/Mul", "Mul", []string{"s", "c"}, []string{"y"})}}),
			check: func(t *testing.T, im *Imported) {
				wantOps(t, im, model.OpConv2d, model.OpAdaptiveAvgPool2d, model.OpSigmoid, model.OpMul)
				mul := im.Graph.Nodes[4]
				if !slices.Equal(mul.Inputs, []int{1, 3}) || mul.OutShape.String() != "[4 8 8]" || mul.Name != "1.mul" {
					t.Errorf("mul %s reads %v, shape %v; want [1 3] (map, scale)", mul.Name, mul.Inputs, mul.OutShape)
				}
				if len(im.Graph.Blocks) != 2 || im.Graph.Blocks[1].Name != "1" {
					t.Errorf("blocks %+v, want 0 and 1", im.Graph.Blocks)
				}
			},
		},
		{
			name: "gemm with transB=0, alpha and beta",
			model: flat(testModel{output: "y", inits: [][]byte{
				floatTensor("B", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}), floatTensor("C", []int64{2}, []float32{1, -1})},
				nodes: [][]byte{node("/fc/Gemm", "Gemm", []string{"f", "B", "C"}, []string{"y"}, attrFloat("alpha", 2), attrFloat("beta", 3))}}),
			check: func(t *testing.T, im *Imported) {
				w := im.Weights["fc"]
				if !slices.Equal(w["weight"], []float32{2, 6, 10, 14, 4, 8, 12, 16}) || !slices.Equal(w["bias"], []float32{3, -3}) {
					t.Errorf("weights %v", w)
				}
				fc := im.Graph.Nodes[len(im.Graph.Nodes)-1]
				if fc.Op != model.OpLinear || fc.Params != 10 || fc.MACs != 8 || fc.OutShape.String() != "[2]" {
					t.Errorf("fc %+v", fc)
				}
			},
		},
		{
			name: "matmul plus a constant is one Linear",
			model: flat(testModel{output: "y", inits: [][]byte{
				floatTensor("W", []int64{4, 3}, seq(12, 1)), floatTensor("b", []int64{3}, []float32{1, 2, 3})},
				nodes: [][]byte{node("/fc/MatMul", "MatMul", []string{"f", "W"}, []string{"mm"}),
					node("/fc/Add", "Add", []string{"b", "mm"}, []string{"y"})}}),
			check: func(t *testing.T, im *Imported) {
				fc := im.Graph.Nodes[len(im.Graph.Nodes)-1]
				if fc.Op != model.OpLinear || !fc.Conv.Bias || fc.Params != 15 || len(im.Weights["fc"]["weight"]) != 12 {
					t.Errorf("fc %+v", fc)
				}
				// W is [in, out]; the Linear weight is [out, in].
				if w := im.Weights["fc"]["weight"]; w[1] != seq(12, 1)[3] {
					t.Errorf("weight not transposed: %v", w)
				}
			},
		},
		{
			name: "linear on a feature map",
			model: withConv(testModel{output: "y", inits: [][]byte{floatTensor("B", []int64{2, 256}, seq(512, 1))},
				nodes: [][]byte{node("fc", "Gemm", []string{"c", "B"}, []string{"y"}, attrInt("transB", 1))}}),
			err: `Gemm node "fc": input shape [1 4 8 8]: only a flat [1 N] input is supported`,
		},
		{
			name: "reshape to [1 -1] and [0 -1] flattens",
			model: withConv(testModel{output: "r2", inits: [][]byte{intTensor("s1", 1, -1), intTensor("s2", 0, -1)},
				nodes: [][]byte{node("r1", "Reshape", []string{"c", "s1"}, []string{"r1"}),
					node("r2", "Reshape", []string{"r1", "s2"}, []string{"r2"})}}),
			check: func(t *testing.T, im *Imported) {
				wantOps(t, im, model.OpConv2d, model.OpFlatten, model.OpFlatten)
				if s := im.Graph.Nodes[3].OutShape; s.String() != "[256]" {
					t.Errorf("shape %v", s)
				}
			},
		},
		{
			name: "reshape that does not flatten",
			model: withConv(testModel{output: "r", inits: [][]byte{intTensor("s", 1, 4, 64)},
				nodes: [][]byte{node("r", "Reshape", []string{"c", "s"}, []string{"r"})}}),
			err: `Reshape node "r": reshape of [1 4 8 8] to [1 4 64]: only flattening`,
		},
		{
			name: "flatten at axis 2",
			model: withConv(testModel{output: "f", nodes: [][]byte{
				node("f", "Flatten", []string{"c"}, []string{"f"}, attrInt("axis", 2))}}),
			err: `Flatten node "f": axis 2 of [1 4 8 8]`,
		},
		{
			name: "concat along channels, and a residual add: one block each",
			model: withConv(testModel{output: "a", nodes: [][]byte{
				node("/1/Relu", "Relu", []string{"c"}, []string{"r"}),
				node("/1/Concat", "Concat", []string{"c", "r"}, []string{"k"}, attrInt("axis", 1)),
				node("/2/Relu", "Relu", []string{"k"}, []string{"r2"}),
				node("/2/Add", "Add", []string{"r2", "k"}, []string{"a"})}}),
			check: func(t *testing.T, im *Imported) {
				wantOps(t, im, model.OpConv2d, model.OpReLU, model.OpConcat, model.OpReLU, model.OpAdd)
				var names []string
				for _, b := range im.Graph.Blocks {
					names = append(names, fmt.Sprintf("%s:%d-%d", b.Name, b.First, b.Output))
				}
				if !slices.Equal(names, []string{"0:1-1", "1:2-3", "2:4-5"}) {
					t.Errorf("blocks %v", names)
				}
				if !slices.Equal(im.Cuts, []int{1, 3, 5}) {
					t.Errorf("cuts %v, want [1 3 5]", im.Cuts)
				}
				if s := im.Graph.Nodes[3].OutShape; s.String() != "[8 8 8]" {
					t.Errorf("concat shape %v", s)
				}
			},
		},
		{
			name: "concat along height",
			model: withConv(testModel{output: "k", nodes: [][]byte{
				node("cat", "Concat", []string{"c", "c"}, []string{"k"}, attrInt("axis", 2))}}),
			err: `Concat node "cat": axis 2 of [1 4 8 8]: only concatenation along channels`,
		},
		{
			name: "without module paths every cut makes a block named after its output",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("relu_1", "Relu", []string{"c"}, []string{"r"}),
				node("mp", "MaxPool", []string{"r"}, []string{"y"}, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))}}),
			check: func(t *testing.T, im *Imported) {
				var names []string
				for _, b := range im.Graph.Blocks {
					names = append(names, b.Name)
				}
				// The conv was named "/0/Conv": it alone has a path.
				if !slices.Equal(names, []string{"0", "r", "y"}) {
					t.Errorf("blocks %q", names)
				}
				if n := im.Graph.Nodes[2].Name; n != "relu_1" {
					t.Errorf("relu named %q", n)
				}
			},
		},
		{
			name: "nodes out of order are sorted",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("/2/Relu", "Relu", []string{"p"}, []string{"y"}),
				node("/1/MaxPool", "MaxPool", []string{"c"}, []string{"p"}, intsAttr("kernel_shape", 3, 3), intsAttr("pads", 1, 1, 1, 1), intsAttr("strides", 2, 2))}}),
			check: func(t *testing.T, im *Imported) {
				wantOps(t, im, model.OpConv2d, model.OpMaxPool2d, model.OpReLU)
				if s := im.Graph.Nodes[3].OutShape; s.String() != "[4 4 4]" {
					t.Errorf("shape %v", s)
				}
			},
		},
		{
			name: "a cycle",
			model: testModel{output: "b", nodes: [][]byte{
				node("a", "Relu", []string{"b"}, []string{"a"}),
				node("b", "Relu", []string{"a"}, []string{"b"})}},
			err: "cycle",
		},
		{
			name: "zero Pad folds into the average pool after it",
			model: withConv(testModel{output: "y", inits: [][]byte{intTensor("pads", 0, 0, 1, 1, 0, 0, 1, 1)},
				nodes: [][]byte{node("/1/Pad", "Pad", []string{"c", "pads"}, []string{"pd"}),
					node("/1/AveragePool", "AveragePool", []string{"pd"}, []string{"y"}, intsAttr("kernel_shape", 3, 3), intsAttr("strides", 1, 1))}}),
			check: func(t *testing.T, im *Imported) {
				p := im.Graph.Nodes[2]
				if p.Op != model.OpAvgPool2d || p.Conv.Padding != 1 || p.OutShape.String() != "[4 8 8]" {
					t.Errorf("pool %+v", p)
				}
			},
		},
		{
			name: "Pad before a max pool",
			model: withConv(testModel{output: "y", inits: [][]byte{intTensor("pads", 0, 0, 1, 1, 0, 0, 1, 1)},
				nodes: [][]byte{node("pad", "Pad", []string{"c", "pads"}, []string{"pd"}),
					node("mp", "MaxPool", []string{"pd"}, []string{"y"}, intsAttr("kernel_shape", 3, 3))}}),
			err: `unsupported ONNX op "Pad" at node "mp"`,
		},
		{
			name: "ceil mode that changes the size",
			model: withConv(testModel{output: "y", nodes: [][]byte{
				node("mp", "MaxPool", []string{"c"}, []string{"y"}, intsAttr("kernel_shape", 3, 3), intsAttr("strides", 2, 2), attrInt("ceil_mode", 1))}}),
			err: `MaxPool node "mp": ceil_mode changes the output size (4, not 3)`,
		},
		{
			name: "batch norm with its statistics",
			model: withConv(testModel{output: "y", inits: [][]byte{
				floatTensor("g", []int64{4}, seq(4, 1)), floatTensor("b", []int64{4}, seq(4, 2)),
				floatTensor("m", []int64{4}, seq(4, 3)), floatTensor("v", []int64{4}, []float32{1, 2, 3, 4})},
				nodes: [][]byte{node("/1/BatchNormalization", "BatchNormalization", []string{"c", "g", "b", "m", "v"}, []string{"y"}, attrFloat("epsilon", 1e-3))}}),
			check: func(t *testing.T, im *Imported) {
				bn := im.Graph.Nodes[2]
				w := im.Weights["1"]
				if bn.Op != model.OpBatchNorm2d || bn.Eps != 1e-3 || bn.Params != 8 || !slices.Equal(w["running_var"], []float32{1, 2, 3, 4}) {
					t.Errorf("bn %+v %v", bn, w)
				}
			},
		},
		{
			name: "conv weight of the wrong shape",
			model: testModel{output: "y", inits: [][]byte{floatTensor("w", []int64{4, 2, 3, 3}, seq(72, 1))},
				nodes: [][]byte{node("conv", "Conv", []string{"x", "w"}, []string{"y"})}},
			err: `Conv node "conv": weight dims [4 2 3 3], want [4 3 3 3]`,
		},
		{
			name: "depthwise conv with SAME_UPPER padding and dilation",
			model: testModel{output: "y", inits: [][]byte{floatTensor("w", []int64{3, 1, 3, 3}, seq(27, 1))},
				nodes: [][]byte{node("/dw/Conv", "Conv", []string{"x", "w"}, []string{"y"}, attrInt("group", 3), intsAttr("dilations", 2, 2),
					cat(pbString(attrName, "auto_pad"), pbVarint(attrType, 3), pbBytes(attrS, []byte("SAME_UPPER"))))}},
			check: func(t *testing.T, im *Imported) {
				c := im.Graph.Nodes[1]
				if c.Conv.Padding != 2 || c.Conv.Dilation != 2 || c.Conv.Groups != 3 || c.OutShape.String() != "[3 8 8]" || c.Params != 27 || c.MACs != 27*64 {
					t.Errorf("conv %+v", c)
				}
			},
		},
		{
			name: "non-square kernel",
			model: testModel{output: "y", inits: [][]byte{floatTensor("w", []int64{4, 3, 1, 3}, seq(36, 1))},
				nodes: [][]byte{node("conv", "Conv", []string{"x", "w"}, []string{"y"})}},
			err: `unsupported ONNX op "Conv" at node "conv": kernel 1×3`,
		},
		{
			name: "dropout with its mask unused, identity and a symbolic batch",
			model: withConv(testModel{input: []int64{-1, 3, 8, 8}, output: "y", nodes: [][]byte{
				node("/1/Dropout", "Dropout", []string{"c"}, []string{"d", "mask"}),
				node("id", "Identity", []string{"d"}, []string{"y"})}}),
			check: func(t *testing.T, im *Imported) {
				wantOps(t, im, model.OpConv2d, model.OpDropout)
				if len(im.Outputs) != 1 || im.Outputs[0] != "y" {
					t.Errorf("outputs %q", im.Outputs)
				}
			},
		},
		{
			name:  "batch of 2",
			model: withConv(testModel{input: []int64{2, 3, 8, 8}, output: "c"}),
			err:   `input "x" has batch 2`,
		},
		{
			name:  "non-square input",
			model: withConv(testModel{input: []int64{1, 3, 8, 6}, output: "c"}),
			err:   `8×6 image; only square inputs`,
		},
		{
			// Found by TestCorruptFiles: a HardSigmoid without an input.
			name: "node without an input",
			model: withConv(testModel{output: "h", nodes: [][]byte{
				node("hs", "HardSigmoid", nil, []string{"h"}, attrFloat("alpha", 1.0/6))}}),
			err: `HardSigmoid node "hs" has no input`,
		},
		{
			name:  "output is the input",
			model: withConv(testModel{output: "x"}),
			err:   "graph computes nothing",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Parse(bytes.NewReader(tc.model.encode()))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if im.Graph.Name != "synthetic" {
				t.Errorf("graph named %q", im.Graph.Name)
			}
			tc.check(t, im)
		})
	}
}

func wantOps(t *testing.T, im *Imported, ops ...model.Op) {
	t.Helper()
	var got []model.Op
	for _, n := range im.Graph.Nodes[1:] {
		got = append(got, n.Op)
	}
	if !slices.Equal(got, ops) {
		t.Errorf("ops %v, want %v", got, ops)
	}
}

func TestUnsupportedOpError(t *testing.T) {
	_, err := Load("testdata/unsupported_op.bad.onnx")
	var u *UnsupportedOpError
	if !errors.As(err, &u) || u.Op != "LSTM" || u.Node != "lstm_1" {
		t.Fatalf("error %v, want an UnsupportedOpError for LSTM at lstm_1", err)
	}
}

// badFiles are testdata/*.bad.onnx with a substring of the error each must
// give. TestBadFiles -update writes them.
var badFiles = []struct {
	file, err string
	make      func(t *testing.T) []byte
}{
	{"unsupported_op", `unsupported_op.bad.onnx: unsupported ONNX op "LSTM" at node "lstm_1"`, func(t *testing.T) []byte {
		convNode, convInits := conv1("/0/Conv", "x", "c")
		return testModel{output: "y", nodes: [][]byte{convNode, node("lstm_1", "LSTM", []string{"c"}, []string{"y"})}, inits: convInits}.encode()
	}},
	{"truncated", "not an ONNX model: truncated or malformed protobuf", func(t *testing.T) []byte {
		data, err := os.ReadFile("testdata/tiny_folded.onnx")
		if err != nil {
			t.Fatal(err)
		}
		return data[:len(data)/2]
	}},
	{"not_onnx", "not an ONNX model", func(*testing.T) []byte {
		return []byte("{\"input_shape\": [1, 3, 224, 224], \"dtype\": \"float32\"}\n")
	}},
	{"empty", "not an ONNX model: no graph", func(*testing.T) []byte { return nil }},
	{"unmade_output", `output "z" is made by no node`, func(*testing.T) []byte {
		m := testModel{output: "y", nodes: [][]byte{node("r", "Relu", []string{"x"}, []string{"y"})}}.encode()
		// A second graph output: graph is the last field of the model.
		return append(m[:len(m):len(m)], pbBytes(modelGraph, pbBytes(graphOutput, valueInfoProto("z")))...)
	}},
}

func TestBadFiles(t *testing.T) {
	for _, bf := range badFiles {
		t.Run(bf.file, func(t *testing.T) {
			path := filepath.Join("testdata", bf.file+".bad.onnx")
			if *update {
				if err := os.WriteFile(path, bf.make(t), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), bf.err) {
				t.Fatalf("error %v, want one containing %q", err, bf.err)
			}
			if bf.file != "unsupported_op" && bf.file != "unmade_output" && !errors.Is(err, ErrNotONNX) {
				t.Errorf("error %v does not wrap ErrNotONNX", err)
			}
		})
	}
	if _, err := Load("testdata/missing.onnx"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestModulePath(t *testing.T) {
	for _, tc := range []struct{ node, want string }{
		{"/0/0.0/Conv", "0.0"},                             // numeric tails are full paths
		{"/1/block/block.0/block.0.0/Conv", "1.block.0.0"}, // torch 1.13 tails
		{"/1/block/block.1/fc1/Conv", "1.block.1.fc1"},     //
		{"/4/Add", "4"},                                    //
		{"/features/features.3/block/block.1/Mul", "features.3.block.1"},
		{"/features/features.0/features.0.1/BatchNormalization", "features.0.1"}, // full paths
		{"/layer1/layer1.0/relu/Relu_1", "layer1.0.relu"},
		{"/a/b/b/Relu", "a.b.b"}, // a child named like its parent
		{"/Flatten", ""},
		{"Conv_0", ""},
		{"", ""},
	} {
		if got := strings.Join(modulePath(tc.node), "."); got != tc.want {
			t.Errorf("modulePath(%q) = %q, want %q", tc.node, got, tc.want)
		}
	}
}

func ExampleLoad() {
	im, err := Load("testdata/mobilenet_v3_small.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	g := im.Graph
	fmt.Println(g.Name, g.Input, "→", g.Nodes[g.Backbone()].OutShape)
	fmt.Println(len(g.Blocks), "blocks,", len(im.Cuts), "single-tensor cuts")
	fmt.Println(g.BackboneParams(), "params,", g.BackboneMACs(), "MACs")
	fmt.Println(g.Blocks[4].Name, g.Blocks[4].OutShape, g.Blocks[4].MACs)
	fmt.Println(len(im.Weights["4.block.0.0"]["weight"]), "weights in conv 4.block.0.0")
	// Output:
	// mobilenet_v3_small [3 224 224] → [576 7 7]
	// 13 blocks, 37 single-tensor cuts
	// 920952 params, 54896576 MACs
	// 4 [40 14 14] 3033984
	// 2304 weights in conv 4.block.0.0
}

// TestCorruptFiles flips bytes of a real export (fixed seed) and checks
// that every result is an error or a graph, never a panic. FuzzParse does
// the same without end.
func TestCorruptFiles(t *testing.T) {
	seed, err := os.ReadFile("testdata/tiny_bn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		data := slices.Clone(seed)
		for range 1 + r.IntN(4) {
			i := r.IntN(len(data))
			switch r.IntN(3) {
			case 0:
				data[i] = byte(r.IntN(256))
			case 1:
				data[i] ^= 1 << r.IntN(8)
			default:
				data[i] += byte(r.IntN(5)) - 2
			}
		}
		im, err := Parse(bytes.NewReader(data))
		if err == nil && (im.Graph == nil || len(im.Graph.Blocks) == 0) {
			t.Fatalf("no error and no graph")
		}
	}
}

// FuzzParse checks that no input makes the importer panic.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/tiny_folded.onnx", "testdata/tiny_bn.onnx", "testdata/unsupported_op.bad.onnx", "testdata/unmade_output.bad.onnx"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := Parse(bytes.NewReader(data))
		if err == nil && (im.Graph == nil || len(im.Graph.Blocks) == 0) {
			t.Errorf("no error and no graph")
		}
	})
}
