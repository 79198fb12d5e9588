package onnx

// The steps before lowering: order the nodes, find the one input and
// output, fold constants and count readers.

import (
	"fmt"
	"math"
	"strings"
)

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
// returns its per-sample channels and square size. A dynamic height or
// width (a symbolic or unset dimension) takes size; a fixed one is the
// file's whatever size says.
func (im *importer) findInput(size int) (channels, side int, err error) {
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
	hw := [2]int64{}
	for k, d := range v.dims[1:] {
		switch {
		case d.param == "" && d.value >= 1 && d.value <= math.MaxInt32:
			if k > 0 {
				hw[k-1] = d.value
			}
			continue
		case k > 0 && (d.param != "" || d.value == 0) && size > 0:
			hw[k-1] = int64(size)
			continue
		case k > 0 && (d.param != "" || d.value == 0):
			return 0, 0, fmt.Errorf("input %q: shape %s: %w", v.name, dimsString(v.dims), ErrDynamicSize)
		}
		return 0, 0, fmt.Errorf("input %q: shape %s must have a fixed positive C and positive H, W", v.name, dimsString(v.dims))
	}
	if hw[0] != hw[1] {
		return 0, 0, fmt.Errorf("input %q: %d×%d image; only square inputs are supported", v.name, hw[0], hw[1])
	}
	return int(v.dims[1].value), int(hw[0]), nil
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

// findOutputs records the graph's outputs, one task each when there are
// several, and marks the live nodes.
func (im *importer) findOutputs() error {
	if len(im.g.outputs) == 0 {
		return fmt.Errorf("the graph has no outputs")
	}
	// A node is live when an output depends on it; dead nodes (left-over
	// shape computations) are ignored whatever their op.
	need := map[string]bool{}
	for _, o := range im.g.outputs {
		if need[o.name] {
			return fmt.Errorf("output %q is listed twice", o.name)
		}
		need[o.name] = true
		im.outputs = append(im.outputs, o.name)
	}
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

// isOutput reports whether tensor t is one of the graph's outputs.
func (im *importer) isOutput(t string) bool {
	for _, o := range im.outputs {
		if o == t {
			return true
		}
	}
	return false
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
