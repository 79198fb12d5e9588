package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// Config sets up a Trainer.
type Config struct {
	// Batch is the number of samples of every Step and Eval call (0: 32).
	Batch int
	// Seed seeds the initial weights and the dropout masks.
	Seed uint64
	// Dropout is the drop probability of the heads' Dropout layers in
	// training (MTL-Split: 0.1; 0 turns dropout off).
	Dropout float64
	// Optimizer updates the weights (nil: AdamW with MTL-Split's weight
	// decay 1e-6).
	Optimizer Optimizer
	// StochasticDepth is the drop probability torchvision's EfficientNet
	// rises to over its MBConv blocks (block i of n drops a sample's
	// residual branch with probability StochasticDepth·i/n in training;
	// see depthProbs). 0 means torchvision's 0.2; negative turns it off.
	// Graphs without StochasticDepth nodes ignore it.
	StochasticDepth float64
}

// DefaultStochasticDepth is torchvision's efficientnet_b0 setting.
const DefaultStochasticDepth = 0.2

// DefaultBatch is MTL-Split's batch size.
const DefaultBatch = 32

// Trainer trains one graph. It is not safe for concurrent use.
type Trainer struct {
	graph   *model.Graph
	cfg     Config
	params  []*param
	stats   map[string]*bnStats // batch norm running statistics by node
	train   *net
	eval    *net // built on first Eval
	grads   [][]float32
	dropSrc *rand.PCG // dropout masks
	dropRng *rand.Rand
	// depthSrc draws the stochastic depth rows, separately from dropout so
	// that turning one off leaves the other's masks as they were.
	depthSrc *rand.PCG
	depthRng *rand.Rand
	// LR is the learning rate of the next Step (set it from a StepLR each
	// epoch).
	LR float64
}

// Result is the outcome of one batch: per task, the mean cross-entropy and
// the fraction of samples whose top-1 class is the label.
type Result struct {
	Loss     []float64
	Accuracy []float64
}

// TotalLoss is the training objective: the sum of the tasks' losses.
func (r Result) TotalLoss() float64 {
	var s float64
	for _, l := range r.Loss {
		s += l
	}
	return s
}

// New builds a Trainer for g with PyTorch's default initialisation drawn
// from cfg.Seed (see the package comment).
func New(g *model.Graph, cfg Config) (*Trainer, error) {
	if g == nil {
		return nil, errors.New("train: nil graph")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return nil, fmt.Errorf("train: dropout %g must be in [0, 1)", cfg.Dropout)
	}
	if cfg.Optimizer == nil {
		cfg.Optimizer = &AdamW{WeightDecay: 1e-6}
	}
	w, err := engine.NewWeights(g)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	switch {
	case cfg.StochasticDepth == 0:
		cfg.StochasticDepth = DefaultStochasticDepth
	case cfg.StochasticDepth >= 1:
		return nil, fmt.Errorf("train: stochastic depth %g must be below 1", cfg.StochasticDepth)
	}
	t := &Trainer{graph: g, cfg: cfg, LR: 1e-4, dropSrc: rand.NewPCG(cfg.Seed, 0x64726f70), depthSrc: rand.NewPCG(cfg.Seed, 0x6465707468)}
	t.dropRng, t.depthRng = rand.New(t.dropSrc), rand.New(t.depthSrc)
	initRng := rand.New(rand.NewPCG(cfg.Seed, 0x696e6974))
	for _, p := range w.Params() {
		if p.Param == "running_mean" || p.Param == "running_var" {
			continue // buffers, not parameters
		}
		data := append([]float32(nil), w.Get(p.Node, p.Param)...)
		if len(p.Shape) > 1 || p.Param == "bias" && w.Get(p.Node, "running_mean") == nil {
			bound := 1 / math.Sqrt(float64(fanIn(w, p.Node)))
			for i := range data {
				data[i] = float32((2*initRng.Float64() - 1) * bound)
			}
		}
		t.params = append(t.params, &param{info: p, data: data})
		t.grads = append(t.grads, nil)
	}
	t.stats = map[string]*bnStats{}
	for _, n := range g.Nodes {
		if n.Op == model.OpBatchNorm2d {
			t.stats[n.Name] = &bnStats{
				mean:     append([]float32(nil), w.Get(n.Name, "running_mean")...),
				variance: append([]float32(nil), w.Get(n.Name, "running_var")...),
			}
		}
	}
	if t.train, err = buildNet(g, t.params, t.stats, cfg.Batch, true, max(0, cfg.StochasticDepth)); err != nil {
		return nil, err
	}
	if _, err := G.Grad(t.train.loss, t.train.nodes...); err != nil {
		return nil, fmt.Errorf("train %s: gradients: %w", g.Name, err)
	}
	t.train.vm = G.NewTapeMachine(t.train.g, G.BindDualValues(t.train.nodes...))
	return t, nil
}

