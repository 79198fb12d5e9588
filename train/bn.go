package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bnStats are the running statistics of one BatchNorm2d, shared by the
// training and the eval graph.
type bnStats struct {
	mean, variance []float32
}

// bnOp is BatchNorm2d of an NCHW tensor x with weight w and bias b (each
// [C]): y = x̂·w + b, x̂ = (x − μ)/√(σ² + ε) per channel. In training mode
// μ and σ² are the batch's (σ² biased) and the running statistics move by
// momentum 0.1 with the unbiased variance, as in PyTorch; in eval mode the
// running statistics normalize. One op (not a normalization followed by
// gorgonia's broadcast multiply and add) so the whole layer is one
// parallel pass forward and one backward.
//
// gorgonia's own BatchNormOp cannot be used: when the tape machine reruns
// it into its previous output buffer it normalizes that buffer, not the
// input, so every step after the first is wrong.
type bnOp struct {
	opBase
	eps      float64
	training bool
	stats    *bnStats
	relu     bool // a ReLU follows, applied here (see fusedReLUs)
	// Saved by the last training forward for the backward pass.
	invStd []float64 // per channel
	xhat   []float32
	// Set by bnDiffOp for the bnParamOps after it.
	dw, db []float32
}

func (op *bnOp) Arity() int { return 3 }

func (op *bnOp) Type() hm.Type {
	t4 := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	t1 := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t4, t1, t1, t4)
}

func (op *bnOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[0].(tensor.Shape).Clone(), nil
}

func (op *bnOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "bn-%s-%t-%t", op.name, op.training, op.relu)
}
func (op *bnOp) Hashcode() uint32 { return hashOf(op) }
func (op *bnOp) String() string   { return "bn(" + op.name + ")" }

func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// inputs returns the contiguous data and shape of each of an op's values.
func inputs(vs []G.Value) ([][]float32, []tensor.Shape, error) {
	data, shapes := make([][]float32, len(vs)), make([]tensor.Shape, len(vs))
	for i, v := range vs {
		var err error
		if data[i], shapes[i], err = float32s(v); err != nil {
			return nil, nil, err
		}
	}
	return data, shapes, nil
}

// float32s returns the contiguous data of a value.
func float32s(v G.Value) ([]float32, tensor.Shape, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("expected a dense tensor, got %T", v)
	}
	if t.IsMaterializable() {
		m := t.Materialize()
		if t, ok = m.(*tensor.Dense); !ok {
			return nil, nil, fmt.Errorf("materialized %T", m)
		}
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, nil, fmt.Errorf("expected float32 data, got %T", t.Data())
	}
	return d, t.Shape(), nil
}

func (op *bnOp) Do(vs ...G.Value) (G.Value, error) {
	in, shapes, err := inputs(vs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	s := shapes[0]
	x, w, b := in[0], in[1], in[2]
	n, c, hw := s[0], s[1], s[2]*s[3]
	out := make([]float32, len(x))
	if len(op.invStd) != c {
		op.invStd = make([]float64, c)
	}
	if op.training {
		op.xhat = grow(&op.xhat, len(x))
	}
	count := float64(n * hw)
	// Channels run in parallel: each writes only its own outputs and
	// statistics.
	parallel(c, func(c0, c1 int) {
		for ch := c0; ch < c1; ch++ {
			var mean, invStd float64
			if op.training {
				var sum float64
				for b := range n {
					for _, v := range x[(b*c+ch)*hw : (b*c+ch+1)*hw] {
						sum += float64(v)
					}
				}
				mean = sum / count
				var ss float64
				for b := range n {
					for _, v := range x[(b*c+ch)*hw : (b*c+ch+1)*hw] {
						d := float64(v) - mean
						ss += d * d
					}
				}
				variance := ss / count
				invStd = 1 / math.Sqrt(variance+op.eps)
				op.invStd[ch] = invStd
				unbiased := variance
				if count > 1 {
					unbiased = ss / (count - 1)
				}
				op.stats.mean[ch] = float32(0.9*float64(op.stats.mean[ch]) + 0.1*mean)
				op.stats.variance[ch] = float32(0.9*float64(op.stats.variance[ch]) + 0.1*unbiased)
			} else {
				mean = float64(op.stats.mean[ch])
				invStd = 1 / math.Sqrt(float64(op.stats.variance[ch])+op.eps)
			}
			// The elementwise part in float32, as PyTorch computes it.
			wc, bc, m32, inv32 := w[ch], b[ch], float32(mean), float32(invStd)
			for bi := range n {
				o := (bi*c + ch) * hw
				xr, yr := x[o:o+hw], out[o:o+hw]
				if op.training {
					xhr := op.xhat[o : o+hw]
					for i, v := range xr {
						xh := (v - m32) * inv32
						xhr[i] = xh
						yr[i] = xh*wc + bc
					}
				} else {
					for i, v := range xr {
						yr[i] = (v-m32)*inv32*wc + bc
					}
				}
				if op.relu {
					for i, v := range yr {
						yr[i] = max(v, 0)
					}
				}
			}
		}
	})
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(out)), nil
}

