package train

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/model"
)

// convOp is a dense convolution of x (N, C, H, W) with w (O, C, K, K) as
// im2col + one GEMM per chunk of samples, written straight in NCHW.
// gorgonia's Conv2d multiplies in NHWC and transposes every output (and
// every gradient) back through a generic iterator, which cost more than
// the GEMMs.
type convOp struct {
	opBase
	c       model.Conv
	in, out tensor.Shape
	scratch *convScratch
}

// convScratch is the im2col and GEMM-output memory all convolutions of one
// graph share: the tape machine runs one op at a time.
type convScratch struct{ col, tmp []float32 }

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// chunkElems bounds a chunk's im2col matrix (32 MB of float32).
const chunkElems = 1 << 23

func (op *convOp) Arity() int    { return 2 }
func (op *convOp) Type() hm.Type { return tensorFn(4, 2) }
func (op *convOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.out.Clone(), nil
}
func (op *convOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "conv-%s", op.name) }
func (op *convOp) Hashcode() uint32      { return hashOf(op) }
func (op *convOp) String() string        { return "conv(" + op.name + ")" }

// dims are the GEMM sizes: rows of the patch matrix (C·K·K), pixels per
// output channel of one sample, and samples per chunk.
func (op *convOp) dims() (ckk, hw, chunk int) {
	c := op.c
	ckk = op.in[1] * c.Kernel * c.Kernel
	hw = op.out[2] * op.out[3]
	chunk = max(1, chunkElems/(max(ckk, op.out[1])*hw))
	return ckk, hw, min(chunk, op.in[0])
}

// im2col writes the patches of samples [s0, s1) of x as a (C·K·K) × m
// matrix, m = (s1 − s0)·Ho·Wo, zero where a tap falls in the padding.
func (op *convOp) im2col(x, col []float32, s0, s1 int) {
	c := op.c
	ch, h, w := op.in[1], op.in[2], op.in[3]
	ho, wo := op.out[2], op.out[3]
	m := (s1 - s0) * ho * wo
	for ci := range ch {
		for ky := range c.Kernel {
			for kx := range c.Kernel {
				row := col[((ci*c.Kernel+ky)*c.Kernel+kx)*m:][:m]
				for s := s0; s < s1; s++ {
					xc := x[(s*ch+ci)*h*w:][:h*w]
					r := row[(s-s0)*ho*wo:]
					for oy := range ho {
						iy := oy*c.Stride - c.Padding + ky*c.Dilation
						dst := r[oy*wo:][:wo]
						if iy < 0 || iy >= h {
							clear(dst)
							continue
						}
						src := xc[iy*w:][:w]
						for ox := range wo {
							ix := ox*c.Stride - c.Padding + kx*c.Dilation
							if ix < 0 || ix >= w {
								dst[ox] = 0
							} else {
								dst[ox] = src[ix]
							}
						}
					}
				}
			}
		}
	}
}

// col2im adds the (C·K·K) × m patch gradients of samples [s0, s1) into dx.
func (op *convOp) col2im(col, dx []float32, s0, s1 int) {
	c := op.c
	ch, h, w := op.in[1], op.in[2], op.in[3]
	ho, wo := op.out[2], op.out[3]
	m := (s1 - s0) * ho * wo
	for ci := range ch {
		for ky := range c.Kernel {
			for kx := range c.Kernel {
				row := col[((ci*c.Kernel+ky)*c.Kernel+kx)*m:][:m]
				for s := s0; s < s1; s++ {
					xc := dx[(s*ch+ci)*h*w:][:h*w]
					r := row[(s-s0)*ho*wo:]
					for oy := range ho {
						iy := oy*c.Stride - c.Padding + ky*c.Dilation
						if iy < 0 || iy >= h {
							continue
						}
						src := r[oy*wo:][:wo]
						dst := xc[iy*w:][:w]
						for ox := range wo {
							if ix := ox*c.Stride - c.Padding + kx*c.Dilation; ix >= 0 && ix < w {
								dst[ix] += src[ox]
							}
						}
					}
				}
			}
		}
	}
}

// toNCHW copies an O × m GEMM result (m = samples·hw) into NCHW samples
// [s0, s1) of y; fromNCHW is the inverse.
func toNCHW(tmp, y []float32, o, hw, s0, s1 int) {
	m := (s1 - s0) * hw
	for oc := range o {
		for s := s0; s < s1; s++ {
			copy(y[(s*o+oc)*hw:][:hw], tmp[oc*m+(s-s0)*hw:][:hw])
		}
	}
}

