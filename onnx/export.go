package onnx

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/model"
)

// ExportOpset is the ai.onnx opset Export writes: torch.onnx's default,
// and the one the importer is tested at. It has no HardSwish (opset 14), so
// Hardswish goes out as torch writes it there, x·HardSigmoid(x), and SiLU
// as x·Sigmoid(x); the importer fuses both back.
const ExportOpset = 13

// exportIRVersion is the IR version of ONNX 1.8, the release that brought
// opset 13: the oldest runtime that can read the file accepts it.
const exportIRVersion = 7

// InputName is the name of the image input Export writes.
const InputName = "input"

// Tensors gives Export a graph's weights by node name and PyTorch
// parameter name (weight, bias, running_mean, running_var) in PyTorch's
// C-order layout; *engine.Weights is one. An interface, not the engine's
// type, so that writing a file never links the engine.
type Tensors interface {
	Get(node, param string) []float32
}

// ExportOptions are the choices Export leaves to its caller. The zero value
// names each output after its head's task and fixes the batch at 1.
type ExportOptions struct {
	// Tasks names the outputs, one per head in order; empty keeps the
	// heads' own task names. The names must be distinct and not "input".
	Tasks []string
	// DynamicBatch declares the batch dimension of the input and outputs
	// symbolic ("batch") instead of 1.
	DynamicBatch bool
	// Metadata goes into the model's metadata_props, keys sorted.
	Metadata map[string]string
	// Part, when set, writes only a piece of the graph (one side of a
	// split) instead of the whole network; Tasks is then unused.
	Part *Part
}

// Part is the piece of a graph one side of a split computes: its nodes,
// the tensors it receives from another side as graph inputs and the
// tensors it hands on (or gives as results) as graph outputs.
type Part struct {
	// Nodes marks, by node ID, the nodes the file computes (the input
	// node is never computed: give it as an input).
	Nodes []bool
	// Inputs are tensors made elsewhere; node 0 is the image.
	Inputs []Port
	// Outputs are the tensors the file gives, each made by one of Nodes
	// or passed through from Inputs.
	Outputs []Port
}

// Port is a node's output tensor under a graph input or output name.
type Port struct {
	Node int
	Name string
}

// Export writes g with its weights to w as an opset-13 ONNX model: one
// float32 input "input" [1 C H W], one output per task head named after
// the task (a graph without heads has one output, "output", its backbone),
// and every parameter as an initializer named by its state_dict key
// ("features.0.0.weight"). Batch norm stays a BatchNormalization node in
// inference mode; dropout and stochastic depth, identities at inference,
// are left out, as torch.onnx leaves them out. ONNX node names carry the
// model node's module path as a torch scope ("/features.3.block.0.0/Conv"),
// so the importer gives the layers their zoo names back and groups them
// into the same top-level blocks.
func Export(w io.Writer, g *model.Graph, weights Tensors, opts ExportOptions) error {
	b, err := Encode(g, weights, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Encode is Export into memory.
func Encode(g *model.Graph, weights Tensors, opts ExportOptions) ([]byte, error) {
	if g == nil || weights == nil || len(g.Nodes) == 0 {
		return nil, errors.New("export onnx: nil graph or weights")
	}
	e := &exporter{g: g, weights: weights, tensor: make([]string, len(g.Nodes)),
		nodeNames: map[string]int{}, tensors: map[string]bool{}, params: map[string]bool{}}
	inputs := []Port{{0, InputName}}
	compute := func(int) bool { return true }
	var outputs []Port
	var err error
	if p := opts.Part; p != nil {
		inputs, compute = p.Inputs, func(id int) bool { return p.Nodes[id] }
		outputs, err = e.partPorts(p)
	} else {
		e.tensors[InputName] = true
		outputs, err = e.outputs(opts.Tasks)
	}
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", g.Name, err)
	}
	for _, in := range inputs {
		e.tensor[in.Node] = in.Name
	}
	for i := 1; i < len(g.Nodes); i++ {
		if !compute(i) {
			continue
		}
		if err := e.node(&g.Nodes[i]); err != nil {
			return nil, fmt.Errorf("export %s: %s %q: %w", g.Name, g.Nodes[i].Op, g.Nodes[i].Name, err)
		}
	}
	for _, o := range outputs {
		// An output that is a tensor under another name (a head that is
		// only a dropout, a tensor a part passes through) gets it through
		// an Identity.
		if t := e.tensor[o.Node]; t != o.Name {
			e.nodes = append(e.nodes, nodeMessage(e.nodeName(o.Name, "Identity"), "Identity", []string{t}, []string{o.Name}))
		}
	}
	batch := map[int]string{}
	if opts.DynamicBatch {
		batch[0] = "batch"
	}
	var gm message
	for _, n := range e.nodes {
		gm = gm.bytes(graphNode, n)
	}
	gm = gm.str(graphName, g.Name)
	for _, t := range e.inits {
		gm = gm.bytes(graphInitializer, t)
	}
	for _, in := range inputs {
		gm = gm.bytes(graphInput, valueInfoMessage(in.Name, dims(g.Nodes[in.Node].OutShape), batch))
	}
	for _, o := range outputs {
		gm = gm.bytes(graphOutput, valueInfoMessage(o.Name, dims(g.Nodes[o.Node].OutShape), batch))
	}
	m := message(nil).varint(modelIRVersion, exportIRVersion).str(modelProducer, "mtlsplit").
		bytes(modelGraph, gm).bytes(modelOpset, message(nil).str(opsetDomain, "").varint(opsetVersion, ExportOpset))
	keys := make([]string, 0, len(opts.Metadata))
	for k := range opts.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m = m.bytes(modelMetadata, message(nil).str(entryKey, k).str(entryValue, opts.Metadata[k]))
	}
	if len(m) > math.MaxInt32 {
		return nil, fmt.Errorf("export %s: %d bytes; an ONNX file above 2 GiB needs external data, which Export does not write", g.Name, len(m))
	}
	return m, nil
}