func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.training {
		return nil, fmt.Errorf("%s: no gradient in eval mode", op)
	}
	dx, err := G.ApplyOp(&bnDiffOp{fwd: op}, inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	// The parameter gradients read what bnDiffOp computed: they take dx
	// as input only to run after it.
	dw, err := G.ApplyOp(&bnParamOp{fwd: op}, dx)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&bnParamOp{fwd: op, bias: true}, dx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// bnDiffOp is the input gradient of bnOp in training mode, from w, b and
// the output's gradient g (zeroed where a fused ReLU cut x̂·w + b to 0):
// per channel, with db = Σg and dw = Σg·x̂ (which it keeps for the
// bnParamOps), dx = w·(g − db/n − x̂·dw/n)/√(σ² + ε).
type bnDiffOp struct {
	opBase
	fwd *bnOp
}

func (op *bnDiffOp) Arity() int { return 3 }

func (op *bnDiffOp) Type() hm.Type {
	t4 := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	t1 := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t1, t1, t4, t4)
}

func (op *bnDiffOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[2].(tensor.Shape).Clone(), nil
}

func (op *bnDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "bndiff-%s", op.fwd.name)
}
func (op *bnDiffOp) Hashcode() uint32 { return hashOf(op) }
func (op *bnDiffOp) String() string   { return "bndiff(" + op.fwd.name + ")" }

func (op *bnDiffOp) Do(vs ...G.Value) (G.Value, error) {
	in, shapes, err := inputs(vs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	w, bias, g, s := in[0], in[1], in[2], shapes[2]
	xh := op.fwd.xhat
	n, c, hw := s[0], s[1], s[2]*s[3]
	count := float64(n * hw)
	dx := make([]float32, len(g))
	if op.fwd.relu {
		// dx first holds the ReLU's gradient: g where x̂·w + b > 0.
		parallel(c, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				wc, bc := w[ch], bias[ch]
				for b := range n {
					o := (b*c + ch) * hw
					gr, xr, dr := g[o:o+hw], xh[o:o+hw], dx[o:o+hw]
					for i, v := range gr {
						if xr[i]*wc+bc <= 0 {
							v = 0
						}
						dr[i] = v
					}
				}
			}
		})
		g = dx
	}
	dw, db := make([]float32, c), make([]float32, c)
	parallel(c, func(c0, c1 int) {
		for ch := c0; ch < c1; ch++ {
			var sg, sgx float64
			for b := range n {
				o := (b*c + ch) * hw
				for i := o; i < o+hw; i++ {
					sg += float64(g[i])
					sgx += float64(g[i]) * float64(xh[i])
				}
			}
			dw[ch], db[ch] = float32(sgx), float32(sg)
			mg, mgx, k := float32(sg/count), float32(sgx/count), float32(float64(w[ch])*op.fwd.invStd[ch])
			for b := range n {
				o := (b*c + ch) * hw
				gr, xr, dr := g[o:o+hw], xh[o:o+hw], dx[o:o+hw]
				for i, v := range gr {
					dr[i] = (v - mg - xr[i]*mgx) * k
				}
			}
		}
	})
	op.fwd.dw, op.fwd.db = dw, db
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(dx)), nil
}

// bnParamOp hands on the weight (or bias) gradient bnDiffOp computed; its
// input, bnDiffOp's output, only orders it after that op.
type bnParamOp struct {
	opBase
	fwd  *bnOp
	bias bool
}

func (op *bnParamOp) Arity() int { return 1 }

func (op *bnParamOp) Type() hm.Type {
	t4 := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	t1 := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t4, t1)
}

func (op *bnParamOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{ns[0].(tensor.Shape)[1]}, nil
}

func (op *bnParamOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "bnparam-%s-%t", op.fwd.name, op.bias)
}
func (op *bnParamOp) Hashcode() uint32 { return hashOf(op) }
func (op *bnParamOp) String() string {
	return fmt.Sprintf("bnparam(%s, bias %t)", op.fwd.name, op.bias)
}

func (op *bnParamOp) Do(...G.Value) (G.Value, error) {
	d := op.fwd.dw
	if op.bias {
		d = op.fwd.db
	}
	return tensor.New(tensor.WithShape(len(d)), tensor.WithBacking(append([]float32(nil), d...))), nil
}
