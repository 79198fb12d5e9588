package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// param is one trainable tensor, stored in PyTorch's layout; the gorgonia
// nodes of both graphs read its slice directly.
type param struct {
	info engine.ParamInfo
	data []float32
}

// net is one gorgonia graph of the model for a fixed batch size.
type net struct {
	g       *G.ExprGraph
	batch   int
	x       *G.Node   // input, (N, C, H, W)
	labels  []*G.Node // one-hot targets per task, (N, k)
	masks   []*G.Node // dropout masks (training only), in graph order
	logits  []*G.Node
	losses  []*G.Node // mean cross-entropy per task
	loss    *G.Node   // their sum
	nodes   []*G.Node // parameter nodes, aligned with Trainer.params
	stats   map[string]*bnStats
	scratch *convScratch
	depth   []*depthOp // stochastic depth ops (training only), in graph order
	vm      G.VM
}

// buildNet builds the graph of g over params for batch samples. In
// training mode batch norm uses batch statistics and dropout multiplies by
// a mask the caller sets each step, and stochastic depth (rising to
// depthP; 0: off) drops rows the caller draws each step.
func buildNet(g *model.Graph, params []*param, stats map[string]*bnStats, batch int, training bool, depthP float64) (*net, error) {
	n := &net{g: G.NewGraph(), batch: batch, stats: stats, scratch: &convScratch{}}
	var probs map[int]float64
	if training && depthP > 0 {
		var err error
		if probs, err = depthProbs(g, depthP); err != nil {
			return nil, fmt.Errorf("train %s: %w", g.Name, err)
		}
	}
	byKey := map[string]*G.Node{}
	for _, p := range params {
		t := tensor.New(tensor.WithShape(p.info.Shape...), tensor.WithBacking(p.data))
		node := G.NewTensor(n.g, tensor.Float32, len(p.info.Shape), G.WithShape(p.info.Shape...), G.WithName(p.info.Key()), G.WithValue(t))
		byKey[p.info.Key()] = node
		n.nodes = append(n.nodes, node)
	}
	in := g.Input
	n.x = G.NewTensor(n.g, tensor.Float32, 4, G.WithShape(batch, in[0], in[1], in[2]), G.WithName("input"))
	out := make([]*G.Node, len(g.Nodes))
	out[0] = n.x
	fused := fusedReLUs(g)
	for i := 1; i < len(g.Nodes); i++ {
		nd := &g.Nodes[i]
		var err error
		if fused[i] {
			// The batch norm before it applied it.
			out[i] = out[nd.Inputs[0]]
			continue
		}
		if nd.Op == model.OpBatchNorm2d && i+1 < len(g.Nodes) && fused[i+1] {
			out[i], err = n.batchNorm(nd, out[nd.Inputs[0]], byKey[nd.Name+".weight"], byKey[nd.Name+".bias"], training, true)
		} else if p, ok := probs[i]; ok && p > 0 {
			op := &depthOp{opBase: opBase{nd.Name}, p: p, scale: make([]float32, batch), dims: out[nd.Inputs[0]].Dims()}
			n.depth = append(n.depth, op)
			out[i], err = G.ApplyOp(op, out[nd.Inputs[0]])
		} else {
			out[i], err = n.layer(nd, out, byKey, training)
		}
		if err != nil {
			return nil, fmt.Errorf("train %s: %s %q: %w", g.Name, nd.Op, nd.Name, err)
		}
	}
	var losses G.Nodes
	for _, h := range g.Heads {
		logits := out[h.Output]
		label := G.NewMatrix(n.g, tensor.Float32, G.WithShape(batch, h.Classes), G.WithName(h.Task+".label"))
		ce, err := crossEntropy(logits, label)
		if err != nil {
			return nil, fmt.Errorf("train %s: loss of %s: %w", g.Name, h.Task, err)
		}
		n.labels = append(n.labels, label)
		n.logits = append(n.logits, logits)
		n.losses = append(n.losses, ce)
		losses = append(losses, ce)
	}
	if len(losses) == 0 {
		return nil, fmt.Errorf("train %s: the graph has no task heads", g.Name)
	}
	loss, err := G.ReduceAdd(losses)
	if err != nil {
		return nil, fmt.Errorf("train %s: total loss: %w", g.Name, err)
	}
	n.loss = loss
	return n, nil
}

// fusedReLUs marks the ReLU nodes that directly follow the batch norm
// they read when nothing else reads that batch norm: bnOp applies them.
func fusedReLUs(g *model.Graph) map[int]bool {
	readers := make([]int, len(g.Nodes))
	for _, nd := range g.Nodes {
		for _, in := range nd.Inputs {
			readers[in]++
		}
	}
	for _, h := range g.Heads {
		readers[h.Output]++
	}
	fused := map[int]bool{}
	for i := 1; i < len(g.Nodes); i++ {
		nd := &g.Nodes[i]
		if nd.Op == model.OpReLU && nd.Inputs[0] == i-1 && g.Nodes[i-1].Op == model.OpBatchNorm2d && readers[i-1] == 1 {
			fused[i] = true
		}
	}
	return fused
}

