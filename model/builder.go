package model

import (
	"fmt"
	"math"
)

// Builder assembles a Graph node by node, computing shapes, params and MACs
// as it goes. It keeps the first error; later calls are no-ops and Build
// returns that error.
//
// Every count is checked against what an int64 holds (MaxElems, MaxOps):
// a graph too large to count is an error naming the node, never a
// wrapped-around number.
type Builder struct {
	g     Graph
	err   error
	block int
	task  int
	// Totals over the nodes so far, kept within MaxElems and MaxOps so that
	// any sum a later stage makes of them (block totals, live bytes,
	// weights on a side) fits too.
	elems, params, macs int64
}

// NewBuilder starts a graph whose input is one [C, size, size] image.
func NewBuilder(name string, channels, size int) *Builder {
	b := &Builder{block: -1, task: -1}
	b.g.Name = name
	b.g.InputSize = size
	b.g.Input = Shape{channels, size, size}
	if channels < 1 || size < 1 {
		b.err = fmt.Errorf("input shape [%d %d %d] must be positive", channels, size, size)
	}
	input := Node{ID: 0, Name: "input", Op: OpInput, Block: -1, Task: -1, OutShape: b.g.Input}
	if b.err == nil {
		b.count(&input)
	}
	b.g.Nodes = []Node{input}
	return b
}

// resume continues building g (adding heads to an imported graph).
func resume(g Graph) *Builder {
	b := &Builder{g: g, block: -1, task: -1}
	for i := range g.Nodes {
		b.count(&g.Nodes[i])
	}
	return b
}

// elemsOf is the number of elements of shape s at node lbl, failing when
// it cannot be counted.
func (b *Builder) elemsOf(lbl nodeLabel, s Shape) (int64, bool) {
	n, f, ok := int64(1), 1.0, true
	for _, d := range s {
		n, f, ok = times(MaxElems, n, f, ok, int64(d))
	}
	if !ok {
		b.fail(limitError(lbl, fmt.Sprintf("its output %v", s), f, "elements", MaxElems))
	}
	return n, ok
}

// count adds node n to the graph's totals, failing when they would not fit.
func (b *Builder) count(n *Node) bool {
	lbl := label(n.Op, n.Name)
	elems, ok := b.elemsOf(lbl, n.OutShape)
	if !ok {
		return false
	}
	for _, t := range []struct {
		total      *int64
		add, limit int64
		what, unit string
	}{
		{&b.elems, elems, MaxElems, "the graph's activations", "elements"},
		{&b.params, n.Params, MaxElems, "the graph's parameters", "parameters"},
		{&b.macs, n.MACs, MaxOps, "the graph's MACs", "MACs"},
	} {
		v, ok := sum(t.limit, *t.total, t.add)
		if !ok {
			b.fail(limitError(lbl, t.what, float64(*t.total)+float64(t.add), t.unit, t.limit))
			return false
		}
		*t.total = v
	}
	return true
}

// Input is the ID of the input node.
func (b *Builder) Input() int { return 0 }

// Block starts a new top-level block; nodes added after it belong to it.
func (b *Builder) Block(name, typ string) {
	b.closeBlock()
	b.block = len(b.g.Blocks)
	b.g.Blocks = append(b.g.Blocks, Block{Name: name, Type: typ, First: len(b.g.Nodes)})
}

func (b *Builder) closeBlock() {
	if b.block < 0 {
		return
	}
	blk := &b.g.Blocks[b.block]
	blk.Output = len(b.g.Nodes) - 1
	if blk.Output < blk.First {
		b.fail(fmt.Errorf("block %q is empty", blk.Name))
		return
	}
	blk.OutShape = b.g.Nodes[blk.Output].OutShape
	for _, n := range b.g.Nodes[blk.First : blk.Output+1] {
		blk.Params += n.Params // within the graph's checked totals
		blk.MACs += n.MACs
	}
	b.block = -1
}

// Head starts the head of a task; nodes added after it belong to it. A
// head is any sub-graph that reads only its own nodes and the backbone's
// output. classes 0 means the number of values the head's last node makes
// (a head imported from a file, whose output need not be class logits).
func (b *Builder) Head(task string, classes int) {
	b.closeBlock()
	b.closeHead()
	b.task = len(b.g.Heads)
	b.g.Heads = append(b.g.Heads, Head{Task: task, Classes: classes})
}

