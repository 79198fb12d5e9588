package splitrun

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/oip"
)

// names gives every graph node a unique tensor name for the protocol: its
// node name, or, for a name several nodes share (a module called twice,
// e.g. ResNet's relu), the name then "#" and the occurrence from 0.
type names struct {
	of   []string
	node map[string]int
}

func newNames(g *model.Graph) names {
	count := map[string]int{}
	for _, n := range g.Nodes {
		count[n.Name]++
	}
	nm := names{of: make([]string, len(g.Nodes)), node: map[string]int{}}
	seen := map[string]int{}
	for _, n := range g.Nodes {
		s := n.Name
		if count[s] > 1 {
			s += "#" + strconv.Itoa(seen[n.Name])
			seen[n.Name]++
		}
		nm.of[n.ID], nm.node[s] = s, n.ID
	}
	return nm
}

// TensorName is the protocol name of node id's output.
func (m *Model) TensorName(id int) string { return m.names().of[id] }

func (m *Model) names() names {
	m.namesOnce.Do(func() { m.nm = newNames(m.Graph) })
	return m.nm
}

// cutTensors are the nodes whose outputs may cross a hop in any placement
// this model's server takes: the input, every block's output, and every
// tensor the plan's choice or a feasible switch-table row sends. They are
// compiled as tensors of their own (engine.Options.Keep), on both sides,
// so the two sides run the same kernels and fp32 cuts stay bit-exact.
func (m *Model) cutTensors() []int {
	set := map[int]bool{0: true}
	for _, b := range m.Graph.Blocks {
		set[b.Output] = true
	}
	if pl, err := m.Plan.Placement(); err == nil {
		for _, t := range pl.Sends {
			set[t.Node] = true
		}
	}
	for _, row := range m.Plan.SwitchTable {
		if !row.Feasible {
			continue
		}
		if pl, err := m.Plan.RowPlacement(row); err == nil {
			for _, t := range pl.Sends {
				set[t.Node] = true
			}
		}
	}
	out := make([]int, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// tensorOut puts node's float tensor x on the wire in encoding e: fp32 and
// fp16 as FP32/FP16 tensors of the node's shape (batch 1 first); every
// other encoding (quantized with its 8-byte scale/zero-point header, or
// followed by zstd) as a BYTES tensor of one element, the engine's
// encoded bytes. wire is the encoded size the plan counts.
func tensorOut(name string, shape model.Shape, e codec.Encoding, x []float32) (t oip.Tensor, wire int, err error) {
	b, err := encode(nil, e, x)
	if err != nil {
		return t, 0, err
	}
	t = oip.Tensor{Name: name, Parameters: oip.Parameters{"encoding": string(e)}}
	switch e {
	case codec.FP32, codec.FP16:
		t.Shape = append([]int64{1}, dims(shape)...)
		t.Datatype, t.Raw = oip.FP32, b
		if e == codec.FP16 {
			t.Datatype = oip.FP16
		}
	default:
		t.Shape, t.Datatype = []int64{1}, oip.Bytes
		t.Raw = append(le32(len(b)), b...)
	}
	return t, len(b), nil
}

func le32(n int) []byte { return []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)} }

func dims(s model.Shape) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// tensorIn is tensorOut's inverse: it checks the tensor against node's
// shape (wireEncoding) and decodes it into x; an image's bytes are
// normalized by norm (nil: refused).
func tensorIn(x []float32, t *oip.Tensor, shape model.Shape, field string, norm *normalization) error {
	enc, raw, err := wireEncoding(t, shape, field)
	if err != nil {
		return err
	}
	if enc == codec.Raw {
		if norm == nil {
			return &oip.FieldError{Field: field, Msg: "a UINT8 image, but the plan records no image preprocessing"}
		}
		return norm.apply(x, raw)
	}
	if err := decode(x, enc, raw); err != nil {
		return &oip.FieldError{Field: field, Msg: err.Error()}
	}
	return nil
}

// encode puts a tensor on the wire: its encoding, then the lossless stage
// when the encoding has one ("int8+zstd").
func encode(dst []byte, e codec.Encoding, x []float32) ([]byte, error) {
	if !e.Compressed() {
		return engine.Encode(dst, e, x)
	}
	b, err := engine.Encode(nil, e.Base(), x)
	if err != nil {
		return nil, err
	}
	return engine.Compress(dst, b)
}

// decode is encode's inverse. A compressed tensor is inflated through a
// limited reader: a peer's zstd frame may claim or hold any size, and no
// more than the tensor's own encoded size (plus one byte, to notice a
// longer one) is ever allocated.
func decode(x []float32, e codec.Encoding, b []byte) error {
	if e.Compressed() {
		want := e.Base().Bytes(int64(len(x)))
		d, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(want)+1<<20), zstd.WithDecoderLowmem(true))
		if err != nil {
			return err
		}
		defer d.Close()
		buf, err := io.ReadAll(io.LimitReader(d, want+1))
		if err != nil {
			return fmt.Errorf("decompress %s: %w", e, err)
		}
		if int64(len(buf)) != want {
			return fmt.Errorf("decompress %s: %d values need %d bytes, the frame holds %s", e, len(x), want, map[bool]string{true: "more", false: strconv.Itoa(len(buf))}[int64(len(buf)) > want])
		}
		b = buf
	}
	return engine.Decode(x, e.Base(), b)
}
