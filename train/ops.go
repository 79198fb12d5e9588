package train

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/engine"
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
	gradBias
)

// run is the loop nest of all three directions: y += w·x, dx += w·dy or
// dw += x·dy over every (sample, output channel, tap, output pixel).
func (op *groupConvOp) run(dir int, x, w, y []float32, xs tensor.Shape) {
	c := op.c
	n, opg := xs[0], op.out[1]/c.Groups
	// The valid output range of each tap row and column, once per call.
	rows, cols := make([][2]int, c.Kernel), make([][2]int, c.Kernel)
	for k := range c.Kernel {
		rows[k][0], rows[k][1] = validRange(k*c.Dilation-c.Padding, c.Stride, xs[2], op.out[2])
		cols[k][0], cols[k][1] = validRange(k*c.Dilation-c.Padding, c.Stride, xs[3], op.out[3])
	}
	// Groups run in parallel: each writes only its own outputs, input
	// channels and weights.
	parallel(c.Groups, func(g0, g1 int) {
		for b := range n {
			for oc := g0 * opg; oc < g1*opg; oc++ {
				op.channel(dir, x, w, y, xs, b, oc, rows, cols)
			}
		}
	})
}

// channel runs one (sample, output channel) of run. For each tap the
// output pixels whose input falls inside the image are a rectangle, found
// up front, so the inner loops have no bounds tests.
func (op *groupConvOp) channel(dir int, x, w, y []float32, xs tensor.Shape, b, oc int, rows, cols [][2]int) {
	c := op.c
	cin, h, wd := xs[1], xs[2], xs[3]
	o, ho, wo := op.out[1], op.out[2], op.out[3]
	cpg, k, st := cin/c.Groups, c.Kernel, c.Stride
	grp := oc / (o / c.Groups)
	yc := y[(b*o+oc)*ho*wo:][:ho*wo]
	for ci := range cpg {
		xc := x[(b*cin+grp*cpg+ci)*h*wd:][:h*wd]
		for ky := range k {
			oy0, oy1 := rows[ky][0], rows[ky][1]
			for kx := range k {
				offX := kx*c.Dilation - c.Padding
				ox0, ox1 := cols[kx][0], cols[kx][1]
				if ox0 >= ox1 {
					continue
				}
				wi := ((oc*cpg+ci)*k+ky)*k + kx
				wv := w[wi]
				var acc float32
				for oy := oy0; oy < oy1; oy++ {
					iy := oy*st + ky*c.Dilation - c.Padding
					yr := yc[oy*wo+ox0 : oy*wo+ox1]
					xr := xc[iy*wd:][:wd]
					ix0 := ox0*st + offX
					if st == 1 {
						xr = xr[ix0 : ix0+len(yr)]
						switch dir {
						case forward:
							for i, v := range xr {
								yr[i] += wv * v
							}
						case gradInput:
							for i, v := range yr {
								xr[i] += wv * v
							}
						default:
							for i, v := range xr {
								acc += v * yr[i]
							}
						}
						continue
					}
					for i := range yr {
						xi := ix0 + i*st
						switch dir {
						case forward:
							yr[i] += wv * xr[xi]
						case gradInput:
							xr[xi] += wv * yr[i]
						default:
							acc += xr[xi] * yr[i]
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

// validRange is the range [o0, o1) of outputs o < n whose input o·stride +
// off lies in [0, size).
func validRange(off, stride, size, n int) (o0, o1 int) {
	o0 = 0
	if off < 0 {
		o0 = (-off + stride - 1) / stride
	}
	o1 = n
	if last := size - 1 - off; last < 0 {
		o1 = 0
	} else {
		o1 = min(n, last/stride+1)
	}
	return min(o0, o1), o1
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

func (op *actOp) Do(vs ...G.Value) (G.Value, error) {
	x, s, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	if !engine.Activate(op.kind, nil, nil) {
		return nil, fmt.Errorf("%s: no kernel for %s", op, op.kind)
	}
	y := make([]float32, len(x))
	parallel(len(x)/minSplit+1, func(lo, hi int) {
		lo, hi = min(lo*minSplit, len(x)), min(hi*minSplit, len(x))
		engine.Activate(op.kind, y[lo:hi], x[lo:hi])
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

// actDiffOp is dy·f'(x) for an actOp, from (x, dy), with PyTorch's side at
// the kinks.
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
	parallel(len(x)/minSplit+1, func(lo, hi int) {
		lo, hi = min(lo*minSplit, len(x)), min(hi*minSplit, len(x))
		actGrad(op.fwd.kind, dx[lo:hi], x[lo:hi], dy[lo:hi])
	})
	return dense(dx, s), nil
}

// actGrad sets dx = dy·f'(x) for activation kind.
func actGrad(kind model.Op, dx, x, dy []float32) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	switch kind {
	case model.OpReLU:
		for i, v := range x {
			// A conditional move, not a branch on the sign.
			d := dy[i]
			if v <= 0 {
				d = 0
			}
			dx[i] = d
		}
	case model.OpReLU6:
		for i, v := range x {
			if v > 0 && v < 6 {
				dx[i] = dy[i]
			}
		}
	case model.OpHardswish:
		for i, v := range x {
			switch {
			case v < -3:
			case v <= 3:
				dx[i] = dy[i] * (v/3 + 0.5)
			default:
				dx[i] = dy[i]
			}
		}
	case model.OpHardsigmoid:
		for i, v := range x {
			if v > -3 && v < 3 {
				dx[i] = dy[i] / 6
			}
		}
	case model.OpSiLU, model.OpSigmoid:
		// dx first holds σ(x), from the engine's kernel.
		engine.Activate(model.OpSigmoid, dx, x)
		for i, v := range x {
			sg := dx[i]
			if kind == model.OpSiLU {
				dx[i] = dy[i] * sg * (1 + v*(1-sg))
			} else {
				dx[i] = dy[i] * sg * (1 - sg)
			}
		}
	}
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
