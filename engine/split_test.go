package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
)

// splitModels are small enough to run at every cut in a unit test.
var splitModels = []struct {
	name  string
	size  int
	tasks []int
}{
	{"vgg16", 32, []int{3}},
	{"vgg16_bn", 32, nil},
	{"resnet18", 64, []int{8, 4}},
	{"mobilenet_v3_small", 57, []int{2}},
	{"efficientnet_b0", 64, nil},
}

func randomInput(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func compileRandom(t testing.TB, name string, size int, tasks []int, opts Options) *Program {
	t.Helper()
	g, err := model.New(name, size, tasks)
	if err != nil {
		t.Fatal(err)
	}
	w, err := RandomWeights(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(g, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestSplitEqualsWhole runs to every cut, sends the tensor through the fp32
// encoding, runs from the cut on a second program (the "server"), and wants
// the whole run's output bit for bit.
func TestSplitEqualsWhole(t *testing.T) {
	for _, backend := range Backends() {
		for _, m := range splitModels {
			t.Run(fmt.Sprintf("%s/%s", backend, m.name), func(t *testing.T) {
				opts := Options{Threads: 2, Backend: backend}
				edge := compileRandom(t, m.name, m.size, m.tasks, opts)
				server := compileRandom(t, m.name, m.size, m.tasks, opts)
				x := randomInput(int(edge.CutShape(0).Elems()), 5)
				whole, err := edge.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				if !finite(whole) {
					t.Fatal("output is not finite")
				}
				for k := 0; k <= edge.Cuts(); k++ {
					mid, err := edge.RunRange(0, k, x)
					if err != nil {
						t.Fatal(err)
					}
					wire, err := Encode(nil, codec.FP32, mid)
					if err != nil {
						t.Fatal(err)
					}
					got := make([]float32, len(mid))
					if err := Decode(got, codec.FP32, wire); err != nil {
						t.Fatal(err)
					}
					out, err := server.RunRange(k, server.Cuts(), got)
					if err != nil {
						t.Fatal(err)
					}
					if !sameBits(out, whole) {
						t.Fatalf("cut %d (%s): split output differs from whole", k, cutName(edge.Graph(), k))
					}
				}
			})
		}
	}
}

func cutName(g *model.Graph, k int) string {
	if k == 0 {
		return "input"
	}
	return "after " + g.Blocks[k-1].Name
}

func finite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// TestBatchEqualsSingles: a batch of two gives each sample's single run.
func TestBatchEqualsSingles(t *testing.T) {
	for _, backend := range Backends() {
		for _, m := range splitModels {
			t.Run(fmt.Sprintf("%s/%s", backend, m.name), func(t *testing.T) {
				p := compileRandom(t, m.name, m.size, m.tasks, Options{Threads: 2, Batch: 2, Backend: backend})
				per := int(p.CutShape(0).Elems())
				x := randomInput(2*per, 11)
				y, heads, err := p.RunAll(x)
				if err != nil {
					t.Fatal(err)
				}
				outPer := len(y) / 2
				for s := range 2 {
					ys, hs, err := p.RunAll(x[s*per : (s+1)*per])
					if err != nil {
						t.Fatal(err)
					}
					if !sameBits(ys, y[s*outPer:(s+1)*outPer]) {
						t.Errorf("sample %d: backbone output differs from the batch's", s)
					}
					for h := range hs {
						k := len(hs[h])
						// Heads run as one GEMM for the batch; a BLAS may sum a
						// 2-row product in another order than a 1-row one
						// (OpenBLAS takes GEMV for one row): reordering a
						// 2048-term fp32 sum moves it by up to ~K·eps of its
						// terms' magnitude (seen: 5.3e-5 absolute on resnet18).
						if abs, rel := relErr(hs[h], heads[h][s*k:(s+1)*k]); rel > 2e-5 {
							t.Errorf("sample %d head %d: differs from the batch's by %g", s, h, abs)
						}
					}
				}
			})
		}
	}
}

func TestRunErrors(t *testing.T) {
	p := compileRandom(t, "resnet18", 32, []int{2}, Options{Threads: 1})
	in := make([]float32, 3*32*32)
	for _, tc := range []struct {
		name     string
		from, to int
		in       []float32
	}{
		{"short input", 0, 3, in[:100]},
		{"two samples, batch 1", 0, 3, append(slices.Clone(in), in...)},
		{"negative cut", -1, 2, in},
		{"cut past the end", 0, 99, in},
		{"backwards", 3, 2, in},
		{"wrong shape at cut", 2, 4, in},
	} {
		if _, err := p.RunRange(tc.from, tc.to, tc.in); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := p.RunHead(1, make([]float32, 512)); err == nil {
		t.Error("head 1 of 1: no error")
	}
	p.Close()
	if _, err := p.Run(in); err != ErrClosed {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestRunHeadMatchesRunAll(t *testing.T) {
	p := compileRandom(t, "mobilenet_v3_small", 64, []int{3, 5}, Options{})
	x := randomInput(3*64*64, 3)
	y, heads, err := p.RunAll(x)
	if err != nil {
		t.Fatal(err)
	}
	for h := range heads {
		got, err := p.RunHead(h, y)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(got, heads[h]) {
			t.Errorf("head %d alone differs from RunAll", h)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	g, err := model.New("resnet18", 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWeights(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(g, w, Options{Backend: "cuda"}); err == nil {
		t.Error("unknown backend: no error")
	}
	if err := w.Set("conv1", "weight", make([]float32, 3)); err == nil {
		t.Error("short conv1.weight: no error")
	}
	if err := w.Set("conv9", "weight", nil); err == nil {
		t.Error("unknown node: no error")
	}
	if err := w.Set("bn1", "running_var", make([]float32, 64)); err != nil {
		t.Errorf("bn1.running_var: %v", err)
	}
}

// TestNoAllocationPerLayer: with OpenBLAS (gonum's GEMM keeps its own
// per-call bookkeeping), a run allocates only the returned output.
func TestNoAllocationPerLayer(t *testing.T) {
	if !OpenBLASAvailable() {
		t.Skip("built without OpenBLAS; gonum's GEMM allocates per call")
	}
	p := compileRandom(t, "mobilenet_v3_small", 64, nil, Options{Threads: 2, Backend: BackendOpenBLAS})
	x := randomInput(3*64*64, 3)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := p.Run(x); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per run; want 1 (the output)", allocs)
	}
}