// fanIn of a conv or linear node is the product of its weight's dimensions
// after the first.
func fanIn(w *engine.Weights, node string) int {
	for _, p := range w.Params() {
		if p.Node == node && p.Param == "weight" {
			n := 1
			for _, d := range p.Shape[1:] {
				n *= d
			}
			return n
		}
	}
	return 1
}

// Graph is the graph being trained.
func (t *Trainer) Graph() *model.Graph { return t.graph }

// Batch is the number of samples every call takes.
func (t *Trainer) Batch() int { return t.cfg.Batch }

// checkBatch validates one batch: x holds Batch images (NCHW float32),
// labels one slice of Batch class indices per task.
func (t *Trainer) checkBatch(x []float32, labels [][]int) error {
	per := int(t.graph.Input.Elems())
	if len(x) != t.cfg.Batch*per {
		return fmt.Errorf("train %s: input has %d values; want %d images of %v (%d values)", t.graph.Name, len(x), t.cfg.Batch, t.graph.Input, t.cfg.Batch*per)
	}
	if len(labels) != len(t.graph.Heads) {
		return fmt.Errorf("train %s: %d label sets for %d tasks", t.graph.Name, len(labels), len(t.graph.Heads))
	}
	for i, h := range t.graph.Heads {
		if len(labels[i]) != t.cfg.Batch {
			return fmt.Errorf("train %s: %s has %d labels; want %d", t.graph.Name, h.Task, len(labels[i]), t.cfg.Batch)
		}
		for j, c := range labels[i] {
			if c < 0 || c >= h.Classes {
				return fmt.Errorf("train %s: %s label %d of sample %d is outside 0..%d", t.graph.Name, h.Task, c, j, h.Classes-1)
			}
		}
	}
	return nil
}

// feed binds one batch to n's input and label nodes.
func (t *Trainer) feed(n *net, x []float32, labels [][]int) error {
	in := t.graph.Input
	xt := tensor.New(tensor.WithShape(t.cfg.Batch, in[0], in[1], in[2]), tensor.WithBacking(append([]float32(nil), x...)))
	if err := G.Let(n.x, xt); err != nil {
		return err
	}
	for i, h := range t.graph.Heads {
		oh := make([]float32, t.cfg.Batch*h.Classes)
		for j, c := range labels[i] {
			oh[j*h.Classes+c] = 1
		}
		if err := G.Let(n.labels[i], tensor.New(tensor.WithShape(t.cfg.Batch, h.Classes), tensor.WithBacking(oh))); err != nil {
			return err
		}
	}
	return nil
}

// Step runs one training step on a batch (forward in training mode,
// backward, one optimizer update at t.LR) and returns the batch's losses
// and accuracies before the update.
func (t *Trainer) Step(x []float32, labels [][]int) (Result, error) {
	if err := t.checkBatch(x, labels); err != nil {
		return Result{}, err
	}
	n := t.train
	if err := t.feed(n, x, labels); err != nil {
		return Result{}, fmt.Errorf("train %s: %w", t.graph.Name, err)
	}
	keep := 1 - t.cfg.Dropout
	for _, m := range n.masks {
		v := make([]float32, m.Shape().TotalSize())
		for i := range v {
			if t.dropRng.Float64() >= t.cfg.Dropout {
				v[i] = float32(1 / keep)
			}
		}
		if err := G.Let(m, tensor.New(tensor.WithShape(m.Shape().Clone()...), tensor.WithBacking(v))); err != nil {
			return Result{}, fmt.Errorf("train %s: %w", t.graph.Name, err)
		}
	}
	t.drawDepth(n)
	// The tape machine adds each run's gradients to the last ones.
	for _, g := range t.grads {
		clear(g)
	}
	defer n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return Result{}, fmt.Errorf("train %s: step: %w", t.graph.Name, err)
	}
	res := t.result(n, labels)
	data := make([][]float32, len(t.params))
	for i, p := range t.params {
		g, err := n.nodes[i].Grad()
		if err != nil {
			return Result{}, fmt.Errorf("train %s: gradient of %s: %w", t.graph.Name, p.info.Key(), err)
		}
		t.grads[i] = g.Data().([]float32)
		data[i] = p.data
	}
	t.cfg.Optimizer.Step(data, t.grads, t.LR)
	return res, nil
}

