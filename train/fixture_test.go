package train

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// stepFixture is testdata/step_<net>.json (written by testdata/gen_step.py).
type stepFixture struct {
	Batch       int       `json:"batch"`
	Size        int       `json:"size"`
	LR          float64   `json:"lr"`
	WeightDecay float64   `json:"weight_decay"`
	Eps         float64   `json:"eps"`
	Labels      [][]int   `json:"labels"`
	Loss        []float64 `json:"loss"`
	Tensors     []struct {
		Name   string `json:"name"`
		Shape  []int  `json:"shape"`
		Offset int    `json:"offset"`
	} `json:"tensors"`
}

// loadStep reads the fixture and returns it with its tensors by name.
func loadStep(t *testing.T, name string) (stepFixture, map[string][]float32) {
	t.Helper()
	var f stepFixture
	b, err := os.ReadFile(filepath.Join("testdata", "step_"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "step_"+name+".f32"))
	if err != nil {
		t.Fatal(err)
	}
	all := make([]float32, len(raw)/4)
	for i := range all {
		all[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	tensors := map[string][]float32{}
	for _, ts := range f.Tensors {
		n := 1
		for _, d := range ts.Shape {
			n *= d
		}
		if ts.Offset+n > len(all) {
			t.Fatalf("%s: offset %d + %d values beyond the %d in step.f32", ts.Name, ts.Offset, n, len(all))
		}
		tensors[ts.Name] = all[ts.Offset : ts.Offset+n]
	}
	return f, tensors
}

// fixtureUniform is u in [0, 1) for index i of the tensor named key: the
// formula of testdata/gen_step.py, exact in both languages.
func fixtureUniform(key string, i int) float64 {
	h := uint32(0x811C9DC5)
	for _, b := range []byte(key) {
		h = (h ^ uint32(b)) * 0x01000193
	}
	x := h + uint32(i+1)*0x9E3779B1
	x ^= x >> 16
	x *= 0x45D9F3B
	x ^= x >> 16
	return float64(x) / (1 << 32)
}

// mobileGraphAt mirrors class Mobile of testdata/gen_step.py: the ops of
// mobilenet_v3_small and efficientnet_b0.
func mobileGraphAt(t testing.TB, size int) *model.Graph {
	t.Helper()
	b := model.NewBuilder("mobile", 3, size)
	b.Block("stem", "Sequential")
	x := b.Conv2d("conv", b.Input(), model.Conv{OutChannels: 8, Kernel: 3, Stride: 2, Padding: 1})
	x = b.BatchNorm2d("bn", x, 1e-5)
	x = b.Activation("hs", model.OpHardswish, x)
	b.Block("block", "Sequential")
	y := b.Conv2d("dw", x, model.Conv{OutChannels: 8, Kernel: 3, Stride: 1, Padding: 1, Groups: 8})
	y = b.BatchNorm2d("dwbn", y, 1e-5)
	y = b.Activation("relu", model.OpReLU, y)
	s := b.AdaptiveAvgPool2d("se.avgpool", y, 1)
	s = b.Conv2d("se.fc1", s, model.Conv{OutChannels: 4, Kernel: 1, Stride: 1, Bias: true})
	s = b.Activation("se.activation", model.OpReLU, s)
	s = b.Conv2d("se.fc2", s, model.Conv{OutChannels: 8, Kernel: 1, Stride: 1, Bias: true})
	s = b.Activation("se.scale_activation", model.OpHardsigmoid, s)
	y = b.Mul("se.mul", y, s)
	y = b.Conv2d("pw", y, model.Conv{OutChannels: 8, Kernel: 1, Stride: 1, Groups: 2})
	y = b.BatchNorm2d("pwbn", y, 1e-5)
	y = b.Activation("silu", model.OpSiLU, y)
	x = b.Add("add", y, x)
	b.Activation("sig", model.OpSigmoid, x)
	return withHeads(t, b)
}

// TestOneStepMatchesPyTorch: from the same weights and batch, one training
// step (dropout off) gives PyTorch's losses, gradients, AdamW update and
// batch-norm running statistics.
func TestOneStepMatchesPyTorch(t *testing.T) {
	cases := []struct {
		name  string
		graph func(testing.TB, int) *model.Graph
	}{
		{"small", smallGraphAt},
		{"mobile", mobileGraphAt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, want := loadStep(t, c.name)
			checkStep(t, f, want, c.graph(t, f.Size))
		})
	}
}

func checkStep(t *testing.T, f stepFixture, want map[string][]float32, g *model.Graph) {
	const tol = 1e-4
	tr, err := New(g, Config{Batch: f.Batch, Optimizer: &AdamW{WeightDecay: f.WeightDecay, Eps: f.Eps}})
	if err != nil {
		t.Fatal(err)
	}
	tr.LR = f.LR
	before := map[string][]float32{}
	for _, p := range tr.params {
		if p.info.Param == "weight" && len(p.info.Shape) > 1 || p.info.Param == "bias" && tr.stats[p.info.Node] == nil {
			bound := 1 / math.Sqrt(float64(p.info.Elems()/p.info.Shape[0]))
			if p.info.Param == "bias" {
				w := tr.param(p.info.Node, "weight")
				bound = 1 / math.Sqrt(float64(w.info.Elems()/w.info.Shape[0]))
			}
			for i := range p.data {
				p.data[i] = float32((2*fixtureUniform(p.info.Key(), i) - 1) * bound)
			}
		}
		before[p.info.Key()] = append([]float32(nil), p.data...)
	}
	res, err := tr.Step(want["input"], f.Labels)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range res.Loss {
		rel := math.Abs(l-f.Loss[i]) / f.Loss[i]
		t.Logf("task%d loss %.7f, PyTorch %.7f, relative error %.2g", i+1, l, f.Loss[i], rel)
		if rel > tol {
			t.Errorf("task%d loss %.7f, PyTorch %.7f", i+1, l, f.Loss[i])
		}
	}
	var worstGrad, worstStep, worstAfter float64
	for i, p := range tr.params {
		key := p.info.Key()
		wg, wa := want["grad/"+key], want["after/"+key]
		if wg == nil || wa == nil {
			t.Fatalf("%s: not in the fixture", key)
		}
		// The update itself, not only the weights it lands on: a wrong step
		// of 1e-3 would hide in weights of scale 0.1 at 1e-4 relative.
		gotStep, wantStep := make([]float32, len(p.data)), make([]float32, len(p.data))
		for j := range p.data {
			gotStep[j] = p.data[j] - before[key][j]
			wantStep[j] = wa[j] - before[key][j]
		}
		eg, es, ea := relErr(tr.grads[i], wg), relErr(gotStep, wantStep), relErr(p.data, wa)
		worstGrad, worstStep, worstAfter = max(worstGrad, eg), max(worstStep, es), max(worstAfter, ea)
		// The update is checked at 1e-2: where a gradient is near AdamW's
		// eps, its first step lr·g/(|g|+eps) follows g's last bits
		// (measured: 1.8e-3 with eps 1e-6; 6.6e-3 with PyTorch's 1e-8).
		if eg > tol || ea > tol || es > 1e-2 {
			t.Errorf("%s: relative error of gradient %.3g, of the update %.3g, of the weights after it %.3g", key, eg, es, ea)
		}
	}
	t.Logf("worst relative error: gradients %.3g, AdamW updates %.3g, weights after the step %.3g", worstGrad, worstStep, worstAfter)
	for name, st := range tr.stats {
		em, ev := relErr(st.mean, want["after/"+name+".running_mean"]), relErr(st.variance, want["after/"+name+".running_var"])
		t.Logf("%s running mean %.3g, variance %.3g", name, em, ev)
		if em > tol || ev > tol {
			t.Errorf("%s: running mean relative error %.3g, variance %.3g", name, em, ev)
		}
	}
}
