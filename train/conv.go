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
	bias    bool // a third input, (O), added per output channel
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

// wholeSample is the output size (pixels per channel) from which a chunk
// is one sample.
const wholeSample = 1024

func (op *convOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}

func (op *convOp) Type() hm.Type {
	if !op.bias {
		return tensorFn(4, 2)
	}
	t4 := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	t1 := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t4, t4, t1, t4)
}
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
	if hw >= wholeSample {
		// One sample makes GEMMs large enough, and its O × hw result is
		// already the sample's NCHW block: no copies in or out.
		chunk = 1
	}
	return ckk, hw, min(chunk, op.in[0])
}

// im2col writes the patches of samples [s0, s1) of x as a (C·K·K) × m
// matrix, m = (s1 − s0)·Ho·Wo, zero where a tap falls in the padding.
func (op *convOp) im2col(x, col []float32, s0, s1 int) {
	op.patches(x, col, s0, s1, false)
}

// col2im adds the (C·K·K) × m patch gradients of samples [s0, s1) into dx.
func (op *convOp) col2im(col, dx []float32, s0, s1 int) {
	op.patches(dx, col, s0, s1, true)
}

// patches is im2col (add false: col ← patches of x) and col2im (add true:
// x += the patches in col). For each tap the output columns whose input
// falls inside the image are a range found up front, so the inner loops
// are copies (stride 1) or gathers without bounds tests. Channels run in
// parallel: each touches only its own rows of col and its own channel of x.
func (op *convOp) patches(x, col []float32, s0, s1 int, add bool) {
	c := op.c
	ch, h, w := op.in[1], op.in[2], op.in[3]
	ho, wo := op.out[2], op.out[3]
	m := (s1 - s0) * ho * wo
	parallel(ch, func(c0, c1 int) {
		for ci := c0; ci < c1; ci++ {
			for ky := range c.Kernel {
				offY := ky*c.Dilation - c.Padding
				oy0, oy1 := validRange(offY, c.Stride, h, ho)
				for kx := range c.Kernel {
					offX := kx*c.Dilation - c.Padding
					ox0, ox1 := validRange(offX, c.Stride, w, wo)
					row := col[((ci*c.Kernel+ky)*c.Kernel+kx)*m:][:m]
					for s := s0; s < s1; s++ {
						xc := x[(s*ch+ci)*h*w:][:h*w]
						r := row[(s-s0)*ho*wo:][:ho*wo]
						if !add {
							clear(r[:oy0*wo])
							clear(r[oy1*wo:])
						}
						for oy := oy0; oy < oy1; oy++ {
							cr := r[oy*wo:][:wo]
							xr := xc[(oy*c.Stride+offY)*w:][:w]
							switch {
							case add && c.Stride == 1:
								d := xr[ox0+offX:][:ox1-ox0]
								for i, v := range cr[ox0:ox1] {
									d[i] += v
								}
							case add:
								for ox := ox0; ox < ox1; ox++ {
									xr[ox*c.Stride+offX] += cr[ox]
								}
							case c.Stride == 1:
								clear(cr[:ox0])
								clear(cr[ox1:])
								copy(cr[ox0:ox1], xr[ox0+offX:])
							default:
								clear(cr[:ox0])
								clear(cr[ox1:])
								for ox := ox0; ox < ox1; ox++ {
									cr[ox] = xr[ox*c.Stride+offX]
								}
							}
						}
					}
				}
			}
		}
	})
}

// toNCHW copies an O × m GEMM result (m = samples·hw) into NCHW samples
// [s0, s1) of y, adding bias[oc] when there is a bias; fromNCHW is the
// inverse (without bias).
func toNCHW(tmp, y, bias []float32, o, hw, s0, s1 int) {
	m := (s1 - s0) * hw
	parallel(o, func(o0, o1 int) {
		for oc := o0; oc < o1; oc++ {
			for s := s0; s < s1; s++ {
				dst := y[(s*o+oc)*hw:][:hw]
				copy(dst, tmp[oc*m+(s-s0)*hw:][:hw])
				if bias != nil {
					b := bias[oc]
					for i := range dst {
						dst[i] += b
					}
				}
			}
		}
	})
}

// addBias adds bias[c] to row c (hw values) of y, if there is a bias.
func addBias(y, bias []float32, hw int) {
	if bias == nil {
		return
	}
	parallel(len(bias), func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			b := bias[c]
			row := y[c*hw:][:hw]
			for i := range row {
				row[i] += b
			}
		}
	})
}