func (b *Builder) closeHead() {
	if b.task < 0 {
		return
	}
	h := &b.g.Heads[b.task]
	if len(h.Nodes) == 0 {
		b.fail(fmt.Errorf("head %q is empty", h.Task))
		return
	}
	h.Output = h.Nodes[len(h.Nodes)-1]
	if h.Classes == 0 {
		// ≤ MaxElems (counted when added), so it fits an int; not bound by
		// MaxClasses, a policy for the zoo's class counts.
		h.Classes = int(b.g.Nodes[h.Output].OutShape.Elems())
	}
	b.task = -1
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// shape returns the output shape of node id, or nil after an error.
func (b *Builder) shape(id int) Shape {
	if b.err != nil {
		return nil
	}
	if id < 0 || id >= len(b.g.Nodes) {
		b.fail(fmt.Errorf("node %d does not exist", id))
		return nil
	}
	return b.g.Nodes[id].OutShape
}

func (b *Builder) add(n Node) int {
	if b.err != nil {
		return -1
	}
	n.ID = len(b.g.Nodes)
	n.Block, n.Task = b.block, b.task
	if b.task < 0 && b.block < 0 {
		b.fail(fmt.Errorf("%s %q added outside any block", n.Op, n.Name))
		return -1
	}
	if !b.count(&n) {
		return -1
	}
	if b.task >= 0 {
		n.Block = -1
		b.g.Heads[b.task].Nodes = append(b.g.Heads[b.task].Nodes, n.ID)
		b.g.Heads[b.task].Params += n.Params
		b.g.Heads[b.task].MACs += n.MACs
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n.ID
}

func (b *Builder) feature(name string, op Op, in int) Shape {
	s := b.shape(in)
	if s != nil && len(s) != 3 {
		b.fail(fmt.Errorf("%s %q needs a [C H W] input, got %v", op, name, s))
		return nil
	}
	return s
}

// windowOut is the spatial output size of a sliding window (floor mode);
// zero when the window does not fit, and ok false when the padded input or
// the window's reach is too large to count.
func windowOut(in, k, stride, pad, dil int) (out int, ok bool) {
	const limit = math.MaxInt64 / 4 // in + 2·pad and the reach never overflow
	padded, _, ok1 := product(limit, 2, int64(pad))
	reach, _, ok2 := product(limit, int64(dil), int64(k-1))
	if !ok1 || !ok2 || int64(in) > limit {
		return 0, false
	}
	span := int64(in) + padded - reach - 1
	if span < 0 {
		return 0, true // Go's division truncates towards zero; floor would go negative
	}
	n := span/int64(stride) + 1
	return int(n), n <= math.MaxInt
}

// Conv2d adds a convolution reading node in.
func (b *Builder) Conv2d(name string, in int, c Conv) int {
	s := b.feature(name, OpConv2d, in)
	if s == nil {
		return -1
	}
	if c.Dilation == 0 {
		c.Dilation = 1
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	c.InChannels = s[0]
	switch {
	case c.Kernel < 1 || c.Stride < 1 || c.Padding < 0 || c.OutChannels < 1:
		b.fail(fmt.Errorf("conv %q: kernel %d, stride %d, padding %d, out channels %d must be positive", name, c.Kernel, c.Stride, c.Padding, c.OutChannels))
		return -1
	case c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0:
		b.fail(fmt.Errorf("conv %q: channels %d→%d not divisible by groups %d", name, c.InChannels, c.OutChannels, c.Groups))
		return -1
	}
	lbl := label(OpConv2d, name)
	h, w, ok := b.window(lbl, s, c.Kernel, c.Stride, c.Padding, c.Dilation)
	if !ok {
		return -1
	}
	out := Shape{c.OutChannels, h, w}
	elems, ok := b.elemsOf(lbl, out)
	if !ok {
		return -1
	}
	// Weights per output value, all weights, and one MAC per weight and
	// output position.
	perOut, f, ok := product(MaxElems, int64(c.InChannels/c.Groups), int64(c.Kernel), int64(c.Kernel))
	if !ok {
		b.fail(limitError(lbl, "the weights per output", f, "parameters", MaxElems))
		return -1
	}
	weights, f, ok := product(MaxElems, int64(c.OutChannels), perOut)
	if !ok {
		b.fail(limitError(lbl, "the weights", f, "parameters", MaxElems))
		return -1
	}
	params := weights
	if c.Bias {
		if params, ok = sum(MaxElems, weights, int64(c.OutChannels)); !ok {
			b.fail(limitError(lbl, "the weights and biases", float64(weights)+float64(c.OutChannels), "parameters", MaxElems))
			return -1
		}
	}
	macs, f, ok := product(MaxOps, elems, perOut)
	if !ok {
		b.fail(limitError(lbl, "its work", f, "MACs", MaxOps))
		return -1
	}
	return b.add(Node{Name: name, Op: OpConv2d, Inputs: []int{in}, Conv: c, OutShape: out, Params: params, MACs: macs})
}

// window is the output height and width of a sliding window over the
// [C H W] input s, failing when it does not fit or cannot be counted.
func (b *Builder) window(lbl nodeLabel, s Shape, kernel, stride, pad, dil int) (h, w int, ok bool) {
	h, okH := windowOut(s[1], kernel, stride, pad, dil)
	w, okW := windowOut(s[2], kernel, stride, pad, dil)
	switch {
	case !okH || !okW:
		b.fail(fmt.Errorf("%s: kernel %d, stride %d, padding %d, dilation %d on input %v are too large to count", lbl, kernel, stride, pad, dil, s))
		return 0, 0, false
	case h < 1 || w < 1:
		b.fail(fmt.Errorf("%s: input %v too small for kernel %d stride %d", lbl, s, kernel, stride))
		return 0, 0, false
	}
	return h, w, true
}

// BatchNorm2d adds batch normalization (weight and bias are parameters; the
// running statistics are buffers and are not counted).
func (b *Builder) BatchNorm2d(name string, in int, eps float64) int {
	s := b.feature(name, OpBatchNorm2d, in)
	if s == nil {
		return -1
	}
	return b.add(Node{Name: name, Op: OpBatchNorm2d, Inputs: []int{in}, Eps: eps, OutShape: s,
		Params: 2 * int64(s[0]), ElementwiseOps: s.Elems()}) // C ≤ its input's elements ≤ MaxElems
}

// Activation adds an elementwise activation (ReLU, Hardswish, SiLU, ...).
func (b *Builder) Activation(name string, op Op, in int) int {
	s := b.shape(in)
	if s == nil {
		return -1
	}
	switch op {
	case OpReLU, OpReLU6, OpHardswish, OpHardsigmoid, OpSiLU, OpSigmoid:
	default:
		b.fail(fmt.Errorf("%q: %s is not an activation", name, op))
		return -1
	}
	return b.add(Node{Name: name, Op: op, Inputs: []int{in}, OutShape: s, ElementwiseOps: s.Elems()})
}

// MaxPool2d adds max pooling (floor mode).
func (b *Builder) MaxPool2d(name string, in, kernel, stride, pad int) int {
	return b.pool(name, OpMaxPool2d, in, kernel, stride, pad)
}

// AvgPool2d adds average pooling (floor mode).
func (b *Builder) AvgPool2d(name string, in, kernel, stride, pad int) int {
	return b.pool(name, OpAvgPool2d, in, kernel, stride, pad)
}

func (b *Builder) pool(name string, op Op, in, kernel, stride, pad int) int {
	s := b.feature(name, op, in)
	if s == nil {
		return -1
	}
	if kernel < 1 || stride < 1 || pad < 0 || 2*pad > kernel {
		b.fail(fmt.Errorf("%s %q: kernel %d, stride %d, padding %d invalid", op, name, kernel, stride, pad))
		return -1
	}
	lbl := label(op, name)
	h, w, ok := b.window(lbl, s, kernel, stride, pad, 1)
	if !ok {
		return -1
	}
	out := Shape{s[0], h, w}
	elems, ok := b.elemsOf(lbl, out)
	if !ok {
		return -1
	}
	ops, f, ok := product(MaxOps, elems, int64(kernel), int64(kernel))
	if !ok {
		b.fail(limitError(lbl, "its work", f, "operations", MaxOps))
		return -1
	}
	return b.add(Node{Name: name, Op: op, Inputs: []int{in},
		Conv:     Conv{InChannels: s[0], OutChannels: s[0], Kernel: kernel, Stride: stride, Padding: pad, Dilation: 1, Groups: s[0]},
		OutShape: out, ElementwiseOps: ops})
}

// AdaptiveAvgPool2d adds adaptive average pooling to size×size.
func (b *Builder) AdaptiveAvgPool2d(name string, in, size int) int {
	s := b.feature(name, OpAdaptiveAvgPool2d, in)
	if s == nil {
		return -1
	}
	if size < 1 {
		b.fail(fmt.Errorf("adaptive pool %q: output size %d must be positive", name, size))
		return -1
	}
	return b.add(Node{Name: name, Op: OpAdaptiveAvgPool2d, Inputs: []int{in}, Features: size,
		OutShape: Shape{s[0], size, size}, ElementwiseOps: s.Elems()})
}

// Linear adds a fully connected layer on a flat input.
func (b *Builder) Linear(name string, in, outFeatures int, bias bool) int {
	s := b.shape(in)
	if s == nil {
		return -1
	}
	if len(s) != 1 || outFeatures < 1 {
		b.fail(fmt.Errorf("linear %q needs a flat input and positive out features, got %v → %d", name, s, outFeatures))
		return -1
	}
	macs, f, ok := product(MaxElems, int64(s[0]), int64(outFeatures))
	if !ok {
		b.fail(limitError(label(OpLinear, name), "the weights", f, "parameters", MaxElems))
		return -1
	}
	params := macs
	if bias {
		if params, ok = sum(MaxElems, macs, int64(outFeatures)); !ok {
			b.fail(limitError(label(OpLinear, name), "the weights and biases", float64(macs)+float64(outFeatures), "parameters", MaxElems))
			return -1
		}
	}
	return b.add(Node{Name: name, Op: OpLinear, Inputs: []int{in}, Features: outFeatures,
		Conv: Conv{InChannels: s[0], OutChannels: outFeatures, Bias: bias}, OutShape: Shape{outFeatures}, Params: params, MACs: macs})
}

// Identity adds an op that is the identity at inference (Dropout,
// StochasticDepth).
func (b *Builder) Identity(name string, op Op, in int) int {
	s := b.shape(in)
	if s == nil {
		return -1
	}
	if op != OpDropout && op != OpStochasticDepth {
		b.fail(fmt.Errorf("%q: %s is not an inference identity", name, op))
		return -1
	}
	return b.add(Node{Name: name, Op: op, Inputs: []int{in}, OutShape: s})
}

// Flatten reshapes a feature map to one dimension.
func (b *Builder) Flatten(name string, in int) int {
	s := b.shape(in)
	if s == nil {
		return -1
	}
	n := s.Elems() // ≤ MaxElems: counted when its producer was added
	if n > math.MaxInt {
		b.fail(limitError(label(OpFlatten, name), "the flat length", float64(n), "elements", math.MaxInt))
		return -1
	}
	return b.add(Node{Name: name, Op: OpFlatten, Inputs: []int{in}, OutShape: Shape{int(n)}})
}

// Add is the residual sum of two tensors of equal shape.
func (b *Builder) Add(name string, x, y int) int {
	sx, sy := b.shape(x), b.shape(y)
	if sx == nil || sy == nil {
		return -1
	}
	if sx.String() != sy.String() {
		b.fail(fmt.Errorf("add %q: shapes %v and %v differ", name, sx, sy))
		return -1
	}
	return b.add(Node{Name: name, Op: OpAdd, Inputs: []int{x, y}, OutShape: sx})
}

// Mul scales a [C H W] feature map by a [C 1 1] tensor (squeeze-excitation).
func (b *Builder) Mul(name string, x, scale int) int {
	sx, ss := b.shape(x), b.shape(scale)
	if sx == nil || ss == nil {
		return -1
	}
	if len(sx) != 3 || len(ss) != 3 || ss[0] != sx[0] || ss[1] != 1 || ss[2] != 1 {
		b.fail(fmt.Errorf("mul %q: cannot scale %v by %v", name, sx, ss))
		return -1
	}
	return b.add(Node{Name: name, Op: OpMul, Inputs: []int{x, scale}, OutShape: sx})
}

// Concat joins tensors along their first per-sample dimension (torch.cat on
// dim 1): the channels of [C H W] maps of equal height and width, or flat
// vectors.
func (b *Builder) Concat(name string, ins ...int) int {
	if len(ins) == 0 {
		b.fail(fmt.Errorf("concat %q: no inputs", name))
		return -1
	}
	var out Shape
	for _, in := range ins {
		s := b.shape(in)
		if s == nil {
			return -1
		}
		if out == nil {
			out = append(Shape(nil), s...)
			continue
		}
		if len(s) != len(out) || (len(s) == 3 && (s[1] != out[1] || s[2] != out[2])) {
			b.fail(fmt.Errorf("concat %q: cannot join %v and %v", name, out, s))
			return -1
		}
		c, ok := sum(math.MaxInt, int64(out[0]), int64(s[0]))
		if !ok {
			b.fail(limitError(label(OpConcat, name), "the channels", float64(out[0])+float64(s[0]), "channels", math.MaxInt))
			return -1
		}
		out[0] = int(c)
	}
	return b.add(Node{Name: name, Op: OpConcat, Inputs: append([]int(nil), ins...), OutShape: out})
}

// Shape is the output shape of node id; nil after an error, and an error
// when id does not exist.
func (b *Builder) Shape(id int) Shape { return b.shape(id) }

// Err is the first error met so far.
func (b *Builder) Err() error { return b.err }

// Build closes the last block or head and returns the graph.
func (b *Builder) Build() (*Graph, error) {
	b.closeBlock()
	b.closeHead()
	if b.err != nil {
		return nil, fmt.Errorf("build %s at input %d: %w", b.g.Name, b.g.InputSize, b.err)
	}
	if len(b.g.Blocks) == 0 {
		return nil, fmt.Errorf("build %s: no blocks", b.g.Name)
	}
	g := b.g
	return &g, nil
}

// Nodes are the nodes added so far (read-only).
func (b *Builder) Nodes() []Node { return b.g.Nodes }