func fromNCHW(y, tmp []float32, o, hw, s0, s1 int) {
	m := (s1 - s0) * hw
	for oc := range o {
		for s := s0; s < s1; s++ {
			copy(tmp[oc*m+(s-s0)*hw:][:hw], y[(s*o+oc)*hw:][:hw])
		}
	}
}

func (op *convOp) Do(vs ...G.Value) (G.Value, error) {
	x, _, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	w, _, err := float32s(vs[1])
	if err != nil {
		return nil, err
	}
	ckk, hw, chunk := op.dims()
	o, n := op.out[1], op.in[0]
	y := make([]float32, op.out.TotalSize())
	bl := G.WhichBLAS()
	for s0 := 0; s0 < n; s0 += chunk {
		s1 := min(n, s0+chunk)
		m := (s1 - s0) * hw
		col, tmp := grow(&op.scratch.col, ckk*m), grow(&op.scratch.tmp, o*m)
		op.im2col(x, col, s0, s1)
		bl.Sgemm(blas.NoTrans, blas.NoTrans, o, m, ckk, 1, w, ckk, col, m, 0, tmp, m)
		toNCHW(tmp, y, o, hw, s0, s1)
	}
	return dense(y, op.out), nil
}

func (op *convOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return convSymDiff(op, inputs, grad)
}

// grad writes the gradient of the input (col2im of wᵀ·dy) or of the
// weights (dy·colᵀ) into d.
func (op *convOp) grad(dir int, x, w, dy, d []float32, _ tensor.Shape) {
	ckk, hw, chunk := op.dims()
	o, n := op.out[1], op.in[0]
	bl := G.WhichBLAS()
	for s0 := 0; s0 < n; s0 += chunk {
		s1 := min(n, s0+chunk)
		m := (s1 - s0) * hw
		col, tmp := grow(&op.scratch.col, ckk*m), grow(&op.scratch.tmp, o*m)
		fromNCHW(dy, tmp, o, hw, s0, s1)
		if dir == gradWeight {
			op.im2col(x, col, s0, s1)
			bl.Sgemm(blas.NoTrans, blas.Trans, o, ckk, m, 1, tmp, m, col, m, 1, d, ckk)
			continue
		}
		bl.Sgemm(blas.Trans, blas.NoTrans, ckk, m, o, 1, w, ckk, tmp, m, 0, col, m)
		op.col2im(col, d, s0, s1)
	}
}

// convKernel is a convolution op that computes its own gradients.
type convKernel interface {
	G.Op
	grad(dir int, x, w, dy, d []float32, xs tensor.Shape)
}

// convSymDiff returns the gradients of a convolution's input and weights.
func convSymDiff(fwd convKernel, inputs G.Nodes, grad *G.Node) (G.Nodes, error) {
	var out G.Nodes
	for _, dir := range []int{gradInput, gradWeight} {
		d, err := G.ApplyOp(&convGradOp{fwd: fwd, dir: dir, shape: inputs[dir-1].Shape().Clone()}, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// convGradOp is the gradient of a convolution with respect to its input
// or its weights, from (x, w, dy).
type convGradOp struct {
	opBase
	fwd   convKernel
	dir   int
	shape tensor.Shape
}

func (op *convGradOp) Arity() int            { return 3 }
func (op *convGradOp) Type() hm.Type         { return tensorFn(4, 3) }
func (op *convGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "convgrad-%s-%d", op.fwd, op.dir) }
func (op *convGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *convGradOp) String() string        { return fmt.Sprintf("convgrad%d(%s)", op.dir, op.fwd) }
func (op *convGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *convGradOp) Do(vs ...G.Value) (G.Value, error) {
	var in [3][]float32
	var xs tensor.Shape
	for i := range in {
		var s tensor.Shape
		var err error
		if in[i], s, err = float32s(vs[i]); err != nil {
			return nil, err
		}
		if i == 0 {
			xs = s
		}
	}
	d := make([]float32, op.shape.TotalSize())
	op.fwd.grad(op.dir, in[0], in[1], in[2], d, xs)
	return dense(d, op.shape), nil
}
