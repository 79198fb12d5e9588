package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Op names a layer type, spelled as the torchvision module class so that
// graphs compare directly with torchvision ground truth. Functional ops that
// are not modules in torchvision (Add, Mul, Flatten, Concat) carry their own
// names.
type Op string

// The ops a graph can hold.
const (
	OpInput             Op = "Input"
	OpConv2d            Op = "Conv2d"
	OpBatchNorm2d       Op = "BatchNorm2d"
	OpReLU              Op = "ReLU"
	OpReLU6             Op = "ReLU6"
	OpHardswish         Op = "Hardswish"
	OpHardsigmoid       Op = "Hardsigmoid"
	OpSiLU              Op = "SiLU"
	OpSigmoid           Op = "Sigmoid"
	OpMaxPool2d         Op = "MaxPool2d"
	OpAvgPool2d         Op = "AvgPool2d"
	OpAdaptiveAvgPool2d Op = "AdaptiveAvgPool2d"
	OpLinear            Op = "Linear"
	OpDropout           Op = "Dropout"
	OpStochasticDepth   Op = "StochasticDepth"
	OpFlatten           Op = "Flatten"
	OpAdd               Op = "Add"
	OpMul               Op = "Mul"
	OpConcat            Op = "Concat"
)

// IsModule reports whether torchvision implements the op as an nn.Module,
// i.e. whether it appears among a model's leaf layers.
func (o Op) IsModule() bool {
	switch o {
	case OpInput, OpFlatten, OpAdd, OpMul, OpConcat:
		return false
	}
	return true
}

// Shape is a per-sample tensor shape: [C, H, W] for feature maps, [N] after
// flattening. The batch dimension is never stored.
type Shape []int

// Elems is the number of elements of one sample.
func (s Shape) Elems() int64 {
	n := int64(1)
	for _, d := range s {
		n *= int64(d)
	}
	return n
}

func (s Shape) String() string { return fmt.Sprint([]int(s)) }

// Conv holds the hyperparameters of a Conv2d (and its pooling cousins:
// kernel, stride, padding, dilation).
type Conv struct {
	InChannels, OutChannels int
	Kernel, Stride, Padding int
	Dilation, Groups        int
	Bias                    bool
}

// Node is one layer or functional op of the graph.
type Node struct {
	ID   int
	Name string // torchvision module path; a module called twice keeps its name
	Op   Op
	// Inputs are the IDs of the nodes this node reads, in argument order.
	Inputs []int
	// Block is the index of the top-level block the node belongs to; -1 for
	// the input and for head nodes.
	Block int
	// Task is the index of the task head the node belongs to; -1 for the
	// backbone.
	Task     int
	Conv     Conv // Conv2d, pools (kernel/stride/padding/dilation)
	Features int  // Linear out features, AdaptiveAvgPool2d output size
	Eps      float64
	OutShape Shape
	Params   int64
	MACs     int64
	// ElementwiseOps follows torchvision's reference counting: one per output
	// for BN and activations, kernel area per output for pools, input elements
	// for adaptive pools, zero for dropout and for non-module ops.
	ElementwiseOps int64
}

// Block is a top-level child of the torchvision backbone; the boundary after
// each block is a single-tensor cut candidate.
type Block struct {
	Name     string
	Type     string // torchvision module class of the child
	First    int    // first node ID of the block
	Output   int    // node ID whose output leaves the block
	OutShape Shape
	Params   int64
	MACs     int64
}

// Head is the task head of one task: the MTL-Split head of the zoo, or any
// sub-graph an imported model has for one output. Its nodes read only each
// other and the backbone's output.
type Head struct {
	Task string
	// Classes is the number of values the head's output holds per sample:
	// the class logits of a classification head.
	Classes int
	Nodes   []int // node IDs, in execution order
	Output  int
	Params  int64
	MACs    int64
}

// Graph is a built, immutable multi-task network. Nodes are in a valid
// execution (topological) order that matches torchvision's forward order.
type Graph struct {
	Name      string
	InputSize int
	Input     Shape
	Nodes     []Node
	Blocks    []Block
	Heads     []Head
}

// Backbone returns the node ID whose output feeds every head.
func (g *Graph) Backbone() int { return g.Blocks[len(g.Blocks)-1].Output }

// BackboneParams and BackboneMACs total the backbone without heads.
func (g *Graph) BackboneParams() int64 {
	var n int64
	for _, b := range g.Blocks {
		n += b.Params
	}
	return n
}

// BackboneMACs totals the backbone's multiply-accumulates without heads.
func (g *Graph) BackboneMACs() int64 {
	var n int64
	for _, b := range g.Blocks {
		n += b.MACs
	}
	return n
}

// Hash identifies the graph's structure (ops, hyperparameters, shapes,
// wiring); plans record it so a runtime can refuse a different network.
func (g *Graph) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%v\n", g.Name, g.Input)
	for _, n := range g.Nodes {
		fmt.Fprintf(h, "%s|%s|%v|%d|%d|%+v|%d|%v\n", n.Name, n.Op, n.Inputs, n.Block, n.Task, n.Conv, n.Features, n.OutShape)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
