package onnx

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// importedWeights are the engine weights of an imported graph.
func importedWeights(t *testing.T, im *Imported) *engine.Weights {
	t.Helper()
	w, err := engine.NewWeights(im.Graph)
	if err != nil {
		t.Fatal(err)
	}
	for node, params := range im.Weights {
		for param, data := range params {
			if err := w.Set(node, param, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// runAll runs g with w on one seeded image: the backbone's output and each
// head's.
func runAll(t *testing.T, g *model.Graph, w *engine.Weights) ([]float32, [][]float32) {
	t.Helper()
	p, err := engine.Compile(g, w, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rng := rand.New(rand.NewPCG(3, 5))
	in := make([]float32, g.Input.Elems())
	for i := range in {
		in[i] = float32(rng.NormFloat64())
	}
	backbone, heads, err := p.RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	return backbone, heads
}

// differ counts the values of got that are not bit for bit those of want,
// and returns the largest error relative to want's largest magnitude.
func differ(got, want []float32) (n int, rel float64) {
	if len(got) != len(want) {
		return max(len(got), len(want)), math.Inf(1)
	}
	var scale, worst float64
	for i := range want {
		scale = max(scale, math.Abs(float64(want[i])))
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			n++
			worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
		}
	}
	if scale > 0 {
		worst /= scale
	}
	return n, worst
}

// exportImport writes g and reads it back.
func exportImport(t *testing.T, g *model.Graph, w Tensors, opts ExportOptions) *Imported {
	t.Helper()
	b, err := Encode(g, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// checkSame asserts that the imported graph computes what g does, bit for
// bit, on the backbone and every head, and holds g's weights under g's
// state_dict keys.
func checkSame(t *testing.T, g *model.Graph, w *engine.Weights, im *Imported) {
	t.Helper()
	keys := 0
	for _, p := range w.Params() {
		got := im.Weights[p.Node][p.Param]
		if n, _ := differ(got, w.Get(p.Node, p.Param)); n > 0 {
			t.Errorf("weight %s: %d of %d values differ", p.Key(), n, p.Elems())
		}
	}
	for _, ps := range im.Weights {
		keys += len(ps)
	}
	if keys != len(w.Params()) {
		t.Errorf("the file has %d weights, the graph %d", keys, len(w.Params()))
	}
	wantB, wantH := runAll(t, g, w)
	gotB, gotH := runAll(t, im.Graph, importedWeights(t, im))
	if n, rel := differ(gotB, wantB); n > 0 {
		t.Errorf("backbone output: %d of %d values differ, max relative error %.2g", n, len(wantB), rel)
	}
	if len(gotH) != len(wantH) {
		t.Fatalf("%d head outputs, want %d", len(gotH), len(wantH))
	}
	for k := range wantH {
		if n, rel := differ(gotH[k], wantH[k]); n > 0 {
			t.Errorf("head %s: %d of %d values differ, max relative error %.2g", g.Heads[k].Task, n, len(wantH[k]), rel)
		}
	}
}

// checkBlocks asserts that the imported backbone has g's blocks, or finer
// ones that merge into them: torchvision's resnet18 export names its
// modules layer1.0, layer1.1, ... so the importer cuts between them too.
func checkBlocks(t *testing.T, g *model.Graph, im *Imported) {
	t.Helper()
	got := im.Graph.Blocks
	i := 0
	for _, want := range g.Blocks {
		var params, macs int64
		var last model.Block
		first := i
		for i < len(got) && (got[i].Name == want.Name || strings.HasPrefix(got[i].Name, want.Name+".")) {
			params, macs, last = params+got[i].Params, macs+got[i].MACs, got[i]
			i++
		}
		if i == first || params != want.Params || macs != want.MACs || last.OutShape.String() != want.OutShape.String() {
			t.Errorf("block %s (%d params, %d MACs, out %v): imported blocks %d..%d have %d params, %d MACs, out %v",
				want.Name, want.Params, want.MACs, want.OutShape, first, i, params, macs, last.OutShape)
			return
		}
	}
	if i != len(got) {
		t.Errorf("imported blocks past the graph's: %v", got[i:])
	}
}

// TestExportZoo exports every zoo model with two MTL-Split heads and
// seeded random weights, imports the file, and runs both graphs on the
// same image: the backbone output and both heads' logits agree bit for bit
// (the importer rebuilds the same layers in the same order, batch norm
// included, so the engine runs the same arithmetic).
func TestExportZoo(t *testing.T) {
	tasks := []string{"scale", "shape"}
	for _, tc := range []struct {
		model  string
		size   int
		blocks int // the importer's
	}{
		{"vgg16", 32, 31},
		{"vgg16_bn", 32, 44},
		{"resnet18", 64, 12}, // conv1 bn1 relu maxpool layer1.0 layer1.1 ... layer4.1
		{"mobilenet_v3_small", 64, 13},
		{"efficientnet_b0", 64, 9},
	} {
		t.Run(tc.model, func(t *testing.T) {
			g, err := model.New(tc.model, tc.size, []int{8, 4})
			if err != nil {
				t.Fatal(err)
			}
			w, err := engine.RandomWeights(g, 11)
			if err != nil {
				t.Fatal(err)
			}
			im := exportImport(t, g, w, ExportOptions{Tasks: tasks})
			if !slices.Equal(im.Outputs, tasks) || im.Input != InputName || im.Opset != ExportOpset || im.Producer != "mtlsplit" {
				t.Errorf("outputs %q, input %q, opset %d, producer %q", im.Outputs, im.Input, im.Opset, im.Producer)
			}
			if len(im.Graph.Heads) != len(g.Heads) {
				t.Fatalf("%d heads, want %d", len(im.Graph.Heads), len(g.Heads))
			}
			for k, h := range im.Graph.Heads {
				want := g.Heads[k]
				// Dropout, an identity at inference, is not in the file.
				if h.Task != tasks[k] || h.Classes != want.Classes || h.Params != want.Params || h.MACs != want.MACs || len(h.Nodes) != len(want.Nodes)-1 {
					t.Errorf("head %d: %s, %d classes, %d params, %d MACs, %d nodes; want %s, %d, %d, %d, %d",
						k, h.Task, h.Classes, h.Params, h.MACs, len(h.Nodes), tasks[k], want.Classes, want.Params, want.MACs, len(want.Nodes)-1)
				}
			}
			if len(im.Graph.Blocks) != tc.blocks {
				t.Errorf("%d imported blocks, want %d", len(im.Graph.Blocks), tc.blocks)
			}
			checkBlocks(t, g, im)
			if im.Graph.BackboneParams() != g.BackboneParams() || im.Graph.BackboneMACs() != g.BackboneMACs() {
				t.Errorf("backbone %d params, %d MACs; want %d, %d", im.Graph.BackboneParams(), im.Graph.BackboneMACs(), g.BackboneParams(), g.BackboneMACs())
			}
			checkSame(t, g, w, im)
			// The imported graph writes the same file again, byte for
			// byte — except resnet18's, whose ReLU module called twice
			// comes back as two ("layer1.0.relu", "layer1.0.relu_1").
			first, err := Encode(g, w, ExportOptions{Tasks: tasks})
			if err != nil {
				t.Fatal(err)
			}
			again, err := Encode(im.Graph, importedWeights(t, im), ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if same := bytes.Equal(again, first); same != (tc.model != "resnet18") {
				t.Errorf("re-export of the imported graph is the same file: %v (%d and %d bytes)", same, len(again), len(first))
			}
		})
	}
}

// checkerScript loads each file with the onnx Python package and runs its
// checker with full shape inference, printing each output's inferred
// shape.
const checkerScript = `
import sys, onnx
for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    print(path, " ".join(o.name + str([d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim]) for o in m.graph.output))
`

// TestExportPassesONNXChecker runs onnx.checker (the reference library's
// validator, full check) on every zoo model's export, when the machine's
// Python has the onnx package (Debian's python3-onnx); it skips otherwise.
func TestExportPassesONNXChecker(t *testing.T) {
	const python = "/usr/bin/python3"
	dir := t.TempDir()
	probe := exec.Command(python, "-c", "import onnx")
	probe.Dir = dir // never the repository's own onnx/ folder
	if err := probe.Run(); err != nil {
		t.Skipf("%s has no onnx package (apt-get install python3-onnx): %v", python, err)
	}
	var files, want []string
	graphs := []*model.Graph{opsGraph(t, 2)}
	for _, name := range model.Zoo() {
		g, err := model.New(name, 32, []int{8, 4})
		if err != nil {
			t.Fatal(err)
		}
		graphs = append(graphs, g)
	}
	for _, g := range graphs {
		name := g.Name
		w, err := engine.RandomWeights(g, 1)
		if err != nil {
			t.Fatal(err)
		}
		// A symbolic batch on two graphs: the checker reads VGG's 60 MB
		// slowly enough once.
		dynamics := []bool{false}
		if name == "ops" || name == "mobilenet_v3_small" {
			dynamics = append(dynamics, true)
		}
		for _, dynamic := range dynamics {
			b, err := Encode(g, w, ExportOptions{Tasks: []string{"scale", "shape"}, DynamicBatch: dynamic,
				Metadata: map[string]string{"model": name}})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".onnx")
			batch := "1"
			if dynamic {
				path, batch = filepath.Join(dir, name+"_dynamic.onnx"), "'batch'"
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
			var outs []string
			for k, h := range g.Heads {
				outs = append(outs, fmt.Sprintf("%s[%s, %d]", []string{"scale", "shape"}[k], batch, h.Classes))
			}
			want = append(want, path+" "+strings.Join(outs, " "))
		}
	}
	cmd := exec.Command(python, append([]string{"-c", checkerScript}, files...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, out)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !slices.Equal(got, want) {
		t.Errorf("onnx shape inference:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// opsGraph holds the ops and forms the zoo does not: a dilated grouped
// conv with bias, ReLU6, a padded average pool, concatenation, an adaptive
// pool to 2×2 and a head without bias beside an MTL-Split one.
func opsGraph(t *testing.T, adaptive int) *model.Graph {
	t.Helper()
	b := model.NewBuilder("ops", 3, 8)
	b.Block("stem", "Sequential")
	x := b.Conv2d("stem.0", b.Input(), model.Conv{OutChannels: 6, Kernel: 3, Stride: 1, Padding: 2, Dilation: 2, Groups: 3, Bias: true})
	x = b.Activation("stem.1", model.OpReLU6, x)
	b.Block("mix", "Sequential")
	a := b.AvgPool2d("mix.pool", x, 3, 1, 1)
	c := b.Concat("mix.cat", a, x)
	s := b.AdaptiveAvgPool2d("mix.se", c, 1)
	s = b.Activation("mix.gate", model.OpSigmoid, s)
	x = b.Mul("mix.mul", c, s)
	b.Block("down", "AdaptiveAvgPool2d")
	x = b.AdaptiveAvgPool2d("down", x, adaptive)
	b.Block("max", "MaxPool2d")
	x = b.MaxPool2d("max", x, 3, 1, 1)
	model.AddHead(b, "a", 3)
	b.Head("b", 0)
	b.Linear("b.0", b.Flatten("b.flatten", x), 5, false)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestExportOps round-trips the ops the zoo does not use. The adaptive
// pool comes back as the AveragePool Export writes for it, and its sums
// run in the same order: still bit for bit.
func TestExportOps(t *testing.T) {
	g := opsGraph(t, 2)
	w, err := engine.RandomWeights(g, 5)
	if err != nil {
		t.Fatal(err)
	}
	im := exportImport(t, g, w, ExportOptions{DynamicBatch: true})
	if !slices.Equal(im.Outputs, []string{"a", "b"}) {
		t.Errorf("outputs %q", im.Outputs)
	}
	var ops []model.Op
	for _, n := range im.Graph.Nodes {
		ops = append(ops, n.Op)
	}
	want := []model.Op{model.OpInput, model.OpConv2d, model.OpReLU6, model.OpAvgPool2d, model.OpConcat, model.OpAdaptiveAvgPool2d,
		model.OpSigmoid, model.OpMul, model.OpAvgPool2d, model.OpMaxPool2d,
		model.OpFlatten, model.OpLinear, model.OpReLU, model.OpLinear, model.OpFlatten, model.OpLinear}
	if !slices.Equal(ops, want) {
		t.Errorf("imported ops %v\nwant %v", ops, want)
	}
	if n := im.Graph.Nodes[1]; n.Conv != g.Nodes[1].Conv {
		t.Errorf("conv %+v, want %+v", n.Conv, g.Nodes[1].Conv)
	}
	checkBlocks(t, g, im)
	checkSame(t, g, w, im)
}

// mapTensors are weights by state_dict key.
type mapTensors map[string][]float32

func (m mapTensors) Get(node, param string) []float32 { return m[node+"."+param] }

func TestExportRefuses(t *testing.T) {
	g := opsGraph(t, 2)
	w, err := engine.RandomWeights(g, 5)
	if err != nil {
		t.Fatal(err)
	}
	short := mapTensors{}
	for _, p := range w.Params() {
		short[p.Key()] = w.Get(p.Node, p.Param)
	}
	short["b.0.weight"] = short["b.0.weight"][1:]
	for _, tc := range []struct {
		name string
		g    *model.Graph
		w    Tensors
		opts ExportOptions
		want string
	}{
		{"nil graph", nil, w, ExportOptions{}, "nil graph or weights"},
		{"task count", g, w, ExportOptions{Tasks: []string{"a"}}, "1 task names for 2 heads"},
		{"same names", g, w, ExportOptions{Tasks: []string{"a", "a"}}, `output 2 is named "a": outputs need distinct, non-empty names other than "input"`},
		{"input", g, w, ExportOptions{Tasks: []string{"input", "b"}}, `output 1 is named "input"`},
		{"empty", g, w, ExportOptions{Tasks: []string{"a", ""}}, `output 2 is named ""`},
		{"weight name", g, w, ExportOptions{Tasks: []string{"a", "stem.0.bias"}}, `output "stem.0.bias" has the name of a weight`},
		{"short weight", g, short, ExportOptions{}, `Linear "b.0": weight b.0.weight has 239 values, want 240 for shape [5 48]`},
		{"missing weight", g, mapTensors{}, ExportOptions{}, `Conv2d "stem.0": weight stem.0.weight has 0 values, want 54`},
		{"uneven pool", opsGraph(t, 3), w, ExportOptions{}, `AdaptiveAvgPool2d "down": adaptive pooling of 8×8 to 3×3 has uneven windows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Export(&buf, tc.g, tc.w, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// TestExportDeterministic: the same graph and weights give the same bytes
// (metadata in key order), so a file's hash identifies a trained model.
func TestExportDeterministic(t *testing.T) {
	g := opsGraph(t, 2)
	w, err := engine.RandomWeights(g, 5)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{"model": "ops", "tasks": "a,b", "input_size": "8", "classes": "3,5"}
	first, err := Encode(g, w, ExportOptions{Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := Encode(g, w, ExportOptions{Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, first) {
			t.Fatal("two exports of the same graph differ")
		}
	}
}

// TestExportTorchFiles re-exports files torch.onnx wrote — torchvision's
// mobilenet_v3_small (batch norm folded into the convs) and the
// two-output MTL model of gen_multi.py — and reads them back: the same
// tasks and blocks, the same outputs bit for bit.
func TestExportTorchFiles(t *testing.T) {
	for _, file := range []string{"mobilenet_v3_small", "mtl_resnet", "mtl_tiny"} {
		t.Run(file, func(t *testing.T) {
			orig, err := Load("testdata/" + file + ".onnx")
			if err != nil {
				t.Fatal(err)
			}
			w := importedWeights(t, orig)
			im := exportImport(t, orig.Graph, w, ExportOptions{})
			want := orig.Outputs
			if len(orig.Graph.Heads) == 0 {
				want = []string{"output"} // a backbone's one output
			}
			if !slices.Equal(im.Outputs, want) {
				t.Errorf("outputs %q, want %q", im.Outputs, want)
			}
			if len(im.Graph.Heads) != len(orig.Graph.Heads) || !slices.Equal(im.Cuts, orig.Cuts) {
				t.Errorf("%d heads, cuts %v; want %d, %v", len(im.Graph.Heads), im.Cuts, len(orig.Graph.Heads), orig.Cuts)
			}
			checkBlocks(t, orig.Graph, im)
			checkSame(t, orig.Graph, w, im)
		})
	}
}
