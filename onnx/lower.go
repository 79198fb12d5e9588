package onnx

import (
	"fmt"
	"math"
	"strconv"
	"strings"

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
	output string
	layers []layer
}

func importGraph(g *graphProto, opset int64, name string) (*Imported, error) {
	im := &importer{g: g, opset: opset, consts: map[string]*tensorProto{}, alias: map[string]string{}, pads: map[string]int{}, users: map[string][]int{}}
	for i := range g.initializers {
		t := &g.initializers[i]
		im.consts[t.name] = t
	}
	if err := im.sortNodes(); err != nil {
		return nil, err
	}
	c, size, err := im.findInput()
	if err != nil {
		return nil, err
	}
	if err := im.findOutput(); err != nil {
		return nil, err
	}
	if err := im.foldConstants(); err != nil {
		return nil, err
	}
	im.output = im.resolve(im.output)
	if _, ok := im.consts[im.output]; ok {
		return nil, fmt.Errorf("output %q is a constant", g.outputs[0].name)
	}
	if im.output == im.input {
		return nil, fmt.Errorf("graph computes nothing: output %q is the input", g.outputs[0].name)
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

// sortNodes checks that every node reads only tensors made before it, and
// puts the nodes in such an order when the file does not (ONNX requires
// it, not every writer honours it).
func (im *importer) sortNodes() error {
	nodes := im.g.nodes
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return fmt.Errorf("tensor %q is written by nodes %q and %q", o, nodes[j].name, n.name)
			}
			producer[o] = i
		}
	}
	// Kahn's algorithm, taking nodes in file order when several are ready.
	indeg := make([]int, len(nodes))
	next := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, in := range n.inputs {
			if j, ok := producer[in]; ok && in != "" {
				indeg[i]++
				next[j] = append(next[j], i)
			}
		}
	}
	order := make([]int, 0, len(nodes))
	ready := []int{}
	for i := range nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		// Smallest index first keeps a sorted file as it is.
		k := 0
		for j := range ready {
			if ready[j] < ready[k] {
				k = j
			}
		}
		i := ready[k]
		ready = append(ready[:k], ready[k+1:]...)
		order = append(order, i)
		for _, j := range next[i] {
			if indeg[j]--; indeg[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(order) != len(nodes) {
		return fmt.Errorf("the graph has a cycle")
	}
	sorted := make([]nodeProto, len(nodes))
	for k, i := range order {
		sorted[k] = nodes[i]
	}
	im.g.nodes = sorted
	im.live = make([]bool, len(nodes))
	im.fused = make([]bool, len(nodes))
	return nil
}

// findInput picks the one graph input that is not an initializer and
// returns its per-sample channels and square size.
func (im *importer) findInput() (channels, size int, err error) {
	var ins []valueInfo
	for _, v := range im.g.inputs {
		if _, ok := im.consts[v.name]; !ok {
			ins = append(ins, v)
		}
	}
	if len(ins) != 1 {
		names := make([]string, len(ins))
		for i, v := range ins {
			names[i] = v.name
		}
		return 0, 0, fmt.Errorf("the graph has %d inputs %q; exactly one image input is supported", len(ins), names)
	}
	v := ins[0]
	im.input = v.name
	if v.elemType != dtFloat {
		return 0, 0, fmt.Errorf("input %q has element type %d; only float32 is supported", v.name, v.elemType)
	}
	if !v.hasShape || len(v.dims) != 4 {
		return 0, 0, fmt.Errorf("input %q must declare a [N C H W] shape, got %s", v.name, dimsString(v.dims))
	}
	if b := v.dims[0]; b.param == "" && b.value != 1 {
		return 0, 0, fmt.Errorf("input %q has batch %d; the import assumes batch 1 (or a symbolic batch)", v.name, b.value)
	}
	for _, d := range v.dims[1:] {
		if d.param != "" || d.value < 1 || d.value > math.MaxInt32 {
			return 0, 0, fmt.Errorf("input %q: shape %s must have fixed positive C, H, W", v.name, dimsString(v.dims))
		}
	}
	if v.dims[2].value != v.dims[3].value {
		return 0, 0, fmt.Errorf("input %q: %d×%d image; only square inputs are supported", v.name, v.dims[2].value, v.dims[3].value)
	}
	return int(v.dims[1].value), int(v.dims[2].value), nil
}

func dimsString(ds []dim) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		if d.param != "" {
			parts[i] = d.param
		} else {
			parts[i] = fmt.Sprint(d.value)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (im *importer) findOutput() error {
	if len(im.g.outputs) != 1 {
		return fmt.Errorf("the graph has %d outputs; exactly one is supported", len(im.g.outputs))
	}
	im.output = im.g.outputs[0].name
	// A node is live when the output depends on it; dead nodes (left-over
	// shape computations) are ignored whatever their op.
	need := map[string]bool{im.output: true}
	for i := len(im.g.nodes) - 1; i >= 0; i-- {
		n := &im.g.nodes[i]
		for _, o := range n.outputs {
			if need[o] {
				im.live[i] = true
			}
		}
		if im.live[i] {
			for _, in := range n.inputs {
				need[in] = true
			}
		}
	}
	return nil
}

// padOf is the zero padding that Pad nodes add on the way from t's
// activation (resolve(t)) to t.
func (im *importer) padOf(t string) int {
	p := 0
	for {
		p += im.pads[t]
		a, ok := im.alias[t]
		if !ok {
			return p
		}
		t = a
	}
}

// padding reads a Pad node that pads height and width equally with zeros —
// torch.onnx writes one before AvgPool2d, and it folds into the Conv or
// AveragePool that reads it.
func (im *importer) padding(n *nodeProto) (int, error) {
	unsupported := func(format string, args ...any) error {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf(format, args...)}
	}
	if len(n.inputs) < 1 || len(n.outputs) != 1 {
		return 0, fmt.Errorf("Pad node %q needs an input and one output", label(n))
	}
	a := attrs{n}
	if mode := a.string("mode", "constant"); mode != "constant" {
		return 0, unsupported("mode %q; only constant (zero) padding is supported", mode)
	}
	pads, value := a.ints("pads"), a.float("value", 0)
	if im.opset >= 11 {
		t, err := im.constant(n, 1)
		if err != nil {
			return 0, err
		}
		v, err := t.values()
		if err != nil {
			return 0, fmt.Errorf("Pad node %q: %w", label(n), err)
		}
		pads = make([]int64, len(v))
		for k, x := range v {
			pads[k] = int64(x)
		}
		if len(n.inputs) > 2 && n.inputs[2] != "" {
			t, err := im.constant(n, 2)
			if err != nil {
				return 0, err
			}
			v, err := t.values()
			if err != nil || len(v) != 1 {
				return 0, fmt.Errorf("Pad node %q: constant value must be one number (%v)", label(n), err)
			}
			value = v[0]
		}
	}
	if value != 0 {
		return 0, unsupported("padding value %g; only zero padding is supported", value)
	}
	// [N C H W] begins, then ends.
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 ||
		pads[2] != pads[3] || pads[2] != pads[6] || pads[2] != pads[7] || pads[2] < 0 || pads[2] > math.MaxInt32 {
		return 0, unsupported("pads %v; only equal padding of height and width is supported", pads)
	}
	return int(pads[2]), nil
}

func (im *importer) resolve(t string) string {
	for {
		a, ok := im.alias[t]
		if !ok {
			return t
		}
		t = a
	}
}

// foldConstants records Constant nodes and Identity nodes (torch.onnx
// writes Identity to share equal initializers) and counts the readers of
// every activation tensor.
func (im *importer) foldConstants() error {
	for i := range im.g.nodes {
		n := &im.g.nodes[i]
		if !im.live[i] {
			continue
		}
		if n.domain != "" && n.domain != "ai.onnx" {
			return &UnsupportedOpError{Op: n.domain + "." + n.opType, Node: label(n)}
		}
		switch n.opType {
		case "Constant":
			t, err := constantValue(n)
			if err != nil {
				return err
			}
			if len(n.outputs) == 1 {
				t.name = n.outputs[0]
				im.consts[n.outputs[0]] = t
			}
			im.fused[i] = true
		case "Identity":
			if len(n.inputs) != 1 || len(n.outputs) != 1 {
				return fmt.Errorf("Identity node %q needs one input and one output", label(n))
			}
			if t, ok := im.consts[im.resolve(n.inputs[0])]; ok {
				im.consts[n.outputs[0]] = t
			} else {
				im.alias[n.outputs[0]] = n.inputs[0]
			}
			im.fused[i] = true
		case "Pad":
			p, err := im.padding(n)
			if err != nil {
				return err
			}
			im.alias[n.outputs[0]] = n.inputs[0]
			im.pads[n.outputs[0]] = p
			im.fused[i] = true
		}
	}
	for i := range im.g.nodes {
		if !im.live[i] || im.fused[i] {
			continue
		}
		for _, in := range im.g.nodes[i].inputs {
			in = im.resolve(in)
			if _, ok := im.consts[in]; !ok && in != "" {
				im.users[in] = append(im.users[in], i)
			}
		}
	}
	return nil
}

func constantValue(n *nodeProto) (*tensorProto, error) {
	for _, a := range n.attrs {
		switch a.name {
		case "value":
			if a.t == nil {
				break
			}
			return a.t, nil
		case "value_float":
			return &tensorProto{dataType: dtFloat, floats: []float32{a.f}}, nil
		case "value_floats":
			return &tensorProto{dataType: dtFloat, dims: []int64{int64(len(a.floats))}, floats: a.floats}, nil
		case "value_int":
			return &tensorProto{dataType: dtInt64, int64s: []int64{a.i}}, nil
		case "value_ints":
			return &tensorProto{dataType: dtInt64, dims: []int64{int64(len(a.ints))}, int64s: a.ints}, nil
		}
	}
	return nil, &UnsupportedOpError{Op: "Constant", Node: label(n), Reason: "only tensor, float and int values are supported"}
}

// attrs gives typed access to a node's attributes with defaults.
type attrs struct{ n *nodeProto }

func (a attrs) find(name string) *attribute {
	for i := range a.n.attrs {
		if a.n.attrs[i].name == name {
			return &a.n.attrs[i]
		}
	}
	return nil
}

func (a attrs) int(name string, def int64) int64 {
	if at := a.find(name); at != nil {
		return at.i
	}
	return def
}

// float reads a float attribute, as the shortest decimal that is the
// same float32 (so eps 1e-5 reads as 1e-5, not 9.99999974e-06).
func (a attrs) float(name string, def float64) float64 {
	if at := a.find(name); at != nil {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(at.f), 'g', -1, 32), 64)
		return v
	}
	return def
}

