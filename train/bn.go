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

// normOp is the normalizing half of BatchNorm2d, x̂ = (x − μ)/√(σ² + ε)
// per channel of an NCHW tensor; the weight and bias are ordinary
// broadcast ops after it. In training mode μ and σ² are the batch's (σ²
// biased) and the running statistics move by momentum 0.1 with the unbiased
// variance, as in PyTorch; in eval mode the running statistics normalize.
//
// gorgonia's own BatchNormOp cannot be used: when the tape machine reruns
// it into its previous output buffer it normalizes that buffer, not the
// input, so every step after the first is wrong.
type normOp struct {
	opBase
	eps      float64
	training bool
	stats    *bnStats
	invStd   []float64 // per channel, saved by the last training forward
}

func (op *normOp) Arity() int { return 1 }

func (op *normOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}

func (op *normOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[0].(tensor.Shape).Clone(), nil
}

func (op *normOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "norm-%s-%t", op.name, op.training)
}
func (op *normOp) Hashcode() uint32 { return hashOf(op) }
func (op *normOp) String() string   { return "norm(" + op.name + ")" }

func hashOf(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
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

func (op *normOp) Do(vs ...G.Value) (G.Value, error) {
	x, s, err := float32s(vs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n, c, hw := s[0], s[1], s[2]*s[3]
	out := make([]float32, len(x))
	if len(op.invStd) != c {
		op.invStd = make([]float64, c)
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
			for b := range n {
				o := (b*c + ch) * hw
				for i, v := range x[o : o+hw] {
					out[o+i] = float32((float64(v) - mean) * invStd)
				}
			}
		}
	})
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(out)), nil
}

func (op *normOp) DiffWRT(int) []bool { return []bool{true} }

func (op *normOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if !op.training {
		return nil, fmt.Errorf("%s: no gradient in eval mode", op)
	}
	dx, err := G.ApplyOp(&normDiffOp{fwd: op}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// normDiffOp is the gradient of normOp in training mode, from its output x̂
// and the output's gradient g: per channel,
// dx = (g − mean(g) − x̂·mean(g·x̂)) / √(σ² + ε).
type normDiffOp struct {
	opBase
	fwd *normOp
}

func (op *normDiffOp) Arity() int { return 2 }

func (op *normDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}

func (op *normDiffOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[0].(tensor.Shape).Clone(), nil
}

func (op *normDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "normdiff-%s", op.fwd.name)
}
func (op *normDiffOp) Hashcode() uint32 { return hashOf(op) }
func (op *normDiffOp) String() string   { return "normdiff(" + op.fwd.name + ")" }

func (op *normDiffOp) Do(vs ...G.Value) (G.Value, error) {
	xh, s, err := float32s(vs[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	g, _, err := float32s(vs[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n, c, hw := s[0], s[1], s[2]*s[3]
	count := float64(n * hw)
	dx := make([]float32, len(xh))
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
			mg, mgx, inv := sg/count, sgx/count, op.fwd.invStd[ch]
			for b := range n {
				o := (b*c + ch) * hw
				for i := o; i < o+hw; i++ {
					dx[i] = float32((float64(g[i]) - mg - float64(xh[i])*mgx) * inv)
				}
			}
		}
	})
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(dx)), nil
}
