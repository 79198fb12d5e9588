package engine

import (
	"math"

	"github.com/mtlsplit/mtlsplit/model"
)

// act is an elementwise activation fused into the step before it.
type act uint8

const (
	actNone act = iota
	actReLU
	actReLU6
	actHardswish
	actHardsigmoid
	actSiLU
	actSigmoid
)

func actOf(op model.Op) (act, bool) {
	switch op {
	case model.OpReLU:
		return actReLU, true
	case model.OpReLU6:
		return actReLU6, true
	case model.OpHardswish:
		return actHardswish, true
	case model.OpHardsigmoid:
		return actHardsigmoid, true
	case model.OpSiLU:
		return actSiLU, true
	case model.OpSigmoid:
		return actSigmoid, true
	}
	return actNone, false
}

// relu6 is PyTorch's clamp to [0, 6]; a NaN stays NaN. The builtin min and
// max compile without branches, which matters: a branch on the sign of
// activations mispredicts half the time.
func relu6(x float32) float32 { return min(max(x, 0), 6) }

// biasAct sets y[i] = a(y[i] + b) with PyTorch's definitions:
// hardswish x·relu6(x+3)/6, hardsigmoid relu6(x+3)/6, silu x/(1+e^-x).
func biasAct(y []float32, b float32, a act) {
	if nativeBiasAct(y, y, nil, b, a) {
		return
	}
	switch a {
	case actNone:
		if b != 0 {
			for i := range y {
				y[i] += b
			}
		}
	case actReLU:
		for i, v := range y {
			y[i] = max(v+b, 0)
		}
	case actReLU6:
		for i, v := range y {
			y[i] = relu6(v + b)
		}
	case actHardswish:
		for i, v := range y {
			v += b
			y[i] = v * relu6(v+3) / 6
		}
	case actHardsigmoid:
		for i, v := range y {
			y[i] = relu6(v+b+3) / 6
		}
	case actSiLU:
		sigmoidTimes(y, b, true)
	case actSigmoid:
		sigmoidTimes(y, b, false)
	}
}

// sigmoidTimes sets y[i] = v/(1+e^-v) (SiLU) or 1/(1+e^-v) (sigmoid) with
// v = y[i]+b. e^x is Cephes' expf in float32 (range reduction by ln 2 in two
// parts and a degree-6 polynomial, about 1 ulp), several times faster than
// math.Exp on float64.
func sigmoidTimes(y []float32, b float32, silu bool) {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	for i, v := range y {
		v += b
		// e^x for x = −v clamped to where e^x is a normal float32 (2^128
		// becomes +Inf, so the result is 0 or −0, as for larger x).
		x := -v
		if x < -87.33654 { // rare: predicted
			x = -87.33654
		}
		if x > 88.72283 {
			x = 88.72283
		}
		fx := x*log2e + 0.5
		n := int32(fx+128) - 128 // floor, without a branch on the sign
		z := float32(n)
		x = x - z*c1 - z*c2
		p := ((((1.9875691500e-4*x+1.3981999507e-3)*x+8.3334519073e-3)*x+4.1665795894e-2)*x+1.6666665459e-1)*x + 5.0000001201e-1
		e := (p*x*x + x + 1) * math.Float32frombits(uint32(n+127)<<23)
		if silu {
			y[i] = v / (1 + e)
		} else {
			y[i] = 1 / (1 + e)
		}
	}
}

// scaleShiftAct sets y[i] = a(x[i]·s + t): a standalone (unfolded) batch norm.
func scaleShiftAct(y, x []float32, s, t float32, a act) {
	if nativeScaleShiftAct(y, x, s, t, a) {
		return
	}
	x = x[:len(y)]
	for i := range y {
		y[i] = x[i]*s + t
	}
	biasAct(y, 0, a)
}

// Activate sets y = op(x) elementwise for an activation op (ReLU, ReLU6,
// Hardswish, Hardsigmoid, SiLU, Sigmoid) with the engine's kernels —
// vectorized where the CPU has them, e^x as a float32 polynomial — and
// reports false, leaving y alone, for any other op. y and x have equal
// lengths; the trainer calls it from several goroutines on disjoint parts.
func Activate(op model.Op, y, x []float32) bool {
	a, ok := actOf(op)
	if !ok {
		return false
	}
	if !nativeBiasAct(y, x, nil, 0, a) {
		copy(y, x)
		biasAct(y, 0, a)
	}
	return true
}
