package onnx

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/model"
)

// build adds the layers to a model.Builder — the backbone block by block,
// then one head per output of a multi-output graph — which computes shapes,
// params and MACs, and checks every weight against the shape it must have.
func (im *importer) build(name string, channels, size int) (*Imported, error) {
	if len(im.layers) == 0 {
		return nil, fmt.Errorf("the graph computes nothing")
	}
	d, err := im.divide()
	if err != nil {
		return nil, err
	}
	// Cut points and blocks come from the backbone alone, so the module
	// that wraps it ("backbone.layer1.0") is a wrapper like any other and
	// the heads beside it do not merge it into one block.
	cuts := cutPoints(d.backbone, im.input, d.feature)
	b := model.NewBuilder(name, channels, size)
	ids := map[string]int{im.input: b.Input()}
	weights := map[string]map[string][]float32{}
	add := func(l *layer) error {
		id, ps, err := im.add(b, l, ids)
		if err != nil {
			return fmt.Errorf("%s node %q: %w", l.onnxOp, l.onnxName, err)
		}
		ids[l.out] = id
		if ps != nil {
			weights[l.name] = ps
		}
		return nil
	}
	for _, s := range blocks(d.backbone, cuts) {
		b.Block(s.name, s.typ)
		for i := s.first; i <= s.last; i++ {
			if err := add(&d.backbone[i]); err != nil {
				return nil, err
			}
		}
	}
	for k, h := range d.heads {
		b.Head(im.g.outputs[k].name, 0)
		for i := range h {
			if err := add(&h[i]); err != nil {
				return nil, err
			}
		}
	}
	g, err := b.Build()
	if err != nil {
		return nil, err
	}
	out := &Imported{Graph: g, Weights: weights, Input: im.input, made: ids, tensors: map[string]int{}}
	for t, id := range ids {
		out.tensors[t] = id
	}
	for a := range im.alias {
		if id, ok := ids[im.resolve(a)]; ok {
			out.tensors[a] = id
		}
	}
	for _, o := range im.g.outputs {
		out.Outputs = append(out.Outputs, o.name)
	}
	for _, c := range cuts {
		out.Cuts = append(out.Cuts, ids[d.backbone[c].out])
	}
	return out, nil
}

// add adds layer l and returns its node ID and its weights.
func (im *importer) add(b *model.Builder, l *layer, ids map[string]int) (int, map[string][]float32, error) {
	in := make([]int, len(l.in))
	for k, t := range l.in {
		id, ok := ids[t]
		if !ok {
			return -1, nil, fmt.Errorf("input %q is made by no node", t)
		}
		in[k] = id
	}
	x := in[0]
	s := b.Shape(x)
	if s == nil {
		return -1, nil, b.Err()
	}
	var ps map[string][]float32
	var err error
	switch l.op {
	case model.OpConv2d:
		c := l.conv
		if len(s) == 3 {
			if c.Padding, err = autoPadding(l.autoPad, c, s[1]); err != nil {
				return -1, nil, err
			}
		}
		id := b.Conv2d(l.name, x, c)
		if b.Err() != nil {
			return -1, nil, b.Err()
		}
		k := int64(c.Kernel)
		ps, err = l.take(map[string][]int64{
			"weight": {int64(c.OutChannels), int64(s[0] / c.Groups), k, k},
			"bias":   {int64(c.OutChannels)},
		})
		return id, ps, err
	case model.OpBatchNorm2d:
		id := b.BatchNorm2d(l.name, x, l.eps)
		if b.Err() != nil {
			return -1, nil, b.Err()
		}
		ch := []int64{int64(s[0])}
		ps, err = l.take(map[string][]int64{"weight": ch, "bias": ch, "running_mean": ch, "running_var": ch})
		return id, ps, err
	case model.OpReLU, model.OpReLU6, model.OpHardswish, model.OpHardsigmoid, model.OpSiLU, model.OpSigmoid:
		return b.Activation(l.name, l.op, x), nil, b.Err()
	case model.OpMaxPool2d, model.OpAvgPool2d:
		c := l.conv
		if len(s) == 3 {
			if c.Padding, err = autoPadding(l.autoPad, c, s[1]); err != nil {
				return -1, nil, err
			}
			if l.ceil && ceilOut(s[1], c) != floorOut(s[1], c) {
				return -1, nil, fmt.Errorf("ceil_mode changes the output size (%d, not %d); only floor mode is supported", ceilOut(s[1], c), floorOut(s[1], c))
			}
		}
		if l.op == model.OpMaxPool2d {
			return b.MaxPool2d(l.name, x, c.Kernel, c.Stride, c.Padding), nil, b.Err()
		}
		return b.AvgPool2d(l.name, x, c.Kernel, c.Stride, c.Padding), nil, b.Err()
	case model.OpAdaptiveAvgPool2d:
		return b.AdaptiveAvgPool2d(l.name, x, 1), nil, b.Err()
	case model.OpFlatten:
		if err := l.checkFlatten(s); err != nil {
			return -1, nil, err
		}
		return b.Flatten(l.name, x), nil, b.Err()
	case model.OpLinear:
		return im.addLinear(b, l, x, s)
	case model.OpDropout:
		return b.Identity(l.name, model.OpDropout, x), nil, b.Err()
	case model.OpAdd:
		return b.Add(l.name, in[0], in[1]), nil, b.Err()
	case model.OpMul:
		y := in[1]
		sy := b.Shape(y)
		if scales(s, sy) {
			return b.Mul(l.name, x, y), nil, b.Err()
		}
		if scales(sy, s) {
			return b.Mul(l.name, y, x), nil, b.Err()
		}
		return -1, nil, fmt.Errorf("cannot multiply %v by %v: only scaling a [C H W] map by a [C 1 1] tensor (squeeze-excitation) is supported", s, sy)
	case model.OpConcat:
		axis := l.axis
		if axis < 0 {
			axis += int64(len(s) + 1)
		}
		if axis != 1 {
			return -1, nil, fmt.Errorf("axis %d of %v: only concatenation along channels (axis 1) is supported", l.axis, append([]int{1}, s...))
		}
		return b.Concat(l.name, in...), nil, b.Err()
	}
	return -1, nil, fmt.Errorf("internal error: no builder for %s", l.op)
}