// exporter holds one export's state.
type exporter struct {
	g       *model.Graph
	weights Tensors
	nodes   []message
	inits   []message
	// tensor[id] names the ONNX tensor holding node id's output (an
	// identity's is its input's).
	tensor []string
	// rename[id] is the graph output node id's last ONNX node writes.
	rename    map[int]string
	nodeNames map[string]int  // ONNX node names used, for unique ones
	tensors   map[string]bool // tensor names taken: input, weights, outputs
	params    map[string]bool // state_dict keys written (a module called twice shares them)
	clip      bool            // the ReLU6 bounds are written
}

// outputs names the graph's outputs, one per head (the backbone's when
// there are none), and arranges for each head's last ONNX node to write
// its output under the task's name.
func (e *exporter) outputs(tasks []string) ([]Port, error) {
	g := e.g
	var outs []Port
	switch {
	case len(tasks) > 0 && len(tasks) != len(g.Heads):
		return nil, fmt.Errorf("%d task names for %d heads", len(tasks), len(g.Heads))
	case len(g.Heads) == 0 && len(g.Blocks) == 0:
		return nil, errors.New("the graph has neither blocks nor heads")
	case len(g.Heads) == 0:
		outs = []Port{{g.Backbone(), "output"}}
	}
	for k, h := range g.Heads {
		name := h.Task
		if len(tasks) > 0 {
			name = tasks[k]
		}
		outs = append(outs, Port{h.Output, name})
	}
	e.rename = map[int]string{}
	for k, o := range outs {
		if o.Name == "" || o.Name == InputName || e.tensors[o.Name] {
			return nil, fmt.Errorf("output %d is named %q: outputs need distinct, non-empty names other than %q", k+1, o.Name, InputName)
		}
		e.tensors[o.Name] = true
		// The node that computes the output: its head's own, unless the
		// head ends in identities back to the backbone (or the input).
		id := o.Node
		for isIdentity(g.Nodes[id].Op) {
			id = g.Nodes[id].Inputs[0]
		}
		if id != 0 && (len(g.Heads) == 0 || g.Nodes[id].Task == k) {
			e.rename[id] = o.Name
		}
	}
	return outs, e.checkNames()
}

// checkNames refuses a graph input or output named like a weight.
func (e *exporter) checkNames() error {
	for _, p := range e.paramKeys() {
		if e.tensors[p] {
			return fmt.Errorf("input or output %q has the name of a weight", p)
		}
	}
	return nil
}

// partPorts checks a part — every node it computes reads only nodes it
// computes or receives, every output is one of them — and arranges for
// the node making each output to write it under the output's name.
func (e *exporter) partPorts(p *Part) ([]Port, error) {
	g := e.g
	if len(p.Nodes) != len(g.Nodes) {
		return nil, fmt.Errorf("part marks %d nodes of %d", len(p.Nodes), len(g.Nodes))
	}
	have := map[int]bool{}
	for _, in := range p.Inputs {
		if in.Node < 0 || in.Node >= len(g.Nodes) || p.Nodes[in.Node] || have[in.Node] {
			return nil, fmt.Errorf("part input %q: node %d is not a tensor made elsewhere", in.Name, in.Node)
		}
		have[in.Node] = true
	}
	for id, ok := range p.Nodes {
		if !ok || id == 0 {
			continue
		}
		for _, in := range g.Nodes[id].Inputs {
			if !p.Nodes[in] && !have[in] {
				return nil, fmt.Errorf("part computes %q but neither computes nor receives its input %q", g.Nodes[id].Name, g.Nodes[in].Name)
			}
		}
	}
	e.rename = map[int]string{}
	for _, port := range append(slices.Clone(p.Inputs), p.Outputs...) {
		if port.Name == "" || e.tensors[port.Name] {
			return nil, fmt.Errorf("part tensor %q: inputs and outputs need distinct, non-empty names", port.Name)
		}
		e.tensors[port.Name] = true
	}
	for _, o := range p.Outputs {
		if o.Node < 0 || o.Node >= len(g.Nodes) || (!p.Nodes[o.Node] && !have[o.Node]) {
			return nil, fmt.Errorf("part output %q: node %d is neither computed nor received", o.Name, o.Node)
		}
		id := o.Node
		for p.Nodes[id] && isIdentity(g.Nodes[id].Op) {
			id = g.Nodes[id].Inputs[0]
		}
		if _, taken := e.rename[id]; p.Nodes[id] && id != 0 && !taken {
			e.rename[id] = o.Name
		}
	}
	return p.Outputs, e.checkNames()
}

