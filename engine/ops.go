package engine

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"

	"github.com/mtlsplit/mtlsplit/model"
)

// elemGrain is the fewest elements worth handing to another thread.
const elemGrain = 1 << 14

// newStep binds one planned step to its kernel, buffers and weights.
func (p *Program) newStep(g *model.Graph, w *Weights, sp stepPlan, ins [][]float32, out, col []float32) (step, error) {
	n := sp.nodes[0]
	last := sp.nodes[len(sp.nodes)-1]
	inShape := g.Nodes[n.Inputs[0]].OutShape
	for _, m := range sp.nodes {
		for _, pi := range nodeParams(m) {
			if len(w.Get(pi.Node, pi.Param)) != pi.Elems() {
				return nil, fmt.Errorf("weights have no %s of shape %v for %s %q", pi.Param, pi.Shape, m.Op, m.Name)
			}
		}
	}
	a := actNone
	if len(sp.nodes) > 1 {
		a, _ = actOf(last.Op)
	}
	switch n.Op {
	case model.OpConv2d:
		return newConvStep(p, sp, w, ins[0], out, col, inShape)
	case model.OpBatchNorm2d:
		bn, c := bnOf(w, n), inShape[0]
		s := &bnStep{k: channelKernel{x: ins[0], y: out, hw: int(inShape[1] * inShape[2]), c: c, act: a,
			scale: make([]float32, c), shift: make([]float32, c)}}
		for i := range c {
			scale, shift := bn.affine(i)
			s.k.scale[i], s.k.shift[i] = float32(scale), float32(shift)
		}
		return s, nil
	case model.OpReLU, model.OpReLU6, model.OpHardswish, model.OpHardsigmoid, model.OpSiLU, model.OpSigmoid:
		a, _ := actOf(n.Op)
		return &actStep{k: elemKernel{x: ins[0], y: out, act: a}, elems: int(n.OutShape.Elems())}, nil
	case model.OpAdd:
		return &actStep{k: elemKernel{x: ins[0], x2: ins[1], y: out, act: a}, elems: int(n.OutShape.Elems())}, nil
	case model.OpMul:
		return &mulStep{k: channelKernel{x: ins[0], s: ins[1], y: out, hw: int(inShape[1] * inShape[2]), c: inShape[0]}}, nil
	case model.OpMaxPool2d, model.OpAvgPool2d:
		s := &poolStep{k: poolKernel{x: ins[0], y: out, g: newGeom(n.Conv, inShape, n.OutShape), max: n.Op == model.OpMaxPool2d}}
		if ok, _ := nativeMaxPool(&s.k.g); ok && s.k.max {
			s.k.buf = p.scratch
		}
		return s, nil
	case model.OpAdaptiveAvgPool2d:
		return newAdaptiveStep(ins[0], out, inShape, n.Features), nil
	case model.OpConcat:
		s := &concatStep{ins: ins, y: out, outElems: int(n.OutShape.Elems())}
		for _, in := range n.Inputs {
			s.elems = append(s.elems, int(g.Nodes[in].OutShape.Elems()))
		}
		return s, nil
	case model.OpLinear:
		s := &linearStep{x: ins[0], y: out, in: n.Conv.InChannels, out: n.Features, act: a, gemm: p.gemm,
			weight: append([]float32(nil), w.Get(n.Name, "weight")...)}
		if n.Conv.Bias {
			s.bias = append([]float32(nil), w.Get(n.Name, "bias")...)
		}
		return s, nil
	}
	return nil, fmt.Errorf("node %q: op %s is not supported by the engine", n.Name, n.Op)
}

// elemKernel is an elementwise activation of x, or of x + x2 when x2 is set.
type elemKernel struct {
	x, x2, y []float32
	act      act
}

func (k *elemKernel) part(lo, hi, _ int) {
	y := k.y[lo:hi]
	var x2 []float32
	if k.x2 != nil {
		x2 = k.x2[lo:hi]
	}
	if nativeBiasAct(y, k.x[lo:hi], x2, 0, k.act) {
		return
	}
	if k.x2 != nil {
		a, b := k.x[lo:hi], k.x2[lo:hi]
		for i := range y {
			y[i] = a[i] + b[i]
		}
	} else {
		copy(y, k.x[lo:hi]) // a no-op when in place
	}
	biasAct(y, 0, k.act)
}

type actStep struct {
	k     elemKernel
	elems int
}

func (s *actStep) run(p *Program) { p.pool.run(&s.k, p.n*s.elems, elemGrain) }

// channelKernel works on planes [lo, hi) (sample·C + channel) of a feature
// map: a standalone batch norm (scale, shift) or a squeeze-excitation
// multiply by s[sample·C + channel].
type channelKernel struct {
	x, y, s      []float32
	scale, shift []float32
	hw, c        int
	act          act
}

type bnStep struct{ k channelKernel }

func (s *bnStep) run(p *Program) { p.pool.run(&s.k, p.n*s.k.c, max(1, elemGrain/s.k.hw)) }

func (k *channelKernel) part(lo, hi, _ int) {
	for plane := lo; plane < hi; plane++ {
		x, y := k.x[plane*k.hw:(plane+1)*k.hw], k.y[plane*k.hw:(plane+1)*k.hw]
		if k.s != nil {
			f := k.s[plane]
			if nativeScaleShiftAct(y, x, f, 0, actNone) {
				continue
			}
			for i := range y {
				y[i] = f * x[i]
			}
			continue
		}
		c := plane % k.c
		scaleShiftAct(y, x, k.scale[c], k.shift[c], k.act)
	}
}

