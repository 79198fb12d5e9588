package onnx

// Lowering: the import's steps in order, and the per-node dispatch that
// turns each live ONNX node (with the nodes it fuses with) into a layer.

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/model"
)

// layer is one node of the graph to be built: an ONNX node, or a few fused
// ones (HardSigmoid·x → Hardswish, Sigmoid·x → SiLU, MatMul+Add → Linear).
type layer struct {
	op       model.Op
	onnxName string // the first ONNX node's name, for errors
	onnxOp   string
	path     []string // torch module path from the node's scope, nil if none
	name     string   // model node name, set by nameLayers
	in       []string // activation tensors read, in argument order
	out      string

	conv    model.Conv // Conv2d; Kernel/Stride/Padding also for pools
	autoPad string
	ceil    bool
	axis    int64   // Flatten, Concat (ONNX axis, batch included)
	target  []int64 // Reshape
	eps     float64
	params  map[string]param
	linearT bool // Linear weight given as [in, out]: transpose at build
}

// param is a weight tensor as the file gives it.
type param struct {
	dims []int64
	data []float32
}

// importer holds one import's state.
type importer struct {
	g      *graphProto
	opset  int64
	consts map[string]*tensorProto
	alias  map[string]string // Identity or Pad output → its input
	pads   map[string]int    // Pad output → the padding it adds
	users  map[string][]int  // activation tensor → live nodes reading it
	live   []bool
	fused  []bool
	input  string
	// outputs are the graph's outputs, aliases resolved: one task each
	// when there are several.
	outputs []string
	layers  []layer
}

func importGraph(g *graphProto, opset int64, name string, size int) (*Imported, error) {
	im := &importer{g: g, opset: opset, consts: map[string]*tensorProto{}, alias: map[string]string{}, pads: map[string]int{}, users: map[string][]int{}}
	for i := range g.initializers {
		t := &g.initializers[i]
		im.consts[t.name] = t
	}
	if err := im.sortNodes(); err != nil {
		return nil, err
	}
	c, size, err := im.findInput(size)
	if err != nil {
		return nil, err
	}
	if err := im.findOutputs(); err != nil {
		return nil, err
	}
	if err := im.foldConstants(); err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for k, o := range g.outputs {
		t := im.resolve(o.name)
		im.outputs[k] = t
		if _, ok := im.consts[t]; ok {
			return nil, fmt.Errorf("output %q is a constant", o.name)
		}
		if t == im.input {
			return nil, fmt.Errorf("graph computes nothing: output %q is the input", o.name)
		}
		if first, dup := seen[t]; dup {
			return nil, fmt.Errorf("outputs %q and %q are the same tensor; every task needs an output of its own", first, o.name)
		}
		seen[t] = o.name
	}
	for i := range g.nodes {
		if !im.live[i] || im.fused[i] {
			continue
		}
		if err := im.lower(i); err != nil {
			return nil, err
		}
	}
	nameLayers(im.layers)
	return im.build(name, c, size)
}