// paramKeys lists the state_dict keys of every parameter of the graph.
func (e *exporter) paramKeys() []string {
	var keys []string
	for i := range e.g.Nodes {
		n := &e.g.Nodes[i]
		for _, p := range paramShapes(n) {
			keys = append(keys, n.Name+"."+p.name)
		}
	}
	return keys
}

func isIdentity(op model.Op) bool { return op == model.OpDropout || op == model.OpStochasticDepth }

// paramShape is one parameter tensor of a node in PyTorch's layout, which
// is ONNX's for Conv and BatchNormalization, and Gemm's with transB=1.
type paramShape struct {
	name string
	dims []int64
}

func paramShapes(n *model.Node) []paramShape {
	switch n.Op {
	case model.OpConv2d:
		c := n.Conv
		ps := []paramShape{{"weight", []int64{int64(c.OutChannels), int64(c.InChannels / c.Groups), int64(c.Kernel), int64(c.Kernel)}}}
		if c.Bias {
			ps = append(ps, paramShape{"bias", []int64{int64(c.OutChannels)}})
		}
		return ps
	case model.OpBatchNorm2d:
		c := []int64{int64(n.OutShape[0])}
		return []paramShape{{"weight", c}, {"bias", c}, {"running_mean", c}, {"running_var", c}}
	case model.OpLinear:
		ps := []paramShape{{"weight", []int64{int64(n.Features), int64(n.Conv.InChannels)}}}
		if n.Conv.Bias {
			ps = append(ps, paramShape{"bias", []int64{int64(n.Features)}})
		}
		return ps
	}
	return nil
}

// initializers writes node n's parameters (once per module) and returns
// their names in ONNX input order.
func (e *exporter) initializers(n *model.Node) ([]string, error) {
	var names []string
	for _, p := range paramShapes(n) {
		key := n.Name + "." + p.name
		names = append(names, key)
		if e.params[key] {
			continue
		}
		data := e.weights.Get(n.Name, p.name)
		want := int64(1)
		for _, d := range p.dims {
			want *= d
		}
		if int64(len(data)) != want {
			return nil, fmt.Errorf("weight %s has %d values, want %d for shape %v", key, len(data), want, p.dims)
		}
		e.params[key] = true
		e.tensors[key] = true
		e.inits = append(e.inits, floatTensorProto(key, p.dims, data))
	}
	return names, nil
}

// scope is the torch module path an ONNX node name carries for model node
// n: its name, without the ".add"/".mul"/... the zoo appends to a
// functional op's module (the importer appends it again). Empty when the
// name cannot be a scope.
func scope(n *model.Node) string {
	s := n.Name
	if !n.Op.IsModule() {
		s = strings.TrimSuffix(s, "."+strings.ToLower(string(n.Op)))
	}
	if strings.Contains(s, "/") {
		return ""
	}
	return s
}

// nodeName is a unique ONNX node name "/<scope>/<Op>", torch's form.
func (e *exporter) nodeName(scope, op string) string {
	name := op
	if scope != "" {
		name = "/" + scope + "/" + op
	}
	k := e.nodeNames[name]
	e.nodeNames[name]++
	if k > 0 {
		name = fmt.Sprintf("%s_%d", name, k)
	}
	return name
}

// emit appends an ONNX node for model node n and returns its output
// tensor: the graph output's name when n makes one and last is set.
func (e *exporter) emit(n *model.Node, op string, ins []string, last bool, attributes ...message) string {
	name := e.nodeName(scope(n), op)
	out := name + "_output_0"
	if o, ok := e.rename[n.ID]; ok && last {
		out = o
	}
	e.nodes = append(e.nodes, nodeMessage(name, op, ins, []string{out}, attributes...))
	return out
}

