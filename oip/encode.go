package oip

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

type outTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters Parameters      `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// tensorsOut lays tensors out for the wire: binary ones get
// binary_data_size and their bytes go, in order, into the binary section.
func tensorsOut(ts []Tensor, binary func(i int) bool) ([]outTensor, [][]byte, error) {
	out := make([]outTensor, len(ts))
	var bin [][]byte
	for i := range ts {
		t := &ts[i]
		o := outTensor{Name: t.Name, Shape: t.Shape, Datatype: t.Datatype}
		if o.Shape == nil {
			o.Shape = []int64{}
		}
		if len(t.Parameters) > 0 || binary(i) {
			o.Parameters = Parameters{}
			for k, v := range t.Parameters {
				o.Parameters[k] = v
			}
		}
		if binary(i) {
			o.Parameters["binary_data_size"] = len(t.Raw)
			bin = append(bin, t.Raw)
		} else {
			data, err := jsonData(t)
			if err != nil {
				return nil, nil, err
			}
			o.Data = data
		}
		out[i] = o
	}
	return out, bin, nil
}

// assemble writes the JSON header and the binary section after it;
// headerLen is -1 when there is no binary section.
func assemble(head any, bin [][]byte) ([]byte, int, error) {
	b, err := json.Marshal(head)
	if err != nil {
		return nil, 0, err
	}
	if len(bin) == 0 {
		return b, -1, nil
	}
	n := len(b)
	for _, x := range bin {
		b = append(b, x...)
	}
	return b, n, nil
}

// EncodeResponse writes a response body; binary(i) says whether output i
// goes as binary data. headerLen is the value of Inference-Header-Content-Length
// (-1: none, the body is all JSON).
func EncodeResponse(r *Response, binary func(i int) bool) (body []byte, headerLen int, err error) {
	outs, bin, err := tensorsOut(r.Outputs, binary)
	if err != nil {
		return nil, 0, err
	}
	return assemble(struct {
		ModelName    string      `json:"model_name"`
		ModelVersion string      `json:"model_version,omitempty"`
		ID           string      `json:"id,omitempty"`
		Parameters   Parameters  `json:"parameters,omitempty"`
		Outputs      []outTensor `json:"outputs"`
	}{r.ModelName, r.ModelVersion, r.ID, r.Parameters, outs}, bin)
}

// EncodeRequest writes a request body, every input as binary data when
// binaryInputs is set (as JSON otherwise).
func EncodeRequest(r *Request, binaryInputs bool) (body []byte, headerLen int, err error) {
	ins, bin, err := tensorsOut(r.Inputs, func(int) bool { return binaryInputs })
	if err != nil {
		return nil, 0, err
	}
	type reqOut struct {
		Name       string     `json:"name"`
		Parameters Parameters `json:"parameters,omitempty"`
	}
	outs := make([]reqOut, len(r.Outputs))
	for i, o := range r.Outputs {
		outs[i] = reqOut{Name: o.Name, Parameters: o.Parameters}
		if o.Binary {
			outs[i].Parameters = Parameters{"binary_data": true}
			for k, v := range o.Parameters {
				outs[i].Parameters[k] = v
			}
		}
	}
	return assemble(struct {
		ID         string      `json:"id,omitempty"`
		Parameters Parameters  `json:"parameters,omitempty"`
		Inputs     []outTensor `json:"inputs"`
		Outputs    []reqOut    `json:"outputs,omitempty"`
	}{r.ID, r.Parameters, ins, outs}, bin)
}

// jsonData writes a tensor's elements as a flat JSON array; floats are
// written in the shortest form that reads back to the same value.
func jsonData(t *Tensor) (json.RawMessage, error) {
	if t.Datatype == FP16 {
		return nil, fmt.Errorf("output %q is FP16, which has no JSON form: ask for it as binary data", t.Name)
	}
	if err := checkRaw(t.Raw, t.Datatype, t.Elems()); err != nil {
		return nil, fmt.Errorf("output %q: %v", t.Name, err)
	}
	le := binary.LittleEndian
	raw := t.Raw
	b := []byte{'['}
	for i := 0; len(raw) > 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		switch t.Datatype {
		case Bool:
			b = strconv.AppendBool(b, raw[0] != 0)
			raw = raw[1:]
		case Bytes:
			k := le.Uint32(raw)
			s, _ := json.Marshal(string(raw[4 : 4+k]))
			b, raw = append(b, s...), raw[4+k:]
		case FP32:
			f := math.Float32frombits(le.Uint32(raw))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("output %q element %d is %v, which JSON cannot hold: ask for binary data", t.Name, i, f)
			}
			b, raw = strconv.AppendFloat(b, float64(f), 'g', -1, 32), raw[4:]
		case FP64:
			f := math.Float64frombits(le.Uint64(raw))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("output %q element %d is %v, which JSON cannot hold: ask for binary data", t.Name, i, f)
			}
			b, raw = strconv.AppendFloat(b, f, 'g', -1, 64), raw[8:]
		case Uint8:
			b, raw = strconv.AppendUint(b, uint64(raw[0]), 10), raw[1:]
		case Int8:
			b, raw = strconv.AppendInt(b, int64(int8(raw[0])), 10), raw[1:]
		case Uint16:
			b, raw = strconv.AppendUint(b, uint64(le.Uint16(raw)), 10), raw[2:]
		case Int16:
			b, raw = strconv.AppendInt(b, int64(int16(le.Uint16(raw))), 10), raw[2:]
		case Uint32:
			b, raw = strconv.AppendUint(b, uint64(le.Uint32(raw)), 10), raw[4:]
		case Int32:
			b, raw = strconv.AppendInt(b, int64(int32(le.Uint32(raw))), 10), raw[4:]
		case Uint64:
			b, raw = strconv.AppendUint(b, le.Uint64(raw), 10), raw[8:]
		case Int64:
			b, raw = strconv.AppendInt(b, int64(le.Uint64(raw)), 10), raw[8:]
		default:
			return nil, fmt.Errorf("output %q: unknown datatype %q", t.Name, t.Datatype)
		}
	}
	return append(b, ']'), nil
}

// ErrorJSON is the protocol's error object for msg.
func ErrorJSON(msg string) []byte {
	b, _ := json.Marshal(ErrorBody{Error: msg})
	return b
}