func (a attrs) ints(name string) []int64 {
	if at := a.find(name); at != nil {
		return at.ints
	}
	return nil
}

func (a attrs) string(name, def string) string {
	if at := a.find(name); at != nil {
		return string(at.s)
	}
	return def
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
	if len(us) != 1 || y == im.output {
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

// constant returns input k of n, which must be a constant.
func (im *importer) constant(n *nodeProto, k int) (*tensorProto, error) {
	if k >= len(n.inputs) || n.inputs[k] == "" {
		return nil, fmt.Errorf("%s node %q: input %d is missing", n.opType, label(n), k)
	}
	t, ok := im.consts[im.resolve(n.inputs[k])]
	if !ok {
		return nil, &UnsupportedOpError{Op: n.opType, Node: label(n),
			Reason: fmt.Sprintf("input %d (%q) is computed; only constant (initializer) values are supported there", k, n.inputs[k])}
	}
	return t, nil
}

// weight reads float input k of n; absent optional inputs give a zero
// param.
func (im *importer) weight(n *nodeProto, k int, required bool) (param, error) {
	if !required && (k >= len(n.inputs) || n.inputs[k] == "") {
		return param{}, nil
	}
	t, err := im.constant(n, k)
	if err != nil {
		return param{}, err
	}
	data, err := t.float32s()
	if err != nil {
		return param{}, fmt.Errorf("%s node %q: %w", n.opType, label(n), err)
	}
	return param{dims: t.dims, data: data}, nil
}

func (im *importer) onlyFirstOutputUsed(n *nodeProto) error {
	for _, o := range n.outputs[1:] {
		if o != "" && (len(im.users[o]) > 0 || o == im.output) {
			return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("output %q is used; only the first output is supported", o)}
		}
	}
	return nil
}

// square reads a 2-D attribute that must have equal entries (the model's
// kernels, strides and dilations are square), def when absent.
func square(n *nodeProto, name string, def int64) (int, error) {
	v := attrs{n}.ints(name)
	if v == nil {
		return int(def), nil
	}
	if len(v) != 2 {
		return 0, &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("%s %v: only 2-D is supported", name, v)}
	}
	if v[0] != v[1] || v[0] < 0 || v[0] > math.MaxInt32 {
		return 0, &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("%s %v: only equal height and width are supported", name, v)}
	}
	return int(v[0]), nil
}

