package splitrun

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/oip"
)

// identity is what edge and server must share to run one network: the
// graph, the ONNX file's bytes, the seed of the random weights, and the
// tier the request goes to.
func (m *Model) identity(seed uint64, tier int) oip.Parameters {
	return oip.Parameters{
		"graph_hash":  m.Plan.Model.Hash,
		"file_sha256": m.sha,
		"seed":        strconv.FormatUint(seed, 10),
		"tier":        strconv.Itoa(tier),
	}
}

// id is the model's identity in one string, which every request carries
// (parameter model_id) so that a server restarted with other weights
// refuses an edge that checked the old ones.
func (m *Model) id(seed uint64) string {
	return m.Plan.Model.Hash + ":" + m.sha + ":" + strconv.FormatUint(seed, 10)
}

// sameAs checks a server's identity (its metadata parameters) against
// this model's, naming both on a mismatch.
func (m *Model) sameAs(p oip.Parameters, seed uint64, tier int) error {
	mine := m.identity(seed, tier)
	str := func(ps oip.Parameters, k string) string { s, _, _ := ps.String(k); return s }
	if str(p, "file_sha256") != m.sha {
		return fmt.Errorf("edge runs the weights file (ONNX or safetensors) with SHA-256 %q, the server %q", m.sha, str(p, "file_sha256"))
	}
	for _, k := range []string{"graph_hash", "seed", "tier"} {
		if str(p, k) != str(mine, k) {
			return fmt.Errorf("edge runs graph %s seed %s sending to tier %s; the server runs graph %s seed %s as tier %s",
				str(mine, "graph_hash"), str(mine, "seed"), str(mine, "tier"), str(p, "graph_hash"), str(p, "seed"), str(p, "tier"))
		}
	}
	return nil
}

// metadata answers GET /v2/models/{name}: the cut tensors this server
// takes as inputs (fp32 shape; every encoding is allowed) and the tasks as
// outputs, with the identity an edge checks.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if err := s.model(r); err != nil {
		writeError(w, err)
		return
	}
	m := s.Model
	md := oip.ModelMetadata{Name: m.Plan.Model.Name, Platform: "mtlsplit", Parameters: m.identity(s.Seed, s.tier())}
	for _, id := range m.cutTensors() {
		md.Inputs = append(md.Inputs, oip.MetadataTensor{Name: m.TensorName(id), Datatype: oip.FP32,
			Shape: append([]int64{1}, dims(m.Graph.Nodes[id].OutShape)...)})
	}
	for _, h := range m.Graph.Heads {
		md.Outputs = append(md.Outputs, oip.MetadataTensor{Name: h.Task, Datatype: oip.FP32, Shape: []int64{1, int64(h.Classes)}})
	}
	writeJSONBody(w, md)
}

// maxRequestBytes is the body limit: the largest tensor set a placement
// of the plan sends, or any single cut tensor, in fp32 written as JSON
// numbers (at most 16 bytes a value: the largest legal body), plus 64 KiB
// for the JSON header.
func (m *Model) maxRequestBytes() int64 {
	largest := int64(0)
	for _, id := range m.cutTensors() {
		largest = max(largest, m.Graph.Nodes[id].OutShape.Elems())
	}
	for _, d := range m.deployments() {
		for _, hop := range d.Hops {
			n := int64(0)
			for _, t := range hop {
				n += m.Graph.Nodes[t.Node].OutShape.Elems()
			}
			largest = max(largest, n)
		}
	}
	return 16*largest + 64<<10
}

// checkTensor checks a sent tensor's encoding, datatype and shape against
// node id's shape, naming the field: only the input may come as the
// image's bytes, and only when the plan says how to normalize them.
func (m *Model) checkTensor(t *oip.Tensor, id int, field string) error {
	e, _, err := wireEncoding(t, m.Graph.Nodes[id].OutShape, field)
	if err != nil || e != codec.Raw {
		return err
	}
	if id != 0 {
		return &oip.FieldError{Field: field + ".parameters.encoding", Msg: fmt.Sprintf("uint8 is the image's encoding; %q is a feature map (want one of %v)", t.Name, codec.Names())}
	}
	if _, err := m.normalization(); err != nil {
		return &oip.FieldError{Field: field, Msg: "a UINT8 image: " + err.Error()}
	}
	return nil
}

// wireEncoding is the encoding a sent tensor says it is in, checked
// against its datatype and shape, and its encoded bytes.
func wireEncoding(t *oip.Tensor, shape model.Shape, field string) (codec.Encoding, []byte, error) {
	e, _, err := t.Parameters.String("encoding")
	if err != nil {
		return "", nil, &oip.FieldError{Field: field, Msg: err.Error()}
	}
	if e == "" {
		e = map[string]string{oip.FP32: "fp32", oip.FP16: "fp16"}[t.Datatype]
	}
	if e == "" && t.Datatype == oip.Uint8 {
		e = string(codec.Raw)
	}
	enc := codec.Encoding(e)
	if enc.Bytes(1) == 0 || enc.Base() == codec.Raw && enc != codec.Raw {
		return "", nil, &oip.FieldError{Field: field + ".parameters.encoding", Msg: fmt.Sprintf("%q is not one of %v or uint8 (the image)", e, codec.Names())}
	}
	want := append([]int64{1}, dims(shape)...)
	switch enc {
	case codec.Raw:
		if t.Datatype != oip.Uint8 || !slices.Equal(t.Shape, want) {
			return "", nil, &oip.FieldError{Field: field, Msg: fmt.Sprintf("%s %v with encoding uint8; want UINT8 %v (the image's bytes)", t.Datatype, t.Shape, want)}
		}
		return enc, t.Raw, nil
	case codec.FP32, codec.FP16:
		dt := oip.FP32
		if enc == codec.FP16 {
			dt = oip.FP16
		}
		if t.Datatype != dt {
			return "", nil, &oip.FieldError{Field: field + ".datatype", Msg: fmt.Sprintf("%s with encoding %s; want %s", t.Datatype, e, dt)}
		}
		if !slices.Equal(t.Shape, want) {
			return "", nil, &oip.FieldError{Field: field + ".shape", Msg: fmt.Sprintf("%v; this tensor is %v", t.Shape, want)}
		}
		return enc, t.Raw, nil
	}
	if t.Datatype != oip.Bytes || !slices.Equal(t.Shape, []int64{1}) {
		return "", nil, &oip.FieldError{Field: field + ".datatype", Msg: fmt.Sprintf("%s %v with encoding %s; want BYTES [1] (the encoded tensor)", t.Datatype, t.Shape, e)}
	}
	raw := t.Raw[4:] // one element: the decoder checked its length
	if !enc.Compressed() {
		n := int64(1)
		for _, d := range shape {
			n *= int64(d)
		}
		if want := enc.Bytes(n); int64(len(raw)) != want {
			return "", nil, &oip.FieldError{Field: field + ".data", Msg: fmt.Sprintf("%d bytes; %s of this tensor's %d values takes %d", len(raw), e, n, want)}
		}
	}
	return enc, raw, nil
}

func writeJSONBody(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
