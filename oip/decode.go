package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// wireTensor is an input of a request or an output of a response as JSON.
type wireTensor struct {
	Name       *string         `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   *string         `json:"datatype"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

type wireRequest struct {
	ID         *string           `json:"id,omitempty"`
	Parameters json.RawMessage   `json:"parameters,omitempty"`
	Inputs     []json.RawMessage `json:"inputs"`
	Outputs    []json.RawMessage `json:"outputs,omitempty"`
}

type wireRequestedOutput struct {
	Name       *string         `json:"name"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

type wireResponse struct {
	ModelName    string            `json:"model_name"`
	ModelVersion string            `json:"model_version,omitempty"`
	ID           string            `json:"id,omitempty"`
	Parameters   json.RawMessage   `json:"parameters,omitempty"`
	Outputs      []json.RawMessage `json:"outputs"`
}

// HeaderLength parses the Inference-Header-Content-Length header of a body
// of bodyLen bytes: -1 when the header is absent (the body is all JSON).
func HeaderLength(value string, bodyLen int) (int, error) {
	if value == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n < 0 {
		return 0, fieldErr(HeaderContentLength, "%q is not a length in bytes", value)
	}
	if n > bodyLen {
		return 0, fieldErr(HeaderContentLength, "%d bytes, but the body has %d", n, bodyLen)
	}
	return n, nil
}

// split cuts a body into its JSON header and binary section.
func split(body []byte, headerLen int) ([]byte, []byte, error) {
	if headerLen < 0 {
		return body, nil, nil
	}
	if headerLen > len(body) {
		return nil, nil, fieldErr(HeaderContentLength, "%d bytes, but the body has %d", headerLen, len(body))
	}
	return body[:headerLen], body[headerLen:], nil
}

// strictJSON decodes one JSON value into v, refusing unknown fields and
// anything after it; errors name field.
func strictJSON(b []byte, v any, field string) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldErr(join(field, te.Field), "want %s, got a JSON %s", te.Type, te.Value)
		}
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if errors.Is(err, io.EOF) {
			msg = "empty: want a JSON object"
		}
		return fieldErr(field, "%s", msg)
	}
	if _, err := d.Token(); err != io.EOF {
		return fieldErr(field, "more after the JSON object (a binary section needs the %s header)", HeaderContentLength)
	}
	return nil
}

func join(field, sub string) string {
	if field == "" {
		return sub
	}
	return field + "." + sub
}

// decodeParameters reads a parameters object: strings, booleans and
// numbers only.
func decodeParameters(raw json.RawMessage, field string) (Parameters, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var p map[string]any
	if err := strictJSON(raw, &p, field); err != nil {
		return nil, err
	}
	for k, v := range p {
		switch v.(type) {
		case string, bool, json.Number:
		default:
			return nil, fieldErr(join(field, k), "want a string, a boolean or a number")
		}
	}
	return Parameters(p), nil
}

// DecodeRequest decodes an inference request body: all JSON when
// headerLen < 0, else a JSON header of headerLen bytes followed by the
// binary data of the inputs that give binary_data_size, in their order.
func DecodeRequest(body []byte, headerLen int) (*Request, error) {
	head, bin, err := split(body, headerLen)
	if err != nil {
		return nil, err
	}
	var w wireRequest
	if err := strictJSON(head, &w, ""); err != nil {
		return nil, err
	}
	r := &Request{}
	if w.ID != nil {
		r.ID = *w.ID
	}
	if r.Parameters, err = decodeParameters(w.Parameters, "parameters"); err != nil {
		return nil, err
	}
	if r.BinaryOutput, err = r.Parameters.Bool("binary_data_output"); err != nil {
		return nil, err
	}
	if w.Inputs == nil {
		return nil, fieldErr("inputs", "missing: a request names at least one input")
	}
	if r.Inputs, err = decodeTensors(w.Inputs, bin, "inputs"); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, raw := range w.Outputs {
		field := fmt.Sprintf("outputs[%d]", i)
		var wo wireRequestedOutput
		if err := strictJSON(raw, &wo, field); err != nil {
			return nil, err
		}
		if wo.Name == nil || *wo.Name == "" {
			return nil, fieldErr(field+".name", "missing")
		}
		if seen[*wo.Name] {
			return nil, fieldErr(field+".name", "%q is requested twice", *wo.Name)
		}
		seen[*wo.Name] = true
		o := RequestedOutput{Name: *wo.Name, Binary: r.BinaryOutput}
		if o.Parameters, err = decodeParameters(wo.Parameters, field+".parameters"); err != nil {
			return nil, err
		}
		if _, given := o.Parameters["binary_data"]; given {
			if o.Binary, err = o.Parameters.Bool("binary_data"); err != nil {
				return nil, fieldErr(field, "%v", err)
			}
		}
		r.Outputs = append(r.Outputs, o)
	}
	return r, nil
}

// DecodeResponse decodes an inference response body (a client's side).
func DecodeResponse(body []byte, headerLen int) (*Response, error) {
	head, bin, err := split(body, headerLen)
	if err != nil {
		return nil, err
	}
	var w wireResponse
	if err := strictJSON(head, &w, ""); err != nil {
		return nil, err
	}
	r := &Response{ModelName: w.ModelName, ModelVersion: w.ModelVersion, ID: w.ID}
	if r.Parameters, err = decodeParameters(w.Parameters, "parameters"); err != nil {
		return nil, err
	}
	if r.Outputs, err = decodeTensors(w.Outputs, bin, "outputs"); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeTensors decodes a list of tensors, the binary ones from bin in
// order; bin must be used up exactly.
func decodeTensors(raws []json.RawMessage, bin []byte, list string) ([]Tensor, error) {
	out := make([]Tensor, 0, len(raws))
	seen := map[string]bool{}
	total := len(bin)
	for i, raw := range raws {
		field := fmt.Sprintf("%s[%d]", list, i)
		t, rest, err := decodeTensor(raw, bin, field)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fieldErr(field+".name", "%q appears twice", t.Name)
		}
		seen[t.Name] = true
		bin = rest
		out = append(out, t)
	}
	if len(bin) > 0 {
		return nil, fieldErr(HeaderContentLength, "the binary section has %d bytes; the %s' binary_data_size add up to %d", total, list, total-len(bin))
	}
	return out, nil
}

// decodeTensor decodes one tensor, taking its binary data from the front
// of bin when it has binary_data_size, and returns the rest of bin.
func decodeTensor(raw json.RawMessage, bin []byte, field string) (Tensor, []byte, error) {
	var w wireTensor
	if err := strictJSON(raw, &w, field); err != nil {
		return Tensor{}, nil, err
	}
	var t Tensor
	switch {
	case w.Name == nil || *w.Name == "":
		return t, nil, fieldErr(field+".name", "missing")
	case w.Shape == nil:
		return t, nil, fieldErr(field+".shape", "missing")
	case w.Datatype == nil:
		return t, nil, fieldErr(field+".datatype", "missing")
	}
	t.Name, t.Shape, t.Datatype = *w.Name, w.Shape, *w.Datatype
	size := ElemBytes(t.Datatype)
	if size < 0 {
		return t, nil, fieldErr(field+".datatype", "%q is not one of %v", t.Datatype, Datatypes)
	}
	n, err := elems(t.Shape)
	if err != nil {
		return t, nil, fieldErr(field+".shape", "%v", err)
	}
	if t.Parameters, err = decodeParameters(w.Parameters, field+".parameters"); err != nil {
		return t, nil, err
	}
	binSize, isBinary, err := t.Parameters.Int64("binary_data_size")
	if err != nil {
		return t, nil, fieldErr(field, "%v", err)
	}
	hasData := len(w.Data) > 0 && string(w.Data) != "null"
	switch {
	case isBinary && hasData:
		return t, nil, fieldErr(field+".data", "given with binary_data_size: send one or the other")
	case isBinary:
		delete(t.Parameters, "binary_data_size")
		if binSize < 0 || binSize > int64(len(bin)) {
			return t, nil, fieldErr(field+".parameters.binary_data_size", "%d bytes, but %d are left in the binary section", binSize, len(bin))
		}
		t.Raw, bin = bin[:binSize], bin[binSize:]
		if err := checkRaw(t.Raw, t.Datatype, n); err != nil {
			return t, nil, fieldErr(field+".parameters.binary_data_size", "%v (shape %v)", err, t.Shape)
		}
	case hasData:
		if t.Raw, err = decodeData(w.Data, t.Datatype, n); err != nil {
			return t, nil, fieldErr(field+".data", "%v", err)
		}
	default:
		return t, nil, fieldErr(field+".data", "missing (or give binary_data_size in parameters)")
	}
	return t, bin, nil
}

// checkRaw checks that raw holds exactly n elements of datatype.
func checkRaw(raw []byte, datatype string, n int64) error {
	if size := ElemBytes(datatype); size > 0 {
		if want := n * int64(size); int64(len(raw)) != want {
			return fmt.Errorf("%d bytes; %d %s elements take %d", len(raw), n, datatype, want)
		}
		return nil
	}
	got := int64(0)
	for len(raw) > 0 {
		if len(raw) < 4 {
			return fmt.Errorf("BYTES element %d: %d bytes left, a length takes 4", got, len(raw))
		}
		k := binary.LittleEndian.Uint32(raw)
		if uint64(k) > uint64(len(raw)-4) {
			return fmt.Errorf("BYTES element %d: length %d, %d bytes left", got, k, len(raw)-4)
		}
		raw = raw[4+k:]
		got++
	}
	if got != n {
		return fmt.Errorf("%d BYTES elements; the shape holds %d", got, n)
	}
	return nil
}

// decodeData turns JSON data (flat or nested row-major arrays, or a single
// value for one element) into the elements' little-endian bytes, reading
// tokens so that nesting costs nothing and too many elements stop early.
func decodeData(data json.RawMessage, datatype string, n int64) ([]byte, error) {
	if datatype == FP16 {
		return nil, errors.New("FP16 has no JSON form: send it as binary data (binary_data_size)")
	}
	size := ElemBytes(datatype)
	// A JSON element takes at least 2 bytes ("0,"), so the count is
	// bounded by the body before anything is allocated.
	if n > int64(len(data)) {
		return nil, fmt.Errorf("the shape holds %d elements; data this long cannot", n)
	}
	out := make([]byte, 0, n*int64(max(size, 4)))
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	got, depth := int64(0), 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("element %d: %v", got, err)
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '[' {
				depth++
			} else if v == ']' {
				depth--
			} else {
				return nil, fmt.Errorf("element %d: an object; want %s values", got, datatype)
			}
			continue
		}
		if got >= n {
			return nil, fmt.Errorf("more than the %d elements the shape holds", n)
		}
		if out, err = appendElem(out, tok, datatype); err != nil {
			return nil, fmt.Errorf("element %d: %v", got, err)
		}
		got++
	}
	if got != n {
		return nil, fmt.Errorf("%d elements; the shape holds %d", got, n)
	}
	return out, nil
}

// appendElem appends one JSON value as an element of datatype.
func appendElem(out []byte, tok json.Token, datatype string) ([]byte, error) {
	le := binary.LittleEndian
	switch datatype {
	case Bool:
		b, ok := tok.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not true or false", tok)
		}
		if b {
			return append(out, 1), nil
		}
		return append(out, 0), nil
	case Bytes:
		s, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", tok)
		}
		return append(le.AppendUint32(out, uint32(len(s))), s...), nil
	}
	num, ok := tok.(json.Number)
	if !ok {
		return nil, fmt.Errorf("%v is not a number", tok)
	}
	s := string(num)
	switch datatype {
	case FP32:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return nil, fmt.Errorf("%s is not an FP32 value", s)
		}
		return le.AppendUint32(out, math.Float32bits(float32(f))), nil
	case FP64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not an FP64 value", s)
		}
		return le.AppendUint64(out, math.Float64bits(f)), nil
	}
	bits := 8 * ElemBytes(datatype)
	var u uint64
	if strings.HasPrefix(datatype, "U") {
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not a %s value", s, datatype)
		}
		u = v
	} else {
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not a %s value", s, datatype)
		}
		u = uint64(v)
	}
	switch bits {
	case 8:
		return append(out, byte(u)), nil
	case 16:
		return le.AppendUint16(out, uint16(u)), nil
	case 32:
		return le.AppendUint32(out, uint32(u)), nil
	}
	return le.AppendUint64(out, u), nil
}

// Float32s reads an FP32 tensor's elements.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.Datatype != FP32 || len(t.Raw)%4 != 0 {
		return nil, fmt.Errorf("tensor %q is %s, want FP32", t.Name, t.Datatype)
	}
	out := make([]float32, len(t.Raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
	}
	return out, nil
}

// FP32Tensor is a tensor of float32 values.
func FP32Tensor(name string, shape []int64, x []float32) Tensor {
	raw := make([]byte, 0, 4*len(x))
	for _, v := range x {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return Tensor{Name: name, Shape: slices.Clone(shape), Datatype: FP32, Raw: raw}
}
