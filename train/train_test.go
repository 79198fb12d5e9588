package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// smallGraph is a net with every op the training supports: conv with and
// without bias, batch norm, ReLU, padded max pooling, a residual add, and
// two MTL-Split heads; testdata/gen_step.py builds the same in PyTorch.
func smallGraph(t testing.TB) *model.Graph { return smallGraphAt(t, 12) }

func smallGraphAt(t testing.TB, size int) *model.Graph {
	t.Helper()
	b := model.NewBuilder("small", 3, size)
	b.Block("stem", "Sequential")
	x := b.Conv2d("conv", b.Input(), model.Conv{OutChannels: 6, Kernel: 3, Stride: 1, Padding: 1})
	x = b.BatchNorm2d("bn", x, 1e-5)
	x = b.Activation("relu", model.OpReLU, x)
	x = b.MaxPool2d("pool", x, 3, 2, 1)
	b.Block("res", "Sequential")
	// The biased conv feeds batch norm only through a ReLU and another
	// conv: a bias whose shift batch norm cancels has zero gradient, and
	// AdamW's first step turns rounding noise there into full steps of
	// random sign.
	y := b.Conv2d("res.conv1", x, model.Conv{OutChannels: 6, Kernel: 3, Stride: 1, Padding: 1, Bias: true})
	y = b.Activation("res.relu1", model.OpReLU, y)
	y = b.Conv2d("res.conv2", y, model.Conv{OutChannels: 6, Kernel: 3, Stride: 1, Padding: 1})
	y = b.BatchNorm2d("res.bn", y, 1e-5)
	x = b.Add("res.add", y, x)
	b.Activation("res.relu", model.OpReLU, x)
	return withHeads(t, b)
}

// randomBatch is n seeded images of g's input with labels that depend on
// the image (the mean of one channel), so a network can learn them.
func randomBatch(g *model.Graph, n int, seed uint64) ([]float32, [][]int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	per := int(g.Input.Elems())
	x := make([]float32, n*per)
	labels := make([][]int, len(g.Heads))
	for i := range n {
		var s float64
		for j := range per {
			v := rng.NormFloat64()
			x[i*per+j] = float32(v)
			if j < per/3 {
				s += v
			}
		}
		for t, h := range g.Heads {
			labels[t] = append(labels[t], int(math.Abs(s)+float64(t))%h.Classes)
		}
	}
	return x, labels
}

func TestStepLowersLossOnOneBatch(t *testing.T) {
	g := smallGraph(t)
	tr, err := New(g, Config{Batch: 8, Seed: 1234})
	if err != nil {
		t.Fatal(err)
	}
	tr.LR = 1e-3
	x, labels := randomBatch(g, 8, 7)
	var first, last Result
	for i := range 20 {
		r, err := tr.Step(x, labels)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
		}
		last = r
	}
	t.Logf("loss %.4f → %.4f, accuracy %v → %v", first.TotalLoss(), last.TotalLoss(), first.Accuracy, last.Accuracy)
	if last.TotalLoss() > 0.1*first.TotalLoss() {
		t.Errorf("20 steps on one batch took the loss from %.4f to %.4f; want it below a tenth", first.TotalLoss(), last.TotalLoss())
	}
}

// TestEngineRunsTrainedWeights: after training steps (running statistics
// moved, weights changed), the engine's forward pass on Weights equals the
// trainer's eval-mode forward pass.
func TestEngineRunsTrainedWeights(t *testing.T) {
	cases := []struct {
		name string
		g    func(testing.TB) *model.Graph
	}{
		{"small", smallGraph},
		{"resnet18_32", func(t testing.TB) *model.Graph { return zoo(t, "resnet18", 32) }},
		{"vgg16_bn_32", func(t testing.TB) *model.Graph { return zoo(t, "vgg16_bn", 32) }},
		{"mobilenet_v3_small_32", func(t testing.TB) *model.Graph { return zoo(t, "mobilenet_v3_small", 32) }},
		{"efficientnet_b0_32", func(t testing.TB) *model.Graph { return zoo(t, "efficientnet_b0", 32) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.g(t)
			const batch = 4
			tr, err := New(g, Config{Batch: batch, Seed: 1234, Dropout: 0.1})
			if err != nil {
				t.Fatal(err)
			}
			tr.LR = 1e-3
			for s := range 3 {
				x, labels := randomBatch(g, batch, uint64(s))
				if _, err := tr.Step(x, labels); err != nil {
					t.Fatal(err)
				}
			}
			x, labels := randomBatch(g, batch, 99)
			_, logits, err := tr.Eval(x, labels)
			if err != nil {
				t.Fatal(err)
			}
			w, err := tr.Weights()
			if err != nil {
				t.Fatal(err)
			}
			p, err := engine.Compile(g, w, engine.Options{Batch: batch, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			_, heads, err := p.RunAll(x)
			if err != nil {
				t.Fatal(err)
			}
			for i := range heads {
				rel := relErr(heads[i], logits[i])
				t.Logf("%s: engine vs eval-mode logits, relative error %.3g", g.Heads[i].Task, rel)
				if rel > 1e-4 {
					t.Errorf("%s: relative error %.3g > 1e-4", g.Heads[i].Task, rel)
				}
			}
		})
	}
}

func zoo(t testing.TB, name string, size int) *model.Graph {
	t.Helper()
	g, err := model.New(name, size, []int{4, 3})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// relErr is max |got − want| over max(1e-3, max |want|).
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, scale float64 = 0, 1e-3
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	return d / scale
}

// TestStepsRepeat: at learning rate 0, steps on one batch give the same
// losses and gradients every time (gorgonia adds gradients to the last
// run's, and reruns ops into their previous output buffers).
func TestStepsRepeat(t *testing.T) {
	g := smallGraph(t)
	tr, err := New(g, Config{Batch: 8, Seed: 1234})
	if err != nil {
		t.Fatal(err)
	}
	tr.LR = 0
	x, labels := randomBatch(g, 8, 7)
	first, err := tr.Step(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	grads := make([][]float32, len(tr.grads))
	for i, g := range tr.grads {
		grads[i] = append([]float32(nil), g...)
	}
	for step := 2; step <= 3; step++ {
		r, err := tr.Step(x, labels)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.Loss {
			if r.Loss[i] != first.Loss[i] {
				t.Errorf("step %d: task%d loss %v, first step %v", step, i+1, r.Loss[i], first.Loss[i])
			}
		}
		for i, g := range tr.grads {
			if e := relErr(g, grads[i]); e != 0 {
				t.Errorf("step %d: gradient of %s differs from the first step's by %.3g", step, tr.params[i].info.Key(), e)
			}
		}
	}
}

// withHeads adds the two task heads of the fixtures (4 and 3 classes) and
// builds the graph.
func withHeads(t testing.TB, b *model.Builder) *model.Graph {
	t.Helper()
	model.AddHead(b, "task1", 4)
	model.AddHead(b, "task2", 3)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}