func fromNCHW(y, tmp []float32, o, hw, s0, s1 int) {
	m := (s1 - s0) * hw
	parallel(o, func(o0, o1 int) {
		for oc := o0; oc < o1; oc++ {
			for s := s0; s < s1; s++ {
				copy(tmp[oc*m+(s-s0)*hw:][:hw], y[(s*o+oc)*hw:][:hw])
			}
		}
	})
}

func (op *convOp) Do(vs ...G.Value) (G.Value, error) {
	in, _, err := inputs(vs)
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	var bias []float32
	if op.bias {
		bias = in[2]
	}
	ckk, hw, chunk := op.dims()
	o, n := op.out[1], op.in[0]
	y := make([]float32, op.out.TotalSize())
	for s0 := 0; s0 < n; s0 += chunk {
		s1 := min(n, s0+chunk)
		m := (s1 - s0) * hw
		col := grow(&op.scratch.col, ckk*m)
		op.im2col(x, col, s0, s1)
		if s1-s0 == 1 {
			ys := y[s0*o*hw:][:o*hw]
			sgemm(blas.NoTrans, blas.NoTrans, o, m, ckk, 1, w, ckk, col, m, 0, ys, m)
			addBias(ys, bias, hw)
			continue
		}
		tmp := grow(&op.scratch.tmp, o*m)
		sgemm(blas.NoTrans, blas.NoTrans, o, m, ckk, 1, w, ckk, col, m, 0, tmp, m)
		toNCHW(tmp, y, bias, o, hw, s0, s1)
	}
	return dense(y, op.out), nil
}

func (op *convOp) DiffWRT(int) []bool {
	if op.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}

func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return convSymDiff(op, inputs, grad)
}

// grad writes the gradient of the input (col2im of wᵀ·dy) or of the
// weights (dy·colᵀ) into d.
func (op *convOp) grad(dir int, x, w, dy, d []float32, _ tensor.Shape) {
	ckk, hw, chunk := op.dims()
	o, n := op.out[1], op.in[0]
	for s0 := 0; s0 < n; s0 += chunk {
		s1 := min(n, s0+chunk)
		m := (s1 - s0) * hw
		col := grow(&op.scratch.col, ckk*m)
		var tmp []float32
		if s1-s0 == 1 {
			tmp = dy[s0*o*hw:][:o*hw]
		} else {
			tmp = grow(&op.scratch.tmp, o*m)
			fromNCHW(dy, tmp, o, hw, s0, s1)
		}
		if dir == gradWeight {
			op.im2col(x, col, s0, s1)
			sgemm(blas.NoTrans, blas.Trans, o, ckk, m, 1, tmp, m, col, m, 1, d, ckk)
			continue
		}
		sgemm(blas.Trans, blas.NoTrans, ckk, m, o, 1, w, ckk, tmp, m, 0, col, m)
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
	dirs := []int{gradInput, gradWeight}
	if len(inputs) == 3 {
		dirs = append(dirs, gradBias)
	}
	for _, dir := range dirs {
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

func (op *convGradOp) Arity() int { return 3 }
func (op *convGradOp) Type() hm.Type {
	if op.dir != gradBias {
		return tensorFn(4, 3)
	}
	t4 := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	t1 := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t4, t4, t4, t1)
}
func (op *convGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "convgrad-%s-%d", op.fwd, op.dir) }
func (op *convGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *convGradOp) String() string        { return fmt.Sprintf("convgrad%d(%s)", op.dir, op.fwd) }
func (op *convGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *convGradOp) Do(vs ...G.Value) (G.Value, error) {
	in, shapes, err := inputs(vs)
	if err != nil {
		return nil, err
	}
	xs := shapes[0]
	d := make([]float32, op.shape.TotalSize())
	if op.dir == gradBias {
		biasGrad(in[2], d, xs[0])
		return dense(d, op.shape), nil
	}
	op.fwd.grad(op.dir, in[0], in[1], in[2], d, xs)
	return dense(d, op.shape), nil
}

// biasGrad sets d[c] to the sum of dy's channel c over the n samples and
// every pixel.
func biasGrad(dy, d []float32, n int) {
	c := len(d)
	hw := len(dy) / (n * c)
	parallel(c, func(c0, c1 int) {
		for ch := c0; ch < c1; ch++ {
			var sum float64
			for b := range n {
				for _, v := range dy[(b*c+ch)*hw:][:hw] {
					sum += float64(v)
				}
			}
			d[ch] = float32(sum)
		}
	})
}