// lower turns live node i (with the nodes it fuses with) into a layer.
func (im *importer) lower(i int) error {
	n := &im.g.nodes[i]
	l := layer{onnxName: label(n), onnxOp: n.opType, path: modulePath(n.name)}
	if len(n.outputs) == 0 || n.outputs[0] == "" {
		return fmt.Errorf("%s node %q has no output", n.opType, label(n))
	}
	if len(n.inputs) == 0 || n.inputs[0] == "" {
		return fmt.Errorf("%s node %q has no input", n.opType, label(n))
	}
	l.out = n.outputs[0]
	unsupported := func(format string, args ...any) error {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf(format, args...)}
	}
	a := attrs{n}
	var err error
	switch n.opType {
	case "Conv":
		l.op = model.OpConv2d
		err = im.lowerConv(n, &l)
	case "BatchNormalization":
		l.op = model.OpBatchNorm2d
		l.eps = a.float("epsilon", 1e-5)
		if a.int("training_mode", 0) != 0 {
			return unsupported("training mode")
		}
		l.params = map[string]param{}
		for k, p := range []string{"weight", "bias", "running_mean", "running_var"} {
			if l.params[p], err = im.weight(n, k+1, true); err != nil {
				return err
			}
		}
		err = im.onlyFirstOutputUsed(n)
	case "Relu":
		l.op = model.OpReLU
	case "Clip":
		l.op, err = im.lowerClip(n)
	case "HardSigmoid":
		alpha, beta := a.float("alpha", 0.2), a.float("beta", 0.5)
		if math.Abs(alpha-1.0/6) > 1e-6 || math.Abs(beta-0.5) > 1e-6 {
			return unsupported("alpha %g, beta %g; only PyTorch's Hardsigmoid (alpha 1/6, beta 0.5) is supported", alpha, beta)
		}
		l.op = model.OpHardsigmoid
		if out, ok := im.fuseSelfMul(i); ok {
			l.op, l.out = model.OpHardswish, out
		}
	case "HardSwish":
		l.op = model.OpHardswish
	case "Sigmoid":
		l.op = model.OpSigmoid
		if out, ok := im.fuseSelfMul(i); ok {
			l.op, l.out = model.OpSiLU, out
		}
	case "Mul":
		l.op = model.OpMul
	case "Add":
		l.op = model.OpAdd
	case "MaxPool", "AveragePool":
		err = im.lowerPool(n, &l)
	case "GlobalAveragePool":
		l.op = model.OpAdaptiveAvgPool2d
	case "Flatten":
		l.op = model.OpFlatten
		l.axis = a.int("axis", 1)
	case "Reshape":
		l.op = model.OpFlatten
		l.axis = 1
		t, err := im.constant(n, 1)
		if err != nil {
			return err
		}
		v, err := t.values()
		if err != nil {
			return fmt.Errorf("Reshape node %q: %w", label(n), err)
		}
		for _, x := range v {
			l.target = append(l.target, int64(x))
		}
	case "Gemm":
		err = im.lowerGemm(n, &l)
	case "MatMul":
		err = im.lowerMatMul(i, &l)
	case "Concat":
		l.op = model.OpConcat
		if a.find("axis") == nil {
			return fmt.Errorf("Concat node %q has no axis", label(n))
		}
		l.axis = a.int("axis", 1)
	case "Dropout":
		l.op = model.OpDropout
		err = im.onlyFirstOutputUsed(n)
	default:
		return &UnsupportedOpError{Op: n.opType, Node: label(n)}
	}
	if err != nil {
		return err
	}
	// The activation inputs; weights and other constants were taken above.
	data := 1
	switch l.op {
	case model.OpAdd, model.OpMul:
		data = 2
	case model.OpConcat:
		data = len(n.inputs)
	}
	if len(n.inputs) < data {
		return fmt.Errorf("%s node %q has %d inputs, want %d", n.opType, label(n), len(n.inputs), data)
	}
	for k := range data {
		if p := im.padOf(n.inputs[k]); p > 0 {
			if k != 0 || (l.op != model.OpConv2d && l.op != model.OpAvgPool2d) {
				return &UnsupportedOpError{Op: "Pad", Node: label(n), Reason: "zero padding folds only into the Conv or AveragePool that reads it"}
			}
			l.conv.Padding += p
		}
		t := im.resolve(n.inputs[k])
		if _, ok := im.consts[t]; ok {
			return unsupported("input %d (%q) is a constant; only activations are supported there", k, n.inputs[k])
		}
		l.in = append(l.in, t)
	}
	im.layers = append(im.layers, l)
	return nil
}

// fuseSelfMul reports whether node i's only reader is Mul(x, node i(x)) —
// torch.onnx's Hardswish and SiLU at opsets without those ops — and if so
// marks the Mul fused and returns its output.
func (im *importer) fuseSelfMul(i int) (string, bool) {
	n := &im.g.nodes[i]
	x, y := im.resolve(n.inputs[0]), n.outputs[0]
	us := im.users[y]
	if len(us) != 1 || im.isOutput(y) {
		return "", false
	}
	m := &im.g.nodes[us[0]]
	if m.opType != "Mul" || len(m.inputs) != 2 || len(m.outputs) < 1 || m.outputs[0] == "" {
		return "", false
	}
	a, b := im.resolve(m.inputs[0]), im.resolve(m.inputs[1])
	if (a == x && b == y) || (a == y && b == x) {
		im.fused[us[0]] = true
		return m.outputs[0], true
	}
	return "", false
}
