package onnx

// Pad nodes: zero padding that folds into the Conv or AveragePool reading it.

import (
	"fmt"
	"math"
)

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
