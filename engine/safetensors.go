package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/mtlsplit/mtlsplit/model"
)

// The weights file is safetensors (huggingface's documented format, which
// PyTorch users load with safetensors.torch.load_file): an 8-byte
// little-endian header length N, N bytes of JSON mapping each state_dict
// key to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}
// (byte offsets into the data that follows) plus "__metadata__" (string to
// string: model, input size, tasks), then the tensors' little-endian bytes.
// Training writes it (package train); the runtime reads it for a zoo
// model's trained weights. onnx.Export writes the whole trained model,
// with the same keys, as a multi-output ONNX file.

type stEntry struct {
	Dtype   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// EncodeSafetensors writes every tensor of w in graph order with meta.
func EncodeSafetensors(w *Weights, meta map[string]string) ([]byte, error) {
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var data bytes.Buffer
	for _, p := range w.Params() {
		t := w.Get(p.Node, p.Param)
		begin := data.Len()
		for _, v := range t {
			_ = binary.Write(&data, binary.LittleEndian, math.Float32bits(v))
		}
		header[p.Key()] = stEntry{Dtype: "F32", Shape: p.Shape, Offsets: [2]int{begin, data.Len()}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(h)%8 != 0 { // the format pads the header with spaces to 8 bytes
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, data.Bytes()...), nil
}

// DecodeSafetensors reads weights for g from a safetensors file and returns
// them with the file's metadata. Every tensor of g must be present with its
// shape; extra tensors are an error too, since they mean another network.
func DecodeSafetensors(b []byte, g *model.Graph) (*Weights, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("safetensors: %d bytes is too short for a header", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("safetensors: header of %d bytes in a file of %d", n, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		return nil, nil, fmt.Errorf("safetensors header: %w", err)
	}
	data := b[8+n:]
	var meta map[string]string
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, nil, fmt.Errorf("safetensors metadata: %w", err)
		}
		delete(raw, "__metadata__")
	}
	w, err := NewWeights(g)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range w.Params() {
		m, ok := raw[p.Key()]
		if !ok {
			return nil, nil, fmt.Errorf("safetensors: no tensor %s (the file is not a %s at this size and these tasks)", p.Key(), g.Name)
		}
		delete(raw, p.Key())
		var e stEntry
		if err := json.Unmarshal(m, &e); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %s: %w", p.Key(), err)
		}
		if e.Dtype != "F32" || fmt.Sprint(e.Shape) != fmt.Sprint(p.Shape) || e.Offsets[0] < 0 || e.Offsets[1] > len(data) || e.Offsets[1]-e.Offsets[0] != 4*p.Elems() {
			return nil, nil, fmt.Errorf("safetensors: %s is %s %v at bytes %v; want F32 %v within %d bytes", p.Key(), e.Dtype, e.Shape, e.Offsets, p.Shape, len(data))
		}
		t := make([]float32, p.Elems())
		for i := range t {
			t[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]+4*i:]))
		}
		if err := w.Set(p.Node, p.Param, t); err != nil {
			return nil, nil, err
		}
	}
	if len(raw) > 0 {
		var extra []string
		for k := range raw {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		return nil, nil, fmt.Errorf("safetensors: tensors %v are not in %s", extra, g.Name)
	}
	return w, meta, nil
}