// scales reports whether a [C 1 1] tensor of shape by scales a [C H W] map of
// shape x channel-wise.
func scales(x, by model.Shape) bool {
	return len(x) == 3 && len(by) == 3 && by[0] == x[0] && by[1] == 1 && by[2] == 1
}

func (im *importer) addLinear(b *model.Builder, l *layer, x int, s model.Shape) (int, map[string][]float32, error) {
	w := l.params["weight"]
	out, inF := w.dims[0], w.dims[1]
	if l.linearT {
		out, inF = inF, out
	}
	if len(s) != 1 {
		return -1, nil, fmt.Errorf("input shape %v: only a flat [1 N] input is supported", append([]int{1}, s...))
	}
	if inF != int64(s[0]) {
		return -1, nil, fmt.Errorf("weight dims %v do not fit %d input features", w.dims, s[0])
	}
	bias, hasBias := l.params["bias"]
	if hasBias {
		// Gemm's C broadcasts: [out], [1 out], or one value for all.
		switch {
		case int64(len(bias.data)) == out:
		case len(bias.data) == 1:
			v := bias.data[0]
			bias.data = make([]float32, out)
			for i := range bias.data {
				bias.data[i] = v
			}
		default:
			return -1, nil, fmt.Errorf("bias dims %v do not fit %d output features", bias.dims, out)
		}
	}
	id := b.Linear(l.name, x, int(out), hasBias)
	if b.Err() != nil {
		return -1, nil, b.Err()
	}
	weight := w.data
	if l.linearT {
		weight = make([]float32, len(w.data))
		for i := range inF {
			for o := range out {
				weight[o*inF+i] = w.data[i*out+o]
			}
		}
	}
	ps := map[string][]float32{"weight": weight}
	if hasBias {
		ps["bias"] = bias.data
	}
	return id, ps, nil
}

// take checks l's params against the dims PyTorch's layout gives them and
// returns their data. A param missing from l is skipped (an optional bias).
func (l *layer) take(want map[string][]int64) (map[string][]float32, error) {
	ps := map[string][]float32{}
	for name, p := range l.params {
		dims, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("internal error: unexpected param %q", name)
		}
		if fmt.Sprint(p.dims) != fmt.Sprint(dims) {
			return nil, fmt.Errorf("%s dims %v, want %v", name, p.dims, dims)
		}
		ps[name] = p.data
	}
	return ps, nil
}

// checkFlatten accepts Flatten at axis 0 or 1 and Reshape to [1 N] (which
// are the same at batch 1); s is the per-sample input shape.
func (l *layer) checkFlatten(s model.Shape) error {
	full := append([]int64{1}, toInt64(s)...)
	if l.target == nil {
		axis := l.axis
		if axis < 0 {
			axis += int64(len(full))
		}
		if axis != 0 && axis != 1 {
			return fmt.Errorf("axis %d of %v: only flattening to [1 N] is supported", l.axis, full)
		}
		return nil
	}
	elems := s.Elems()
	got := make([]int64, len(l.target))
	infer, known := -1, int64(1)
	for k, d := range l.target {
		switch {
		case d == 0 && k < len(full):
			got[k] = full[k] // ONNX: 0 copies the input's dimension
		case d == -1 && infer < 0:
			infer = k
			continue
		case d > 0:
			got[k] = d
		default:
			return fmt.Errorf("reshape target %v is invalid for input %v", l.target, full)
		}
		known *= got[k]
	}
	if infer >= 0 && known > 0 {
		got[infer] = elems / known
	}
	if len(got) != 2 || got[0] != 1 || got[1] != elems {
		return fmt.Errorf("reshape of %v to %v: only flattening to [1 N] is supported", full, l.target)
	}
	return nil
}

func toInt64(s model.Shape) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// autoPadding returns the symmetric padding that auto_pad asks for on an
// input of size in, or c.Padding when auto_pad is NOTSET or VALID.
func autoPadding(autoPad string, c model.Conv, in int) (int, error) {
	if autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER" {
		return c.Padding, nil
	}
	dil := max(c.Dilation, 1)
	out := (in + c.Stride - 1) / c.Stride
	total := max((out-1)*c.Stride+dil*(c.Kernel-1)+1-in, 0)
	if total%2 != 0 {
		return 0, fmt.Errorf("auto_pad %s needs %d padding pixels, split unevenly; only symmetric padding is supported", autoPad, total)
	}
	return total / 2, nil
}

func floorOut(in int, c model.Conv) int {
	span := in + 2*c.Padding - max(c.Dilation, 1)*(c.Kernel-1) - 1
	if span < 0 {
		return 0
	}
	return span/c.Stride + 1
}

// ceilOut is PyTorch's ceil-mode size: the last window must start inside
// the input or its left padding.
func ceilOut(in int, c model.Conv) int {
	span := in + 2*c.Padding - max(c.Dilation, 1)*(c.Kernel-1) - 1
	if span < 0 {
		return 0
	}
	out := (span+c.Stride-1)/c.Stride + 1
	if (out-1)*c.Stride >= in+c.Padding {
		out--
	}
	return out
}
