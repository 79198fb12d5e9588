package onnx

// Reading a node's attributes and constant inputs.

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mtlsplit/mtlsplit/model"
)

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
		if o != "" && (len(im.users[o]) > 0 || im.isOutput(o)) {
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

// label names a node for messages: its name, or its first output when it
// has none.
func label(n *nodeProto) string {
	if n.name == "" && len(n.outputs) > 0 {
		return "output " + n.outputs[0]
	}
	return n.name
}