// window reads the kernel/stride/padding/dilation attributes shared by
// Conv and the pools.
func window(n *nodeProto, kernel int) (c model.Conv, autoPad string, err error) {
	a := attrs{n}
	if a.find("kernel_shape") != nil {
		if kernel, err = square(n, "kernel_shape", 0); err != nil {
			return c, "", err
		}
	}
	c.Kernel = kernel
	if c.Stride, err = square(n, "strides", 1); err != nil {
		return c, "", err
	}
	if c.Dilation, err = square(n, "dilations", 1); err != nil {
		return c, "", err
	}
	if pads := a.ints("pads"); pads != nil {
		if len(pads) != 4 || pads[0] != pads[1] || pads[0] != pads[2] || pads[0] != pads[3] || pads[0] > math.MaxInt32 {
			return c, "", &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("pads %v: only equal padding on all sides is supported", pads)}
		}
		c.Padding = int(pads[0])
	}
	autoPad = a.string("auto_pad", "NOTSET")
	switch autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return c, "", &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("auto_pad %q", autoPad)}
	}
	if autoPad == "VALID" {
		c.Padding = 0
	}
	return c, autoPad, nil
}

func (im *importer) lowerConv(n *nodeProto, l *layer) error {
	w, err := im.weight(n, 1, true)
	if err != nil {
		return err
	}
	if len(w.dims) != 4 {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("weight dims %v: only 2-D convolution is supported", w.dims)}
	}
	if w.dims[2] != w.dims[3] {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("kernel %d×%d: only square kernels are supported", w.dims[2], w.dims[3])}
	}
	b, err := im.weight(n, 2, false)
	if err != nil {
		return err
	}
	c, autoPad, err := window(n, int(w.dims[2]))
	if err != nil {
		return err
	}
	if int64(c.Kernel) != w.dims[2] {
		return fmt.Errorf("Conv node %q: kernel_shape %d but weight dims %v", label(n), c.Kernel, w.dims)
	}
	group := attrs{n}.int("group", 1)
	if group < 1 || group > math.MaxInt32 || w.dims[0] > math.MaxInt32 {
		return fmt.Errorf("Conv node %q: group %d, weight dims %v", label(n), group, w.dims)
	}
	c.Groups, c.OutChannels, c.Bias = int(group), int(w.dims[0]), b.data != nil
	l.conv, l.autoPad = c, autoPad
	l.params = map[string]param{"weight": w}
	if c.Bias {
		l.params["bias"] = b
	}
	return nil
}

