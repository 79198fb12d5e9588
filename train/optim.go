package train

import (
	"fmt"
	"math"
)

// Optimizer updates parameters in place from their gradients. Its state
// (moments, momentum buffers) is per parameter index, so one Optimizer
// serves one Trainer.
type Optimizer interface {
	// Step applies one update with learning rate lr; params[i] and grads[i]
	// have equal lengths, and the same i names the same tensor every call.
	Step(params, grads [][]float32, lr float64)
}

// AdamW is PyTorch's AdamW (torch.optim.AdamW, amsgrad off): weight decay
// is decoupled from the gradient, param ← param·(1 − lr·WeightDecay), then
// the Adam step with bias-corrected moments. MTL-Split trains with lr 1e-4
// and WeightDecay lr·1e-2 = 1e-6.
type AdamW struct {
	Beta1, Beta2 float64 // 0 means PyTorch's 0.9 and 0.999
	Eps          float64 // 0 means 1e-8
	WeightDecay  float64
	step         int
	m, v         [][]float32
}

// Step implements Optimizer, in PyTorch's order of operations.
func (o *AdamW) Step(params, grads [][]float32, lr float64) {
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	if o.m == nil {
		o.m, o.v = zerosLike(params), zerosLike(params)
	}
	o.step++
	bc1 := 1 - math.Pow(b1, float64(o.step))
	bc2sqrt := math.Sqrt(1 - math.Pow(b2, float64(o.step)))
	// PyTorch computes the element updates in float32 with the scalars
	// rounded to float32; so does this.
	decay := float32(1 - lr*o.WeightDecay)
	stepSize, bc2, e := float32(lr/bc1), float32(bc2sqrt), float32(eps)
	beta1, beta2 := float32(b1), float32(b2)
	for i, p := range params {
		g, m, v := grads[i][:len(p)], o.m[i][:len(p)], o.v[i][:len(p)]
		// Elements are independent: large tensors split over the CPUs.
		parallel(len(p)/optimGrain+1, func(lo, hi int) {
			lo, hi = min(lo*optimGrain, len(p)), min(hi*optimGrain, len(p))
			for j := lo; j < hi; j++ {
				gj := g[j]
				mj := beta1*m[j] + (1-beta1)*gj
				vj := beta2*v[j] + (1-beta2)*gj*gj
				m[j], v[j] = mj, vj
				denom := float32(math.Sqrt(float64(vj)))/bc2 + e
				p[j] = p[j]*decay - stepSize*mj/denom
			}
		})
	}
}

// optimGrain is the fewest elements an optimizer goroutine updates.
const optimGrain = 1 << 14

// SGD is PyTorch's SGD with momentum (dampening 0, not Nesterov): the
// weight decay is added to the gradient, the first step's buffer is the
// gradient itself.
type SGD struct {
	Momentum    float64
	WeightDecay float64
	buf         [][]float32
}

// Step implements Optimizer.
func (o *SGD) Step(params, grads [][]float32, lr float64) {
	first := o.buf == nil
	if first {
		o.buf = zerosLike(params)
	}
	mu, wd := float32(o.Momentum), float32(o.WeightDecay)
	for i, p := range params {
		g, b := grads[i], o.buf[i]
		for j := range p {
			d := g[j] + wd*p[j]
			if o.Momentum != 0 {
				if first {
					b[j] = d
				} else {
					b[j] = mu*b[j] + d
				}
				d = b[j]
			}
			p[j] -= float32(lr) * d
		}
	}
}

func zerosLike(ts [][]float32) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = make([]float32, len(t))
	}
	return out
}

// StepLR is PyTorch's StepLR stepped once per epoch: the learning rate of
// epoch e (from 0) is Base·Gamma^⌊e/StepSize⌋. MTL-Split uses StepSize =
// epochs/2 and Gamma 0.1.
type StepLR struct {
	Base     float64
	StepSize int
	Gamma    float64
}

// LR is the learning rate of epoch e.
func (s StepLR) LR(e int) float64 {
	if s.StepSize <= 0 {
		return s.Base
	}
	return s.Base * math.Pow(s.Gamma, float64(e/s.StepSize))
}

// NewStepLR is MTL-Split's schedule for a run of epochs: the rate drops by
// ×0.1 halfway (never before the first epoch ends).
func NewStepLR(base float64, epochs int) (StepLR, error) {
	if base <= 0 || epochs < 1 {
		return StepLR{}, fmt.Errorf("learning rate %g and epochs %d must be positive", base, epochs)
	}
	return StepLR{Base: base, StepSize: max(1, epochs/2), Gamma: 0.1}, nil
}