type mulStep struct{ k channelKernel }

func (s *mulStep) run(p *Program) { p.pool.run(&s.k, p.n*s.k.c, max(1, elemGrain/s.k.hw)) }

// poolKernel is max pooling (padding never wins: PyTorch pads with −∞) or
// average pooling counting the padding (count_include_pad=True, so the
// divisor is always k·k in floor mode) over planes [lo, hi).
type poolKernel struct {
	x, y []float32
	g    geom
	max  bool
	buf  [][]float32 // per thread: the native max pooling's scratch (nil: Go)
}

type poolStep struct{ k poolKernel }

func (s *poolStep) run(p *Program) {
	g := &s.k.g
	p.pool.run(&s.k, p.n*g.cin, max(1, elemGrain/(g.oh*g.ow*g.k*g.k)))
}

func (k *poolKernel) part(lo, hi, tid int) {
	if k.buf != nil {
		runNativeMaxPool(k, k.buf[tid], lo, hi)
		return
	}
	g := &k.g
	inv := 1 / float32(g.k*g.k)
	for plane := lo; plane < hi; plane++ {
		x := k.x[plane*g.h*g.w : (plane+1)*g.h*g.w]
		y := k.y[plane*g.oh*g.ow : (plane+1)*g.oh*g.ow]
		for oy := range g.oh {
			yr := y[oy*g.ow : (oy+1)*g.ow]
			y0, y1 := oy*g.stride-g.pad, oy*g.stride-g.pad+g.k
			y0, y1 = max(y0, 0), min(y1, g.h)
			for ox := range yr {
				x0, x1 := ox*g.stride-g.pad, ox*g.stride-g.pad+g.k
				x0, x1 = max(x0, 0), min(x1, g.w)
				if k.max {
					m := float32(math.Inf(-1))
					for iy := y0; iy < y1; iy++ {
						for _, v := range x[iy*g.w+x0 : iy*g.w+x1] {
							m = max(m, v) // NaN wins, as in PyTorch
						}
					}
					yr[ox] = m
					continue
				}
				var sum float32
				for iy := y0; iy < y1; iy++ {
					for _, v := range x[iy*g.w+x0 : iy*g.w+x1] {
						sum += v
					}
				}
				yr[ox] = sum * inv
			}
		}
	}
}

// adaptiveStep is PyTorch's adaptive average pooling: output cell i covers
// inputs [floor(i·in/out), ceil((i+1)·in/out)).
type adaptiveStep struct{ k adaptiveKernel }

type adaptiveKernel struct {
	x, y           []float32
	c, h, w, out   int
	y0, y1, x0, x1 []int
}

func newAdaptiveStep(x, y []float32, in model.Shape, out int) *adaptiveStep {
	k := adaptiveKernel{x: x, y: y, c: in[0], h: in[1], w: in[2], out: out}
	for i := range out {
		k.y0 = append(k.y0, i*k.h/out)
		k.y1 = append(k.y1, ((i+1)*k.h+out-1)/out)
		k.x0 = append(k.x0, i*k.w/out)
		k.x1 = append(k.x1, ((i+1)*k.w+out-1)/out)
	}
	return &adaptiveStep{k: k}
}

func (s *adaptiveStep) run(p *Program) {
	p.pool.run(&s.k, p.n*s.k.c, max(1, elemGrain/(s.k.h*s.k.w)))
}

func (k *adaptiveKernel) part(lo, hi, _ int) {
	if k.out == 1 && nativeMeanPlanes(k.x, k.y, lo, hi, k.h*k.w) {
		return
	}
	for plane := lo; plane < hi; plane++ {
		x := k.x[plane*k.h*k.w : (plane+1)*k.h*k.w]
		y := k.y[plane*k.out*k.out : (plane+1)*k.out*k.out]
		for oy := range k.out {
			for ox := range k.out {
				var sum float32
				for iy := k.y0[oy]; iy < k.y1[oy]; iy++ {
					for _, v := range x[iy*k.w+k.x0[ox] : iy*k.w+k.x1[ox]] {
						sum += v
					}
				}
				y[oy*k.out+ox] = sum / float32((k.y1[oy]-k.y0[oy])*(k.x1[ox]-k.x0[ox]))
			}
		}
	}
}

// linearStep is y = x·Wᵀ + b for all samples in one GEMM.
type linearStep struct {
	x, y         []float32
	in, out      int
	weight, bias []float32
	act          act
	gemm         blas.Float32Level3
}

func (s *linearStep) run(p *Program) {
	y := s.y[:p.n*s.out]
	s.gemm.Sgemm(blas.NoTrans, blas.Trans, p.n, s.out, s.in, 1, s.x[:p.n*s.in], s.in, s.weight, s.in, 0, y, s.out)
	for smp := range p.n {
		row := y[smp*s.out : (smp+1)*s.out]
		if s.bias != nil {
			for i := range row {
				row[i] += s.bias[i]
			}
		}
		biasAct(row, 0, s.act)
	}
}

// concatStep joins its inputs along the channels, sample by sample (each
// input's [C H W] block lands after the previous ones').
type concatStep struct {
	ins      [][]float32
	elems    []int // per sample, of each input
	y        []float32
	outElems int
}

func (s *concatStep) run(p *Program) {
	for n := range p.n {
		off := n * s.outElems
		for i, x := range s.ins {
			e := s.elems[i]
			copy(s.y[off:off+e], x[n*e:(n+1)*e])
			off += e
		}
	}
}
