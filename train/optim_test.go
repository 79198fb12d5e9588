package train

import (
	"math"
	"testing"
)

// TestSGD checks two momentum steps with weight decay against values
// worked by hand from PyTorch's update rule.
func TestSGD(t *testing.T) {
	o := &SGD{Momentum: 0.9, WeightDecay: 0.1}
	p := [][]float32{{1, -2}}
	g := [][]float32{{0.5, 0}}
	o.Step(p, g, 0.1)
	// d = g + 0.1·p = (0.6, -0.2); buf = d; p -= 0.1·buf
	want := []float64{0.94, -1.98}
	check := func(step int) {
		for i := range want {
			if math.Abs(float64(p[0][i])-want[i]) > 1e-6 {
				t.Errorf("step %d: p[%d] = %v, want %v", step, i, p[0][i], want[i])
			}
		}
	}
	check(1)
	o.Step(p, g, 0.1)
	// d = (0.5 + 0.094, −0.198); buf = 0.9·(0.6, −0.2) + d = (1.134, −0.378)
	want = []float64{0.94 - 0.1134, -1.98 + 0.0378}
	check(2)
}

func TestStepLR(t *testing.T) {
	s, err := NewStepLR(1e-3, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		epoch int
		want  float64
	}{{0, 1e-3}, {4, 1e-3}, {5, 1e-4}, {9, 1e-4}, {10, 1e-5}} {
		if got := s.LR(c.epoch); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("epoch %d: lr %g, want %g", c.epoch, got, c.want)
		}
	}
	if _, err := NewStepLR(0, 10); err == nil {
		t.Error("a zero learning rate was accepted")
	}
}
