package splitrun_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/onnx"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

const mtlResnet = "../onnx/testdata/mtl_resnet.onnx"

// onnxPlan solves the two-task network imported from an ONNX file (outputs
// hue and shape), with the file's source.
func onnxPlan(t *testing.T, file string) *plan.Plan {
	t.Helper()
	im, err := onnx.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	src, err := plan.ONNXSource(file, im.Outputs, "")
	if err != nil {
		t.Fatal(err)
	}
	pl := solve(t, im.Graph, src)
	if err := pl.Validate(); err != nil {
		t.Fatal(err)
	}
	return pl
}

// TestONNXPlanOverSocket runs a plan made from a two-output ONNX file with
// the file's weights: a mid-backbone fp32 cut over the socket gives every
// task's logits of the whole network bit for bit, and the whole network
// gives PyTorch's outputs (so the weights are the file's, not random).
func TestONNXPlanOverSocket(t *testing.T) {
	pl := onnxPlan(t, mtlResnet)
	m, err := splitrun.Open(pl, mtlResnet)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	cut := g.Blocks[len(g.Blocks)/2].Name
	blockCut(g, pl, cut, "fp32", map[string]string{"hue": "server", "shape": "server"})
	d, err := m.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if !d.Sends() {
		t.Fatalf("cut after %s sends nothing", cut)
	}
	in := f32File(t, "../onnx/testdata/mtl_resnet.input.f32")
	const seed = 3
	got, whole := splitAndWhole(t, d, seed, in)
	sameLogits(t, got.Logits, whole)
	for k, task := range []string{"hue", "shape"} {
		torch := f32File(t, "../onnx/testdata/mtl_resnet."+task+".f32")
		if len(torch) != len(whole[k]) {
			t.Fatalf("%s: %d logits, PyTorch %d", task, len(whole[k]), len(torch))
		}
		for i := range torch {
			if d := math.Abs(float64(whole[k][i] - torch[i])); d > 1e-4 {
				t.Errorf("%s logit %d: %g, PyTorch %g", task, i, whole[k][i], torch[i])
			}
		}
	}
}

// TestONNXPlanRefusesAnotherFile: a copy of the file under another name
// runs (the content is its identity); the file with one weight byte
// flipped is refused naming both SHA-256s; so is a missing file, with how
// to name it.
func TestONNXPlanRefusesAnotherFile(t *testing.T) {
	pl := onnxPlan(t, mtlResnet)
	raw, err := os.ReadFile(mtlResnet)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	same := filepath.Join(dir, "renamed.onnx")
	if err := os.WriteFile(same, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := splitrun.Open(pl, same); err != nil {
		t.Errorf("a renamed copy: %v", err)
	}
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)-100] ^= 1 // inside the last initializer's raw data
	tampered := filepath.Join(dir, "tampered.onnx")
	if err := os.WriteFile(tampered, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	badSum, _ := plan.FileSHA256(tampered)
	for name, tc := range map[string]struct {
		file string
		want []string
	}{
		"tampered": {tampered, []string{tampered + " has SHA-256 " + badSum, "with SHA-256 " + pl.Model.Source.SHA256}},
		"missing":  {filepath.Join(dir, "none.onnx"), []string{"none.onnx", "--model FILE"}},
	} {
		_, err := splitrun.Open(pl, tc.file)
		if err == nil {
			t.Fatalf("%s: opened", name)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %q lacks %q", name, err, w)
			}
		}
	}
}

// TestEdgeAndServerCompareFiles: a zoo plan of an imported graph does not
// build, and a server whose plan names another ONNX file refuses the edge
// in the handshake, naming the files' SHA-256s.
func TestEdgeAndServerCompareFiles(t *testing.T) {
	pl := onnxPlan(t, mtlResnet)
	zoo := *pl
	zoo.Model.Source = nil
	if _, err := splitrun.Prepare(&zoo); err == nil || !strings.Contains(err.Error(), "plan's model") {
		t.Errorf("prepared a plan of an imported graph as a zoo model: %v", err)
	}
	const seed = 3
	deploy := func(file string) *splitrun.Deployment {
		p := onnxPlan(t, file)
		m, err := splitrun.Open(p, file)
		if err != nil {
			t.Fatal(err)
		}
		blockCut(m.Graph, p, m.Graph.Blocks[1].Name, "fp32", map[string]string{"hue": "server", "shape": "server"})
		d, err := m.Prepare()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	edge, other := deploy(mtlResnet), deploy("../onnx/testdata/mtl_resnet_flat.onnx")
	addr := serve(t, &splitrun.Server{Model: other.Model(), Workers: 1, Seed: seed})
	e := &splitrun.Edge{D: edge, Prog: compiled(t, edge, seed)}
	err := e.Dial(addr, seed)
	if err == nil {
		e.Close()
		t.Fatal("a server of another file accepted the edge")
	}
	if !strings.Contains(err.Error(), "SHA-256 \""+edge.Plan.Model.Source.SHA256) || !strings.Contains(err.Error(), other.Plan.Model.Source.SHA256) {
		t.Errorf("refusal %q does not name both files", err)
	}
}

// f32File reads raw little-endian float32s.
func f32File(t *testing.T, path string) []float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}