// crossEntropy is the batch mean of −log softmax(logits) at the label.
func crossEntropy(logits, onehot *G.Node) (*G.Node, error) {
	lsm, err := G.LogSoftMax(logits)
	if err != nil {
		return nil, err
	}
	picked, err := G.HadamardProd(lsm, onehot)
	if err != nil {
		return nil, err
	}
	perSample, err := G.Sum(picked, 1)
	if err != nil {
		return nil, err
	}
	mean, err := G.Mean(perSample)
	if err != nil {
		return nil, err
	}
	return G.Neg(mean)
}

// layer adds node nd reading out[...] and returns its output.
func (n *net) layer(nd *model.Node, out []*G.Node, params map[string]*G.Node, training bool) (*G.Node, error) {
	x := out[nd.Inputs[0]]
	get := func(p string) *G.Node { return params[nd.Name+"."+p] }
	switch nd.Op {
	case model.OpConv2d:
		return n.conv(nd, x, get("weight"), get("bias"))
	case model.OpBatchNorm2d:
		return n.batchNorm(nd, x, get("weight"), get("bias"), training, false)
	case model.OpMaxPool2d:
		c := nd.Conv
		return G.MaxPool2D(x, tensor.Shape{c.Kernel, c.Kernel}, []int{c.Padding, c.Padding}, []int{c.Stride, c.Stride})
	case model.OpAdd:
		return G.Add(x, out[nd.Inputs[1]])
	case model.OpFlatten:
		return G.Reshape(x, tensor.Shape{n.batch, int(nd.OutShape.Elems())})
	case model.OpLinear:
		if get("bias") == nil {
			return G.ApplyOp(&linearOp{opBase: opBase{nd.Name}}, x, get("weight"))
		}
		return G.ApplyOp(&linearOp{opBase: opBase{nd.Name}, bias: true}, x, get("weight"), get("bias"))
	case model.OpReLU, model.OpHardswish, model.OpHardsigmoid, model.OpSiLU, model.OpSigmoid, model.OpReLU6:
		return G.ApplyOp(&actOp{opBase: opBase{nd.Name}, kind: nd.Op, dims: x.Dims()}, x)
	case model.OpAdaptiveAvgPool2d:
		if nd.Features != 1 {
			return nil, fmt.Errorf("training supports adaptive pooling to 1×1 only, not %d×%d", nd.Features, nd.Features)
		}
		return G.ApplyOp(&poolOp{opBase: opBase{nd.Name}, in: x.Shape().Clone()}, x)
	case model.OpMul:
		return G.ApplyOp(&scaleOp{opBase: opBase{nd.Name}}, x, out[nd.Inputs[1]])
	case model.OpStochasticDepth:
		// The identity at inference (and in training with p = 0: the
		// first block's); buildNet adds a depthOp otherwise.
		return x, nil
	case model.OpDropout:
		if !training {
			return x, nil
		}
		mask := G.NewTensor(n.g, tensor.Float32, x.Dims(), G.WithShape(x.Shape().Clone()...), G.WithName(nd.Name+".mask"))
		n.masks = append(n.masks, mask)
		return G.HadamardProd(x, mask)
	}
	return nil, fmt.Errorf("training does not support %s yet", nd.Op)
}

func (n *net) conv(nd *model.Node, x, w, b *G.Node) (*G.Node, error) {
	c, s := nd.Conv, nd.OutShape
	out := tensor.Shape{n.batch, s[0], s[1], s[2]}
	if c.Groups == 1 {
		// The bias is added as the output is stored.
		op := &convOp{opBase: opBase{nd.Name}, c: c, in: x.Shape().Clone(), out: out, scratch: n.scratch}
		if b == nil {
			return G.ApplyOp(op, x, w)
		}
		op.bias = true
		return G.ApplyOp(op, x, w, b)
	}
	y, err := G.ApplyOp(&groupConvOp{opBase: opBase{nd.Name}, c: c, out: out}, x, w)
	if err != nil || b == nil {
		return y, err
	}
	b4, err := G.Reshape(b, tensor.Shape{1, c.OutChannels, 1, 1})
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(y, b4, nil, []byte{0, 2, 3})
}

// batchNorm is bnOp over the node's weight and bias, followed by a ReLU
// when relu is set.
func (n *net) batchNorm(nd *model.Node, x, w, b *G.Node, training, relu bool) (*G.Node, error) {
	st := n.stats[nd.Name]
	if st == nil {
		return nil, fmt.Errorf("no running statistics")
	}
	return G.ApplyOp(&bnOp{opBase: opBase{nd.Name}, eps: nd.Eps, training: training, stats: st, relu: relu}, x, w, b)
}
