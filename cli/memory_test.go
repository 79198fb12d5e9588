package cli

import (
	"path/filepath"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// TestTooBigForMemory: networks whose memory plan exceeds the budget are
// refused before anything big is allocated (so the test is fast) with one
// line saying what they need, the budget, and the flag that sets it.
func TestTooBigForMemory(t *testing.T) {
	const onnxDir = "../onnx/testdata/"
	out := filepath.Join(t.TempDir(), "y.f32")
	in := onnxDir + "tiny.input.f32"
	tests := []struct {
		name string
		args []string
		want []string // substrings of the one-line message
	}{
		{"infer zoo", []string{"infer", "vgg16", "--size", "16384", "--input", in, "--out", out},
			[]string{"vgg16 needs", "activations 137.4 GB", "default memory budget", "--max-memory-mb"}},
		{"fidelity zoo", []string{"profile", "resnet18", "--fidelity", "1", "--input", "16384"},
			[]string{"resnet18 needs", "weights 550.", " GB", "--max-memory-mb"}},
		{"measure zoo", []string{"profile", "efficientnet_b0", "--measure", "--input", "16384"},
			[]string{"efficientnet_b0 needs", "other tensors", "--max-memory-mb"}},
		{"budget flag", []string{"infer", "mobilenet_v3_small", "--size", "64", "--max-memory-mb", "1", "--input", in, "--out", out},
			[]string{"mobilenet_v3_small needs", "more than the memory budget of 1.0 MB", "--max-memory-mb"}},
		{"bad budget flag", []string{"infer", "mobilenet_v3_small", "--max-memory-mb", "-2", "--input", in, "--out", out},
			[]string{"--max-memory-mb -2", "-1 (no limit)"}},
		// 3 + 4 channels of 20000²: fits some machines, so a set budget.
		{"declared huge input", []string{"infer", onnxDir + "huge_input.onnx", "--max-memory-mb", "4096", "--input", in, "--out", out},
			[]string{"huge_input needs 11.2 GB", "activations 11.2 GB", "more than the memory budget of 4.1 GB", "--max-memory-mb"}},
		{"huge conv pads", []string{"profile", onnxDir + "huge_pads.onnx", "--measure"},
			[]string{"huge_pads needs", "--max-memory-mb"}},
		{"huge Pad node", []string{"infer", onnxDir + "huge_pad_node.onnx", "--max-memory-mb", "-1", "--input", in, "--out", out},
			[]string{"huge_pad_node.onnx", "more than the 1.15e+18 an int64 count allows"}},
		{"initializer without data", []string{"infer", onnxDir + "huge_init.bad.onnx", "--input", in, "--out", out},
			[]string{`tensor "y.w": 0 raw bytes for 12884901888 floats`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { badInput(t, tc.args, tc.want...) })
	}
}

// TestInferBuildsNoHeads: infer runs the backbone only, so it never makes
// the task heads' weights (a Linear from the whole feature map: most of a
// zoo model's parameters at large sizes).
func TestInferBuildsNoHeads(t *testing.T) {
	o := EngineOptions{Model: "efficientnet_b0", Input: 64, Tasks: "8,4", Backend: "gonum", Backbone: true}
	p, err := o.program()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	g := p.Graph()
	m, err := engine.PlanMemory(g, p.Options())
	if err != nil {
		t.Fatal(err)
	}
	// The backbone's parameters and its batch norms' running statistics
	// (buffers, not parameters, in PyTorch's count).
	want := g.BackboneParams()
	for _, n := range g.Nodes {
		if n.Op == model.OpBatchNorm2d {
			want += 2 * int64(n.OutShape[0])
		}
	}
	if len(g.Heads) != 0 || m.ParamBytes != 4*want {
		t.Errorf("%d heads, %d bytes of weights; want none and %d (the backbone's)", len(g.Heads), m.ParamBytes, 4*want)
	}
}