// drawDepth draws the rows each stochastic depth op of n keeps this step,
// as torchvision's StochasticDepth (mode "row") does: per sample, keep with
// probability 1−p and scale a kept row by 1/(1−p); ops in graph order,
// samples in order.
func (t *Trainer) drawDepth(n *net) {
	for _, op := range n.depth {
		keep := 1 - op.p
		for i := range op.scale {
			op.scale[i] = 0
			if t.depthRng.Float64() < keep {
				op.scale[i] = float32(1 / keep)
			}
		}
	}
}

// result reads the losses and accuracies of the batch n just ran.
func (t *Trainer) result(n *net, labels [][]int) Result {
	var r Result
	for i, h := range t.graph.Heads {
		r.Loss = append(r.Loss, float64(n.losses[i].Value().Data().(float32)))
		logits := n.logits[i].Value().Data().([]float32)
		correct := 0
		for j, c := range labels[i] {
			row := logits[j*h.Classes : (j+1)*h.Classes]
			best := 0
			for k, v := range row {
				if v > row[best] {
					best = k
				}
			}
			if best == c {
				correct++
			}
		}
		r.Accuracy = append(r.Accuracy, float64(correct)/float64(len(labels[i])))
	}
	return r
}

// Eval runs a batch in eval mode (running statistics, no dropout) without
// changing anything, and returns its losses, accuracies and each task's
// logits (Batch × classes, row-major).
func (t *Trainer) Eval(x []float32, labels [][]int) (Result, [][]float32, error) {
	if err := t.checkBatch(x, labels); err != nil {
		return Result{}, nil, err
	}
	if t.eval == nil {
		n, err := buildNet(t.graph, t.params, t.stats, t.cfg.Batch, false, 0)
		if err != nil {
			return Result{}, nil, err
		}
		n.vm = G.NewTapeMachine(n.g)
		t.eval = n
	}
	n := t.eval
	if err := t.feed(n, x, labels); err != nil {
		return Result{}, nil, fmt.Errorf("train %s: %w", t.graph.Name, err)
	}
	defer n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return Result{}, nil, fmt.Errorf("train %s: eval: %w", t.graph.Name, err)
	}
	var logits [][]float32
	for _, l := range n.logits {
		logits = append(logits, append([]float32(nil), l.Value().Data().([]float32)...))
	}
	return t.result(n, labels), logits, nil
}

// Weights returns the current parameters and batch-norm running statistics
// as engine weights with PyTorch's state_dict names.
func (t *Trainer) Weights() (*engine.Weights, error) {
	w, err := engine.NewWeights(t.graph)
	if err != nil {
		return nil, err
	}
	for _, p := range t.params {
		if err := w.Set(p.info.Node, p.info.Param, p.data); err != nil {
			return nil, err
		}
	}
	for name, st := range t.stats {
		if err := w.Set(name, "running_mean", st.mean); err != nil {
			return nil, err
		}
		if err := w.Set(name, "running_var", st.variance); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// SetWeights replaces the parameters and running statistics with w's (a
// checkpoint or the initial weights of a fixture).
func (t *Trainer) SetWeights(w *engine.Weights) error {
	for _, p := range t.params {
		src := w.Get(p.info.Node, p.info.Param)
		if len(src) != len(p.data) {
			return fmt.Errorf("train %s: weights have %d values for %s, want %d", t.graph.Name, len(src), p.info.Key(), len(p.data))
		}
		copy(p.data, src)
	}
	for name, st := range t.stats {
		mean, variance := w.Get(name, "running_mean"), w.Get(name, "running_var")
		if len(mean) != len(st.mean) || len(variance) != len(st.variance) {
			return fmt.Errorf("train %s: weights lack the running statistics of %s", t.graph.Name, name)
		}
		copy(st.mean, mean)
		copy(st.variance, variance)
	}
	return nil
}

// param returns the parameter of node named p, or nil.
func (t *Trainer) param(node, p string) *param {
	for _, q := range t.params {
		if q.info.Node == node && q.info.Param == p {
			return q
		}
	}
	return nil
}