func (im *importer) lowerPool(n *nodeProto, l *layer) error {
	a := attrs{n}
	if a.find("kernel_shape") == nil {
		return fmt.Errorf("%s node %q has no kernel_shape", n.opType, label(n))
	}
	c, autoPad, err := window(n, 0)
	if err != nil {
		return err
	}
	if c.Dilation != 1 {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("dilation %d", c.Dilation)}
	}
	l.op = model.OpMaxPool2d
	if n.opType == "AveragePool" {
		l.op = model.OpAvgPool2d
		// PyTorch's AvgPool2d counts the padding (count_include_pad=True),
		// as the model's AvgPool2d does.
		if c.Padding > 0 && a.int("count_include_pad", 0) == 0 {
			return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: "padding excluded from the average (count_include_pad=0)"}
		}
	} else if err := im.onlyFirstOutputUsed(n); err != nil {
		return err
	}
	l.conv, l.autoPad, l.ceil = c, autoPad, a.int("ceil_mode", 0) != 0
	return nil
}

// lowerClip maps Clip(0, 6) to ReLU6 and Clip(0, +inf) to ReLU. Before
// opset 11 the bounds are attributes, after it optional inputs.
func (im *importer) lowerClip(n *nodeProto) (model.Op, error) {
	lo, hi := math.Inf(-1), math.Inf(1)
	if im.opset < 11 {
		a := attrs{n}
		lo, hi = a.float("min", lo), a.float("max", hi)
	} else {
		for k, bound := range []*float64{&lo, &hi} {
			if k+1 >= len(n.inputs) || n.inputs[k+1] == "" {
				continue
			}
			t, err := im.constant(n, k+1)
			if err != nil {
				return "", err
			}
			v, err := t.values()
			if err != nil || len(v) != 1 {
				return "", fmt.Errorf("Clip node %q: bound %q must be one number (%v)", label(n), n.inputs[k+1], err)
			}
			*bound = v[0]
		}
	}
	switch {
	case lo == 0 && hi == 6:
		return model.OpReLU6, nil
	case lo == 0 && math.IsInf(hi, 1):
		return model.OpReLU, nil
	}
	return "", &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("min %g, max %g; only ReLU6 (min 0, max 6) and ReLU (min 0) are supported", lo, hi)}
}

