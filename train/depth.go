package train

import (
	"fmt"
	"hash"
	"strings"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/model"
)

// depthProbs is torchvision's EfficientNet rule for stochastic depth:
// with n MBConv blocks in the features, block i (from 0) gets drop
// probability p·i/n (so the last block's is p·(n−1)/n, below p). The graph
// does not record the probability, so the blocks are found by name: a
// block is a prefix X of nodes named X.block.K…, in order, and a
// StochasticDepth node is X.stochastic_depth. It returns the probability
// by node index.
func depthProbs(g *model.Graph, p float64) (map[int]float64, error) {
	var blocks []string
	index := map[string]int{}
	for _, nd := range g.Nodes {
		if prefix, _, ok := strings.Cut(nd.Name, ".block."); ok {
			if _, seen := index[prefix]; !seen {
				index[prefix] = len(blocks)
				blocks = append(blocks, prefix)
			}
		}
	}
	probs := map[int]float64{}
	for i, nd := range g.Nodes {
		if nd.Op != model.OpStochasticDepth {
			continue
		}
		prefix, ok := strings.CutSuffix(nd.Name, ".stochastic_depth")
		k, found := index[prefix]
		if !ok || !found {
			return nil, fmt.Errorf("stochastic depth node %q is not X.stochastic_depth of a block X.block.*: its drop probability is unknown", nd.Name)
		}
		probs[i] = p * float64(k) / float64(len(blocks))
	}
	return probs, nil
}

// depthOp is torchvision's StochasticDepth in mode "row" during training:
// sample b of x is multiplied by scale[b] (0 when dropped, 1/(1−p) when
// kept), which Trainer.drawDepth sets before each step. It is linear, so
// its gradient is the same scaling of dy (the op applied to dy).
type depthOp struct {
	opBase
	p     float64
	scale []float32
	dims  int
	grad  bool // the gradient's instance (only the name differs)
}

func (op *depthOp) Arity() int    { return 1 }
func (op *depthOp) Type() hm.Type { return tensorFn(op.dims, 1) }
func (op *depthOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "depth-%s-%v", op.name, op.grad)
}
func (op *depthOp) Hashcode() uint32 { return hashOf(op) }
func (op *depthOp) String() string   { return "stochastic_depth(" + op.name + ")" }
func (op *depthOp) InferShape(ns ...G.DimSizer) (tensor.Shape, error) {
	return ns[0].(tensor.Shape).Clone(), nil
}

func (op *depthOp) Do(vs ...G.Value) (G.Value, error) {
	x, s, err := float32s(vs[0])
	if err != nil {
		return nil, err
	}
	y := make([]float32, len(x))
	per := len(x) / len(op.scale)
	for b, k := range op.scale {
		if k == 0 {
			continue
		}
		for i := b * per; i < (b+1)*per; i++ {
			y[i] = x[i] * k
		}
	}
	return dense(y, s), nil
}

func (op *depthOp) DiffWRT(int) []bool { return []bool{true} }

func (op *depthOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&depthOp{opBase: op.opBase, p: op.p, scale: op.scale, dims: op.dims, grad: true}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