// node writes model node n.
func (e *exporter) node(n *model.Node) error {
	in := make([]string, len(n.Inputs))
	for k, id := range n.Inputs {
		in[k] = e.tensor[id]
	}
	params, err := e.initializers(n)
	if err != nil {
		return err
	}
	c := n.Conv
	window := func(dilations bool) []message {
		k, s, p := int64(c.Kernel), int64(c.Stride), int64(c.Padding)
		a := []message{intsAttribute("kernel_shape", k, k), intsAttribute("pads", p, p, p, p), intsAttribute("strides", s, s)}
		if dilations {
			d := int64(c.Dilation)
			a = append(a, intsAttribute("dilations", d, d), intAttribute("group", int64(c.Groups)))
		}
		return a
	}
	var out string
	switch n.Op {
	case model.OpDropout, model.OpStochasticDepth:
		out = in[0]
	case model.OpConv2d:
		out = e.emit(n, "Conv", append(in, params...), true, window(true)...)
	case model.OpBatchNorm2d:
		out = e.emit(n, "BatchNormalization", append(in, params...), true, floatAttribute("epsilon", float32(n.Eps)))
	case model.OpLinear:
		out = e.emit(n, "Gemm", append(in, params...), true,
			floatAttribute("alpha", 1), floatAttribute("beta", 1), intAttribute("transB", 1))
	case model.OpReLU:
		out = e.emit(n, "Relu", in, true)
	case model.OpReLU6:
		out = e.emit(n, "Clip", append(in, e.clipBounds()...), true)
	case model.OpSigmoid:
		out = e.emit(n, "Sigmoid", in, true)
	case model.OpHardsigmoid:
		out = e.emit(n, "HardSigmoid", in, true, hardSigmoidAttrs()...)
	case model.OpHardswish:
		s := e.emit(n, "HardSigmoid", in, false, hardSigmoidAttrs()...)
		out = e.emit(n, "Mul", []string{in[0], s}, true)
	case model.OpSiLU:
		s := e.emit(n, "Sigmoid", in, false)
		out = e.emit(n, "Mul", []string{in[0], s}, true)
	case model.OpMaxPool2d:
		out = e.emit(n, "MaxPool", in, true, window(false)...)
	case model.OpAvgPool2d:
		// PyTorch's AvgPool2d divides by the whole window, padding
		// included.
		out = e.emit(n, "AveragePool", in, true, append(window(false), intAttribute("count_include_pad", 1))...)
	case model.OpAdaptiveAvgPool2d:
		out, err = e.adaptivePool(n, in)
	case model.OpFlatten:
		out = e.emit(n, "Flatten", in, true, intAttribute("axis", 1))
	case model.OpAdd:
		out = e.emit(n, "Add", in, true)
	case model.OpMul:
		out = e.emit(n, "Mul", in, true)
	case model.OpConcat:
		out = e.emit(n, "Concat", in, true, intAttribute("axis", 1))
	default:
		return fmt.Errorf("no ONNX form for op %s", n.Op)
	}
	e.tensor[n.ID] = out
	return err
}

// hardSigmoidAttrs are PyTorch's Hardsigmoid, relu6(x+3)/6.
func hardSigmoidAttrs() []message {
	return []message{floatAttribute("alpha", 1.0/6), floatAttribute("beta", 0.5)}
}

// adaptivePool writes an adaptive average pool to 1×1 as
// GlobalAveragePool, and one to s×s of an input s divides as the
// AveragePool whose windows tile it (the same sums).
func (e *exporter) adaptivePool(n *model.Node, in []string) (string, error) {
	s := n.Features
	if s == 1 {
		return e.emit(n, "GlobalAveragePool", in, true), nil
	}
	h, w := e.g.Nodes[n.Inputs[0]].OutShape[1], e.g.Nodes[n.Inputs[0]].OutShape[2]
	if h%s != 0 || w%s != 0 || h != w {
		return "", fmt.Errorf("adaptive pooling of %d×%d to %d×%d has uneven windows, which ONNX's pools cannot write", h, w, s, s)
	}
	k := int64(h / s)
	return e.emit(n, "AveragePool", in, true,
		intsAttribute("kernel_shape", k, k), intsAttribute("strides", k, k)), nil
}

// clipBounds are the initializers holding ReLU6's bounds, Clip's inputs
// from opset 11 on.
func (e *exporter) clipBounds() []string {
	names := []string{"onnx::Clip_min", "onnx::Clip_max"}
	if !e.clip {
		e.clip = true
		e.inits = append(e.inits, floatTensorProto(names[0], nil, []float32{0}), floatTensorProto(names[1], nil, []float32{6}))
	}
	return names
}

// dims is a per-sample shape with the batch dimension (1) in front.
func dims(s model.Shape) []int64 {
	d := []int64{1}
	for _, x := range s {
		d = append(d, int64(x))
	}
	return d
}
