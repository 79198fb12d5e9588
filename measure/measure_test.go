package measure

import (
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

func program(t *testing.T) *engine.Program {
	t.Helper()
	g, err := model.New("mobilenet_v3_small", 64, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	w, err := engine.RandomWeights(g, 3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Compile(g, w, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func inputs(n int) [][]float32 {
	rng := rand.New(rand.NewPCG(1, 1))
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, 3*64*64)
		for j := range out[i] {
			out[i][j] = float32(rng.NormFloat64())
		}
	}
	return out
}

func TestRun(t *testing.T) {
	p := program(t)
	res, err := Run(p, inputs(1)[0], Settings{Reps: 3, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	tb := res.Table.Backbones["mobilenet_v3_small"]
	if len(tb.Blocks) != 13 || len(tb.Heads) != 2 || res.Table.Meta.Size != 64 || !(tb.Latency.EndToEnd.MedianMS > 0) {
		t.Fatalf("table %+v", res.Table.Meta)
	}
	// Measured cut sizes are the planner's predicted ones.
	g := p.Graph()
	for k, c := range profile.Cuts(g) {
		for _, e := range codec.Encodings {
			if want := c.Shape.Elems(); int64(res.CutBytes[k][e]) != e.Bytes(want) {
				t.Errorf("cut %s %s: %d bytes, predicted %d", c.Name, e, res.CutBytes[k][e], e.Bytes(want))
			}
		}
	}
}

func TestFidelity(t *testing.T) {
	p := program(t)
	in := inputs(4)
	tab, _, err := Fidelity(p, len(in), func(i int, x []float32) { copy(x, in[i]) }, []codec.Encoding{codec.FP32, codec.Int4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Entries) != 13*2*2 {
		t.Fatalf("%d entries", len(tab.Entries))
	}
	for _, e := range tab.Entries {
		if e.Encoding == codec.FP32 && e.Accuracy != 1 {
			t.Errorf("fp32 at %s changes %s's prediction: %g", e.Cut, e.Task, e.Accuracy)
		}
		if e.Accuracy < 0 || e.Accuracy > 1 {
			t.Errorf("agreement %g", e.Accuracy)
		}
	}
}

func TestHeldBytes(t *testing.T) {
	g, err := model.New("resnet18", 64, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	// The input (3·64²) and the outputs of conv1, bn1, relu (64·32² each),
	// maxpool and layer1 (64·16²), layer2 (128·8²), layer3 (256·4²) and
	// layer4 (512·2²), plus three of the largest.
	cuts := 3*64*64 + 3*64*32*32 + 2*64*16*16 + 128*8*8 + 256*4*4 + 512*2*2
	if got, want := HeldBytes(g), int64(4*(cuts+3*64*32*32)); got != want {
		t.Errorf("%d bytes, want %d", got, want)
	}
}
