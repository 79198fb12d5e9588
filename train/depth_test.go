package train

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/model"
)

// TestStochasticDepth: efficientnet_b0's nine residual MBConv blocks get
// torchvision's probabilities (0.2·i/16 for block i of 16), each step drops
// a block's rows at that rate (seeded: 4,000 draws of 16 rows per block,
// within 4 standard deviations) and scales kept rows by exactly 1/(1−p);
// eval mode and StochasticDepth < 0 have no stochastic depth at all.
func TestStochasticDepth(t *testing.T) {
	g, err := model.New("efficientnet_b0", 32, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	const batch = 16
	tr, err := New(g, Config{Batch: batch, Seed: 1234})
	if err != nil {
		t.Fatal(err)
	}
	blocks := []int{2, 4, 6, 7, 9, 10, 12, 13, 14} // the residual ones of torchvision's 16
	if len(tr.train.depth) != len(blocks) {
		t.Fatalf("%d stochastic depth ops, want %d", len(tr.train.depth), len(blocks))
	}
	for k, op := range tr.train.depth {
		if want := 0.2 * float64(blocks[k]) / 16; math.Abs(op.p-want) > 1e-12 {
			t.Errorf("%s: p = %g, want %g", op.name, op.p, want)
		}
	}
	const draws = 4000
	dropped := make([]int, len(blocks))
	for range draws {
		tr.drawDepth(tr.train)
		for k, op := range tr.train.depth {
			for _, s := range op.scale {
				switch s {
				case 0:
					dropped[k]++
				case float32(1 / (1 - op.p)):
				default:
					t.Fatalf("%s: scale %g, want 0 or %g", op.name, s, 1/(1-op.p))
				}
			}
		}
	}
	for k, op := range tr.train.depth {
		n := float64(draws * batch)
		rate, sd := float64(dropped[k])/n, math.Sqrt(op.p*(1-op.p)/n)
		t.Logf("%s: p %.4f, dropped %.4f", op.name, op.p, rate)
		if math.Abs(rate-op.p) > 4*sd {
			t.Errorf("%s: dropped %.4f of rows, want %.4f ± %.4f", op.name, rate, op.p, 4*sd)
		}
	}
	x, labels := randomBatch(g, batch, 1)
	if _, _, err := tr.Eval(x, labels); err != nil {
		t.Fatal(err)
	}
	if len(tr.eval.depth) != 0 {
		t.Errorf("eval mode has %d stochastic depth ops", len(tr.eval.depth))
	}
	off, err := New(g, Config{Batch: batch, Seed: 1234, StochasticDepth: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(off.train.depth) != 0 {
		t.Errorf("StochasticDepth -1 left %d ops", len(off.train.depth))
	}
}

// TestDepthOp: the op scales each sample's row by its scale, forward and
// (the same op) backward.
func TestDepthOp(t *testing.T) {
	op := &depthOp{opBase: opBase{"sd"}, p: 0.2, scale: []float32{0, 1.25}, dims: 4}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	y, err := op.Do(tensor.New(tensor.WithShape(2, 2, 2, 1), tensor.WithBacking(x)))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 0, 0, 6.25, 7.5, 8.75, 10}
	if got := y.Data().([]float32); !sameBits(got, want) {
		t.Errorf("y = %v, want %v", got, want)
	}
}
