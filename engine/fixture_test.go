package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// fixtureUniform is u in [0, 1) for index i of the tensor with state_dict
// key: the formula of testdata/gen_fixtures.py, exact in both languages.
func fixtureUniform(key string, i int) float64 {
	h := uint32(0x811C9DC5)
	for _, b := range []byte(key) {
		h = (h ^ uint32(b)) * 0x01000193
	}
	x := uint64(i) + uint64(h)*0x9E3779B97F4A7C15
	x ^= x >> 33
	x *= 0xFF51AFD7ED558CCD
	x ^= x >> 33
	x *= 0xC4CEB9FE1A85EC53
	x ^= x >> 33
	return float64(x>>40) / (1 << 24)
}

// fixtureWeights sets every tensor of g as gen_fixtures.py sets PyTorch's.
func fixtureWeights(t testing.TB, g *model.Graph) *Weights {
	t.Helper()
	w, err := NewWeights(g)
	if err != nil {
		t.Fatal(err)
	}
	fan := map[string]int{}
	for _, p := range w.Params() {
		if p.Param == "weight" && len(p.Shape) > 1 {
			fan[p.Node] = fanIn(p)
		}
	}
	for _, p := range w.Params() {
		v := make([]float32, p.Elems())
		bn := len(w.Get(p.Node, "running_mean")) > 0
		for i := range v {
			u := fixtureUniform(p.Key(), i)
			switch {
			case bn && (p.Param == "weight" || p.Param == "running_var"):
				v[i] = float32(0.5 + u)
			case bn:
				v[i] = float32((u - 0.5) * 0.2)
			case p.Param == "weight":
				v[i] = float32((2*u - 1) * math.Sqrt(6/float64(fan[p.Node])))
			default:
				v[i] = float32((2*u - 1) / math.Sqrt(float64(fan[p.Node])))
			}
		}
		if err := w.Set(p.Node, p.Param, v); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// opsGraph mirrors class Ops of gen_fixtures.py: every op, with dilation,
// groups=2, padded pools and an adaptive pool that does not divide.
func opsGraph() (*model.Graph, error) {
	b := model.NewBuilder("ops", 3, 19)
	b.Block("stem", "Sequential")
	x := b.Conv2d("c0", b.Input(), model.Conv{OutChannels: 8, Kernel: 3, Stride: 2, Padding: 1, Bias: true})
	x = b.BatchNorm2d("bn0", x, 1e-5)
	x = b.Activation("a0", model.OpHardswish, x)
	b.Block("dil", "Sequential")
	x = b.Conv2d("c1", x, model.Conv{OutChannels: 8, Kernel: 3, Stride: 1, Padding: 2, Dilation: 2, Groups: 2})
	x = b.Activation("a1", model.OpReLU6, x)
	x = b.MaxPool2d("p1", x, 3, 2, 1)
	b.Block("se", "Sequential")
	s := b.BatchNorm2d("bn2", x, 1e-5)
	t := b.AdaptiveAvgPool2d("gap", s, 1)
	t = b.Conv2d("fc1", t, model.Conv{OutChannels: 4, Kernel: 1, Stride: 1, Bias: true})
	t = b.Activation("silu", model.OpSiLU, t)
	t = b.Conv2d("fc2", t, model.Conv{OutChannels: 8, Kernel: 1, Stride: 1, Bias: true})
	t = b.Activation("sigmoid", model.OpSigmoid, t)
	m := b.Mul("mul", s, t)
	x = b.Add("add", m, x)
	b.Block("dw", "Sequential")
	x = b.Conv2d("dw", x, model.Conv{OutChannels: 8, Kernel: 5, Stride: 1, Padding: 2, Groups: 8, Bias: true})
	x = b.Activation("hsig", model.OpHardsigmoid, x)
	x = b.AdaptiveAvgPool2d("ada", x, 3)
	b.Block("pool", "Sequential")
	x = b.AvgPool2d("avg", x, 3, 2, 1)
	x = b.Conv2d("pw", x, model.Conv{OutChannels: 16, Kernel: 1, Stride: 1})
	x = b.BatchNorm2d("bn3", x, 1e-5)
	b.Activation("relu", model.OpReLU, x)
	model.AddHead(b, "task1", 5)
	return b.Build()
}

type fixtureCase struct {
	name  string // file prefix in testdata
	model string // zoo name; "" for opsGraph
	size  int
	tasks []int
}

var fixtureCases = []fixtureCase{
	{"vgg16_32", "vgg16", 32, nil},
	{"vgg16_bn_32", "vgg16_bn", 32, nil},
	{"resnet18_64", "resnet18", 64, []int{8, 4}},
	{"mobilenet_v3_small_64", "mobilenet_v3_small", 64, nil},
	{"mobilenet_v3_small_57", "mobilenet_v3_small", 57, nil},
	{"efficientnet_b0_64", "efficientnet_b0", 64, nil},
	{"ops_19", "", 19, []int{5}},
}

func (c fixtureCase) graph() (*model.Graph, error) {
	if c.model == "" {
		return opsGraph()
	}
	return model.New(c.model, c.size, c.tasks)
}

func readF32(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// relErr is max |got − want| divided by max(1, max |want|): the error
// relative to the output's scale, since float32 sums in a different order
// differ by a few ulps of the largest values they pass through.
func relErr(got, want []float32) (maxAbs, rel float64) {
	var scale float64 = 1
	for i := range want {
		maxAbs = max(maxAbs, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	return maxAbs, maxAbs / scale
}

// TestMatchesPyTorch runs every fixture through the engine with each
// backend and compares with torch 1.13 (testdata/gen_fixtures.py).
func TestMatchesPyTorch(t *testing.T) {
	const tol = 1e-4
	for _, backend := range fixtureBackends() {
		for _, c := range fixtureCases {
			t.Run(fmt.Sprintf("%s/%s", backend, c.name), func(t *testing.T) {
				g, err := c.graph()
				if err != nil {
					t.Fatal(err)
				}
				p, err := Compile(g, fixtureWeights(t, g), Options{Threads: 2, Backend: backend})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				dir := "testdata"
				in := readF32(t, filepath.Join(dir, c.name+".in.f32"))
				y, heads, err := p.RunAll(in)
				if err != nil {
					t.Fatal(err)
				}
				want := readF32(t, filepath.Join(dir, c.name+".out.f32"))
				if len(y) != len(want) {
					t.Fatalf("output has %d values, PyTorch %d", len(y), len(want))
				}
				abs, rel := relErr(y, want)
				t.Logf("backbone: max abs error %.3g, relative to output scale %.3g", abs, rel)
				if rel > tol {
					t.Errorf("backbone: relative error %.3g > %g", rel, tol)
				}
				for i := range c.tasks {
					want := readF32(t, filepath.Join(dir, fmt.Sprintf("%s.task%d.f32", c.name, i+1)))
					abs, rel := relErr(heads[i], want)
					t.Logf("task%d: max abs error %.3g, relative %.3g", i+1, abs, rel)
					if len(heads[i]) != len(want) || rel > tol {
						t.Errorf("task%d: %d values, relative error %.3g; want %d values within %g", i+1, len(heads[i]), rel, len(want), tol)
					}
				}
			})
		}
	}
}
