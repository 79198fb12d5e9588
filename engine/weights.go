package engine

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mtlsplit/mtlsplit/model"
)

// ParamInfo describes one parameter tensor of a node, named as PyTorch names
// it in a state_dict: Node + "." + Param, e.g. "features.0.0.weight".
type ParamInfo struct {
	Node  string
	Param string // weight, bias, running_mean, running_var
	Shape []int
}

// Key is the state_dict key of the parameter.
func (p ParamInfo) Key() string { return p.Node + "." + p.Param }

// Elems is the number of values of the tensor.
func (p ParamInfo) Elems() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// nodeParams lists the parameter tensors of node n in PyTorch's order.
func nodeParams(n *model.Node) []ParamInfo {
	switch n.Op {
	case model.OpConv2d:
		c := n.Conv
		ps := []ParamInfo{{n.Name, "weight", []int{c.OutChannels, c.InChannels / c.Groups, c.Kernel, c.Kernel}}}
		if c.Bias {
			ps = append(ps, ParamInfo{n.Name, "bias", []int{c.OutChannels}})
		}
		return ps
	case model.OpBatchNorm2d:
		c := n.OutShape[0]
		return []ParamInfo{{n.Name, "weight", []int{c}}, {n.Name, "bias", []int{c}},
			{n.Name, "running_mean", []int{c}}, {n.Name, "running_var", []int{c}}}
	case model.OpLinear:
		ps := []ParamInfo{{n.Name, "weight", []int{n.Features, n.Conv.InChannels}}}
		if n.Conv.Bias {
			ps = append(ps, ParamInfo{n.Name, "bias", []int{n.Features}})
		}
		return ps
	}
	return nil
}

// Weights holds the parameter tensors of one graph, by node name and
// parameter name, as flat float32 slices in PyTorch's (C-order) layout.
// A Program copies what it needs at Compile, so later changes do not reach
// compiled programs.
type Weights struct {
	graph   string
	params  []ParamInfo
	tensors map[string][]float32 // by ParamInfo.Key
}

// NewWeights makes the tensors of every parameterized node of g with
// PyTorch's defaults for batch norm (weight 1, bias 0, mean 0, variance 1)
// and zeros for convolutions and linear layers.
func NewWeights(g *model.Graph) (*Weights, error) {
	w := &Weights{graph: g.Name, tensors: map[string][]float32{}}
	seen := map[string]*model.Node{}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		ps := nodeParams(n)
		if len(ps) == 0 {
			continue
		}
		if prev, ok := seen[n.Name]; ok {
			// A module called twice shares its tensors; it must be the same module.
			if prev.Op != n.Op || prev.Conv != n.Conv || prev.Features != n.Features || prev.OutShape.String() != n.OutShape.String() {
				return nil, fmt.Errorf("weights for %s: two different %s/%s layers are named %q", g.Name, prev.Op, n.Op, n.Name)
			}
			continue
		}
		seen[n.Name] = n
		for _, p := range ps {
			t := make([]float32, p.Elems())
			if n.Op == model.OpBatchNorm2d && (p.Param == "weight" || p.Param == "running_var") {
				for j := range t {
					t[j] = 1
				}
			}
			w.params = append(w.params, p)
			w.tensors[p.Key()] = t
		}
	}
	return w, nil
}

// Params lists every parameter tensor in graph order (PyTorch's order within
// a node).
func (w *Weights) Params() []ParamInfo { return w.params }

// Get returns the tensor of node's param, or nil if there is none. The slice
// is the Weights' own storage.
func (w *Weights) Get(node, param string) []float32 { return w.tensors[node+"."+param] }

// release drops the tensors of nodes whose last reader (uses, by node
// name: a module called twice shares them) has been compiled, and returns
// their bytes.
func (w *Weights) release(nodes []*model.Node, uses map[string]int) int {
	bytes := 0
	for _, n := range nodes {
		if uses[n.Name]--; uses[n.Name] > 0 {
			continue
		}
		for _, p := range nodeParams(n) {
			bytes += 4 * len(w.tensors[p.Key()])
			delete(w.tensors, p.Key())
		}
	}
	return bytes
}

// Set copies data into node's param after checking that the tensor exists
// and that data has its number of elements.
func (w *Weights) Set(node, param string, data []float32) error {
	for _, p := range w.params {
		if p.Node != node || p.Param != param {
			continue
		}
		t := w.tensors[p.Key()]
		if len(data) != len(t) {
			return fmt.Errorf("set weights of %s: %s has shape %v (%d values), got %d values", w.graph, p.Key(), p.Shape, len(t), len(data))
		}
		copy(t, data)
		return nil
	}
	return fmt.Errorf("set weights of %s: no parameter %q of node %q", w.graph, param, node)
}

// SetAll sets every tensor of params (node → param → values, as an ONNX
// import gives them) with Set.
func (w *Weights) SetAll(params map[string]map[string][]float32) error {
	for node, ps := range params {
		for param, data := range ps {
			if err := w.Set(node, param, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// fanIn is the number of inputs feeding one output of a conv or linear layer.
func fanIn(p ParamInfo) int {
	n := 1
	for _, d := range p.Shape[1:] {
		n *= d
	}
	return n
}

// RandomWeights fills every tensor of g from a generator seeded with seed:
// conv and linear weights uniform in ±sqrt(6/fan_in) (Kaiming uniform for
// ReLU gain, so activations keep their scale through deep networks), biases
// in ±1/sqrt(fan_in), and batch-norm statistics away from the identity
// (weight and variance in [0.5, 1.5), bias and mean in [-0.1, 0.1)) so that
// folding them into convolutions is exercised. The same graph and seed give
// the same weights on every machine.
func RandomWeights(g *model.Graph, seed uint64) (*Weights, error) {
	w, err := NewWeights(g)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d746c73706c6974))
	var fan int
	for _, p := range w.params {
		t := w.tensors[p.Key()]
		if p.Param == "weight" && len(p.Shape) > 1 {
			fan = fanIn(p)
		}
		for i := range t {
			u := rng.Float64()
			switch {
			case p.Param == "weight" && len(p.Shape) > 1:
				t[i] = float32((2*u - 1) * math.Sqrt(6/float64(fan)))
			case p.Param == "weight" || p.Param == "running_var":
				t[i] = float32(0.5 + u)
			case p.Param == "running_mean":
				t[i] = float32((u - 0.5) * 0.2)
			case p.Param == "bias" && len(w.Get(p.Node, "running_mean")) > 0:
				t[i] = float32((u - 0.5) * 0.2)
			default: // conv or linear bias; follows its weight
				t[i] = float32((2*u - 1) / math.Sqrt(float64(fan)))
			}
		}
	}
	return w, nil
}
