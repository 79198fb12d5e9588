package train

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/model"
)

// Ops gorgonia lacks, written as gorgonia ops with their gradients: grouped
// (and depthwise) convolution, and the activations of the mobile models.
// Each Do allocates its output: the tape machine may otherwise hand an op
// its previous output buffer (see normOp).

// opBase holds what every op here answers the same way.
type opBase struct{ name string }

func (opBase) ReturnsPtr() bool     { return false }
func (opBase) CallsExtern() bool    { return false }
func (opBase) OverwritesInput() int { return -1 }

func tensorFn(dims, arity int) hm.Type {
	t := G.TensorType{Dims: dims, Of: hm.TypeVariable('a')}
	ts := make([]hm.Type, arity+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}

func dense(data []float32, s tensor.Shape) G.Value {
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(data))
}

// groupConvOp is a grouped convolution of x (N, C, H, W) with w (O, C/g,
// K, K), direct loops: it serves the depthwise convolutions of the mobile
// models, whose work is small next to their 1×1 convolutions.
type groupConvOp struct {
	opBase
	c   model.Conv
	out tensor.Shape // (N, O, Ho, Wo)
}

func (op *groupConvOp) Arity() int    { return 2 }
func (op *groupConvOp) Type() hm.Type { return tensorFn(4, 2) }
func (op *groupConvOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.out.Clone(), nil
}
func (op *groupConvOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gconv-%s", op.name) }
func (op *groupConvOp) Hashcode() uint32      { return hashOf(op) }
func (op *groupConvOp) String() string        { return "gconv(" + op.name + ")" }

// Conv directions: the output, or the gradient of the input or weights.
const (
	forward = iota
	gradInput
	gradWeight
)

// run is the loop nest of all three directions: y += w·x, dx += w·dy or
// dw += x·dy over every (sample, output channel, tap, output pixel).
func (op *groupConvOp) run(dir int, x, w, y []float32, xs tensor.Shape) {
	c := op.c
	n, opg := xs[0], op.out[1]/c.Groups
	// Groups run in parallel: each writes only its own outputs, input
	// channels and weights.
	parallel(c.Groups, func(g0, g1 int) {
		for b := range n {
			for oc := g0 * opg; oc < g1*opg; oc++ {
				op.channel(dir, x, w, y, xs, b, oc)
			}
		}
	})
}

// channel runs one (sample, output channel) of run.
func (op *groupConvOp) channel(dir int, x, w, y []float32, xs tensor.Shape, b, oc int) {
	c := op.c
	cin, h, wd := xs[1], xs[2], xs[3]
	o, ho, wo := op.out[1], op.out[2], op.out[3]
	cpg, k := cin/c.Groups, c.Kernel
	grp := oc / (o / c.Groups)
	yo := (b*o + oc) * ho * wo
	for ci := range cpg {
		xc := (b*cin + grp*cpg + ci) * h * wd
		for ky := range k {
			for kx := range k {
				wi := ((oc*cpg+ci)*k+ky)*k + kx
				var acc float32
				for oy := range ho {
					iy := oy*c.Stride - c.Padding + ky*c.Dilation
					if iy < 0 || iy >= h {
						continue
					}
					for ox := range wo {
						ix := ox*c.Stride - c.Padding + kx*c.Dilation
						if ix < 0 || ix >= wd {
							continue
						}
						xi, yi := xc+iy*wd+ix, yo+oy*wo+ox
						switch dir {
						case forward:
							y[yi] += w[wi] * x[xi]
						case gradInput:
							x[xi] += w[wi] * y[yi]
						default:
							acc += x[xi] * y[yi]
						}
					}
				}
				if dir == gradWeight {
					w[wi] += acc
				}
			}
		}
	}
}

func (op *groupConvOp) Do(vs ...G.Value) (G.Value, error) {
	x, xs, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	w, _, err := float32s(vs[1])
	if err != nil {
		return nil, err
	}
	y := make([]float32, op.out.TotalSize())
	op.run(forward, x, w, y, xs)
	return dense(y, op.out), nil
}

func (op *groupConvOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *groupConvOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return convSymDiff(op, inputs, grad)
}

func (op *groupConvOp) grad(dir int, x, w, dy, d []float32, xs tensor.Shape) {
	if dir == gradInput {
		op.run(gradInput, d, w, dy, xs)
	} else {
		op.run(gradWeight, x, d, dy, xs)
	}
}

// actOp is an elementwise activation with PyTorch's definition and
// gradient (at the kinks, PyTorch's choice of side).
type actOp struct {
	opBase
	kind model.Op
	dims int
}

func (op *actOp) Arity() int            { return 1 }
func (op *actOp) Type() hm.Type         { return tensorFn(op.dims, 1) }
func (op *actOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "act-%s-%s", op.kind, op.name) }
func (op *actOp) Hashcode() uint32      { return hashOf(op) }
func (op *actOp) String() string        { return string(op.kind) + "(" + op.name + ")" }
func (op *actOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[0].(tensor.Shape).Clone(), nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// f is the activation and df its derivative.
func (op *actOp) f(x float64) float64 {
	switch op.kind {
	case model.OpHardswish:
		return x * min(max(x+3, 0), 6) / 6
	case model.OpHardsigmoid:
		return min(max(x+3, 0), 6) / 6
	case model.OpSiLU:
		return x * sigmoid(x)
	case model.OpSigmoid:
		return sigmoid(x)
	case model.OpReLU6:
		return min(max(x, 0), 6)
	}
	return math.NaN()
}

func (op *actOp) df(x float64) float64 {
	switch op.kind {
	case model.OpHardswish:
		switch {
		case x < -3:
			return 0
		case x <= 3:
			return x/3 + 0.5
		}
		return 1
	case model.OpHardsigmoid:
		if x > -3 && x < 3 {
			return 1.0 / 6
		}
		return 0
	case model.OpSiLU:
		s := sigmoid(x)
		return s * (1 + x*(1-s))
	case model.OpSigmoid:
		s := sigmoid(x)
		return s * (1 - s)
	case model.OpReLU6:
		if x > 0 && x < 6 {
			return 1
		}
		return 0
	}
	return math.NaN()
}

func (op *actOp) Do(vs ...G.Value) (G.Value, error) {
	x, s, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	y := make([]float32, len(x))
	parallel(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = float32(op.f(float64(x[i])))
		}
	})
	return dense(y, s), nil
}

