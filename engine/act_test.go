package engine

import (
	"math"
	"testing"
)

// TestActivations checks every activation against its PyTorch definition
// computed in float64, including the saturated ends of the exponential.
func TestActivations(t *testing.T) {
	ref := map[act]func(float64) float64{
		actReLU:        func(x float64) float64 { return math.Max(x, 0) },
		actReLU6:       func(x float64) float64 { return math.Min(math.Max(x, 0), 6) },
		actHardswish:   func(x float64) float64 { return x * math.Min(math.Max(x+3, 0), 6) / 6 },
		actHardsigmoid: func(x float64) float64 { return math.Min(math.Max(x+3, 0), 6) / 6 },
		actSiLU:        func(x float64) float64 { return x / (1 + math.Exp(-x)) },
		actSigmoid:     func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
	}
	var xs []float32
	for x := -100.0; x <= 100; x += 0.01 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 88.7, -88.7, 200, -200)
	for a, f := range ref {
		y := append([]float32(nil), xs...)
		biasAct(y, 0, a)
		for i, x := range xs {
			want := f(float64(x))
			// A few float32 ulps of the result, or of 1 near zero.
			if d := math.Abs(float64(y[i]) - want); d > 4e-7*math.Max(math.Abs(want), 1e-3) && d > 1e-37 {
				t.Fatalf("act %d(%g) = %g, want %g (error %g)", a, x, y[i], want, d)
			}
		}
	}
	nan := []float32{float32(math.NaN())}
	for a := range ref {
		y := append([]float32(nil), nan...)
		biasAct(y, 0, a)
		if y[0] == y[0] {
			t.Errorf("act %d(NaN) = %g, want NaN", a, y[0])
		}
	}
}
