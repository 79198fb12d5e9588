package onnx

import (
	"bytes"
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
	for _, name := range model.Zoo() {
		g, err := model.New(name, 32, []int{8, 4})
		if err != nil {
			t.Fatal(err)
		}
		w, err := engine.RandomWeights(g, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, dynamic := range []bool{false, true} {
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
			want = append(want, path+" scale["+batch+", 8] shape["+batch+", 4]")
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