func (op *actOp) DiffWRT(int) []bool { return []bool{true} }

func (op *actOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&actDiffOp{fwd: op}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// actDiffOp is dy·f'(x) for an actOp, from (x, dy).
type actDiffOp struct {
	opBase
	fwd *actOp
}

func (op *actDiffOp) Arity() int    { return 2 }
func (op *actDiffOp) Type() hm.Type { return tensorFn(op.fwd.dims, 2) }
func (op *actDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "actdiff-%s-%s", op.fwd.kind, op.fwd.name)
}
func (op *actDiffOp) Hashcode() uint32 { return hashOf(op) }
func (op *actDiffOp) String() string   { return "d" + op.fwd.String() }
func (op *actDiffOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[0].(tensor.Shape).Clone(), nil
}

func (op *actDiffOp) Do(vs ...G.Value) (G.Value, error) {
	x, s, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	dy, _, err := float32s(vs[1])
	if err != nil {
		return nil, err
	}
	dx := make([]float32, len(x))
	parallel(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dx[i] = float32(float64(dy[i]) * op.fwd.df(float64(x[i])))
		}
	})
	return dense(dx, s), nil
}

// poolOp is the global average pool (N, C, H, W) → (N, C, 1, 1); gorgonia's
// Sum and Mean over two axes index out of range, and its
// GlobalAveragePool2D has no gradient.
type poolOp struct {
	opBase
	in tensor.Shape
}

func (op *poolOp) Arity() int            { return 1 }
func (op *poolOp) Type() hm.Type         { return tensorFn(4, 1) }
func (op *poolOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gap-%s", op.name) }
func (op *poolOp) Hashcode() uint32      { return hashOf(op) }
func (op *poolOp) String() string        { return "gap(" + op.name + ")" }
func (op *poolOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.in[0], op.in[1], 1, 1}, nil
}

func (op *poolOp) Do(vs ...G.Value) (G.Value, error) {
	x, s, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	hw := s[2] * s[3]
	y := make([]float32, s[0]*s[1])
	for i := range y {
		var sum float64
		for _, v := range x[i*hw : (i+1)*hw] {
			sum += float64(v)
		}
		y[i] = float32(sum / float64(hw))
	}
	return dense(y, tensor.Shape{s[0], s[1], 1, 1}), nil
}

func (op *poolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *poolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&poolDiffOp{fwd: op}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// poolDiffOp spreads dy evenly over each channel's pixels.
type poolDiffOp struct {
	opBase
	fwd *poolOp
}

func (op *poolDiffOp) Arity() int            { return 1 }
func (op *poolDiffOp) Type() hm.Type         { return tensorFn(4, 1) }
func (op *poolDiffOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gapdiff-%s", op.fwd.name) }
func (op *poolDiffOp) Hashcode() uint32      { return hashOf(op) }
func (op *poolDiffOp) String() string        { return "d" + op.fwd.String() }
func (op *poolDiffOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.in.Clone(), nil
}

func (op *poolDiffOp) Do(vs ...G.Value) (G.Value, error) {
	dy, _, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	s := op.fwd.in
	hw := s[2] * s[3]
	dx := make([]float32, s.TotalSize())
	for i, g := range dy {
		v := g / float32(hw)
		for j := range hw {
			dx[i*hw+j] = v
		}
	}
	return dense(dx, s), nil
}
