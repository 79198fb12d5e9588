package onnx

// Lowering of the ops that need more than a name: Conv, pools, Clip,
// Gemm, MatMul.

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/model"
)

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
	if len(us) != 1 || im.isOutput(l.out) {
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
