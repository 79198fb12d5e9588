package train

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// scaleOp is the squeeze-excitation product y = x·s of x (N, C, H, W) and
// s (N, C, 1, 1), each plane of x times its scale, in one parallel pass
// (gorgonia's broadcast product repeats s to x's size first, and its
// gradient sums through generic reductions). gradScale selects the
// gradients: 0 the forward, 1 dy·s (the input's), 2 Σ dy·x per plane (the
// scale's).
type scaleOp struct {
	opBase
	dir int
}

func (op *scaleOp) Arity() int    { return 2 }
func (op *scaleOp) Type() hm.Type { return tensorFn(4, 2) }
func (op *scaleOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	s := ns[0].(tensor.Shape)
	if op.dir == 2 {
		return tensor.Shape{s[0], s[1], 1, 1}, nil
	}
	return s.Clone(), nil
}
func (op *scaleOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "scale-%s-%d", op.name, op.dir) }
func (op *scaleOp) Hashcode() uint32      { return hashOf(op) }
func (op *scaleOp) String() string        { return fmt.Sprintf("scale%d(%s)", op.dir, op.name) }

// Do takes (x, s) forward and for the input's gradient (then x is dy), and
// (x, dy) for the scale's.
func (op *scaleOp) Do(vs ...G.Value) (G.Value, error) {
	in, shapes, err := inputs(vs)
	if err != nil {
		return nil, err
	}
	a, b, as := in[0], in[1], shapes[0]
	planes := as[0] * as[1]
	hw := len(a) / planes
	if op.dir == 2 {
		d := make([]float32, planes)
		parallel(planes, func(p0, p1 int) {
			for p := p0; p < p1; p++ {
				var sum float32
				xr, dr := a[p*hw:][:hw], b[p*hw:][:hw]
				for i, v := range xr {
					sum += v * dr[i]
				}
				d[p] = sum
			}
		})
		return dense(d, tensor.Shape{as[0], as[1], 1, 1}), nil
	}
	y := make([]float32, len(a))
	parallel(planes, func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			k := b[p]
			yr := y[p*hw:][:hw]
			for i, v := range a[p*hw:][:hw] {
				yr[i] = v * k
			}
		}
	})
	return dense(y, as), nil
}

func (op *scaleOp) DiffWRT(int) []bool { return []bool{op.dir == 0, op.dir == 0} }

func (op *scaleOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&scaleOp{opBase: op.opBase, dir: 1}, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	ds, err := G.ApplyOp(&scaleOp{opBase: op.opBase, dir: 2}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, ds}, nil
}

// linearOp is PyTorch's Linear, y = x·wᵀ + b for x (N, in), w (out, in),
// b (out), on the trainer's GEMM with the transpose as a GEMM flag
// (gorgonia's Mul of a Transpose copies w every step). dir 0 is the
// forward; 1, 2, 3 the gradients of x (dy·w), w (dyᵀ·x) and b (Σ dy),
// each from (x, w, dy).
type linearOp struct {
	opBase
	dir  int
	bias bool // forward only: a third input b
}

func (op *linearOp) Arity() int {
	if op.dir == 0 && !op.bias {
		return 2
	}
	return 3
}

func (op *linearOp) Type() hm.Type {
	t2 := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	t1 := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	switch {
	case op.dir == 0 && op.bias:
		return hm.NewFnType(t2, t2, t1, t2)
	case op.dir == 0:
		return hm.NewFnType(t2, t2, t2)
	case op.dir == 3:
		return hm.NewFnType(t2, t2, t2, t1)
	}
	return hm.NewFnType(t2, t2, t2, t2)
}

func (op *linearOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	x, w := ns[0].(tensor.Shape), ns[1].(tensor.Shape)
	switch op.dir {
	case 0:
		return tensor.Shape{x[0], w[0]}, nil
	case 1:
		return x.Clone(), nil
	case 2:
		return w.Clone(), nil
	}
	return tensor.Shape{w[0]}, nil
}
func (op *linearOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "linear-%s-%d", op.name, op.dir) }
func (op *linearOp) Hashcode() uint32      { return hashOf(op) }
func (op *linearOp) String() string        { return fmt.Sprintf("linear%d(%s)", op.dir, op.name) }

func (op *linearOp) Do(vs ...G.Value) (G.Value, error) {
	in, shapes, err := inputs(vs)
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	n, k, o := shapes[0][0], shapes[0][1], shapes[1][0]
	switch op.dir {
	case 0:
		y := make([]float32, n*o)
		if op.bias {
			for r := range n {
				copy(y[r*o:][:o], in[2])
			}
		}
		sgemm(blas.NoTrans, blas.Trans, n, o, k, 1, x, k, w, k, 1, y, o)
		return dense(y, tensor.Shape{n, o}), nil
	case 1:
		dx := make([]float32, n*k)
		sgemm(blas.NoTrans, blas.NoTrans, n, k, o, 1, in[2], o, w, k, 0, dx, k)
		return dense(dx, shapes[0]), nil
	case 2:
		dw := make([]float32, o*k)
		sgemm(blas.Trans, blas.NoTrans, o, k, n, 1, in[2], o, x, k, 0, dw, k)
		return dense(dw, shapes[1]), nil
	}
	db := make([]float32, o)
	for r := range n {
		for j, v := range in[2][r*o:][:o] {
			db[j] += v
		}
	}
	return dense(db, tensor.Shape{o}), nil
}

func (op *linearOp) DiffWRT(int) []bool {
	if op.dir != 0 {
		return []bool{false, false, false}
	}
	if op.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}

func (op *linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dirs := []int{1, 2}
	if op.bias {
		dirs = append(dirs, 3)
	}
	var out G.Nodes
	for _, d := range dirs {
		g, err := G.ApplyOp(&linearOp{opBase: op.opBase, dir: d}, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}