func (im *importer) lowerGemm(n *nodeProto, l *layer) error {
	a := attrs{n}
	if a.int("transA", 0) != 0 {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: "transA=1"}
	}
	w, err := im.weight(n, 1, true)
	if err != nil {
		return err
	}
	if len(w.dims) != 2 {
		return fmt.Errorf("Gemm node %q: weight dims %v, want 2-D", label(n), w.dims)
	}
	if alpha := float32(a.float("alpha", 1)); alpha != 1 {
		w.data = scaled(w.data, alpha)
	}
	l.op = model.OpLinear
	l.linearT = a.int("transB", 0) == 0
	l.params = map[string]param{"weight": w}
	b, err := im.weight(n, 2, false)
	if err != nil {
		return err
	}
	if b.data != nil {
		if beta := float32(a.float("beta", 1)); beta != 1 {
			b.data = scaled(b.data, beta)
		}
		l.params["bias"] = b
	}
	return nil
}

// lowerMatMul maps MatMul by a constant [in, out] matrix to Linear, taking
// a following Add of a constant as its bias.
func (im *importer) lowerMatMul(i int, l *layer) error {
	n := &im.g.nodes[i]
	w, err := im.weight(n, 1, true)
	if err != nil {
		return err
	}
	if len(w.dims) != 2 {
		return &UnsupportedOpError{Op: n.opType, Node: label(n), Reason: fmt.Sprintf("weight dims %v: only a 2-D constant right operand is supported", w.dims)}
	}
	l.op, l.linearT = model.OpLinear, true
	l.params = map[string]param{"weight": w}
	us := im.users[l.out]
	if len(us) != 1 || l.out == im.output {
		return nil
	}
	add := &im.g.nodes[us[0]]
	if add.opType != "Add" || len(add.inputs) != 2 || len(add.outputs) < 1 || add.outputs[0] == "" {
		return nil
	}
	k := 1
	if im.resolve(add.inputs[1]) == l.out {
		k = 0
	}
	if _, ok := im.consts[im.resolve(add.inputs[k])]; !ok {
		return nil
	}
	b, err := im.weight(add, k, true)
	if err != nil {
		return err
	}
	l.params["bias"] = b
	l.out = add.outputs[0]
	im.fused[us[0]] = true
	return nil
}

func scaled(x []float32, s float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = v * s
	}
	return out
}

// modulePath recovers the torch module path from a node name written by
// torch.onnx, e.g. "/1/block/block.0/block.0.0/Conv" → 1.block.0.0. Each
// scope names a module either by its full path or, as torch 1.13 does, by
// the path's tail from its last non-numeric atom ("block.0.0"); a
// numeric-only scope ("0.0") is the full path. Nil when the name has no
// scopes.
func modulePath(name string) []string {
	if !strings.HasPrefix(name, "/") {
		return nil
	}
	scopes := strings.Split(name[1:], "/")
	var path []string
	for _, s := range scopes[:len(scopes)-1] { // the last part is the op
		if s == "" {
			return nil
		}
		atoms := strings.Split(s, ".")
		if len(atoms) > len(path) && equal(atoms[:len(path)], path) {
			path = atoms // a full path extending its parent
			continue
		}
		// A tail: find where in the parent its first atom sits.
		k := 0
		if last := lastNonNumeric(path); last >= 0 && path[last] == atoms[0] {
			k = len(path) - last
			if k >= len(atoms) || !equal(path[last:], atoms[:k]) {
				k = 0
			}
		}
		path = append(path[:len(path):len(path)], atoms[k:]...)
	}
	return path
}

func lastNonNumeric(atoms []string) int {
	for i := len(atoms) - 1; i >= 0; i-- {
		if !numeric(atoms[i]) {
			return i
		}
	}
	return -1
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// label names a node for messages: its name, or its first output when it
// has none.
func label(n *nodeProto) string {
	if n.name == "" && len(n.outputs) > 0 {
		return "output " + n.outputs[0]
	}
	return n.name
}
