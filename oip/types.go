package oip

import (
	"encoding/json"
	"fmt"
	"math"
)

// HeaderContentLength is the HTTP header of the binary tensor data
// extension: the length of the JSON object that opens the body.
const HeaderContentLength = "Inference-Header-Content-Length"

// The datatypes of the protocol's tensors.
const (
	Bool   = "BOOL"
	Uint8  = "UINT8"
	Uint16 = "UINT16"
	Uint32 = "UINT32"
	Uint64 = "UINT64"
	Int8   = "INT8"
	Int16  = "INT16"
	Int32  = "INT32"
	Int64  = "INT64"
	FP16   = "FP16"
	FP32   = "FP32"
	FP64   = "FP64"
	Bytes  = "BYTES"
)

// ElemBytes is the size of one element of a fixed-size datatype, 0 for
// BYTES (each element carries its own length) and -1 for an unknown one.
func ElemBytes(datatype string) int {
	switch datatype {
	case Bool, Uint8, Int8:
		return 1
	case Uint16, Int16, FP16:
		return 2
	case Uint32, Int32, FP32:
		return 4
	case Uint64, Int64, FP64:
		return 8
	case Bytes:
		return 0
	}
	return -1
}

// Datatypes lists the protocol's datatypes, for error messages.
var Datatypes = []string{Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64, FP16, FP32, FP64, Bytes}

// Parameters are the protocol's free-form parameters of a request, a
// tensor or a response: strings, booleans and numbers.
type Parameters map[string]any

// String is parameter key as a string ("" and false when absent).
func (p Parameters) String(key string) (string, bool, error) {
	v, ok := p[key]
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, fmt.Errorf("parameters.%s: want a string, got %v", key, v)
	}
	return s, true, nil
}

// Bool is parameter key as a boolean (false when absent).
func (p Parameters) Bool(key string) (bool, error) {
	v, ok := p[key]
	if !ok {
		return false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, fmt.Errorf("parameters.%s: want true or false, got %v", key, v)
	}
	return b, nil
}

// Int64 is parameter key as a whole number (false when absent).
func (p Parameters) Int64(key string) (int64, bool, error) {
	v, ok := p[key]
	if !ok {
		return 0, false, nil
	}
	var f float64
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true, nil
		}
		return 0, true, fmt.Errorf("parameters.%s: want a whole number, got %s", key, n)
	case float64:
		f = n
	case int:
		return int64(n), true, nil
	case int64:
		return n, true, nil
	default:
		return 0, true, fmt.Errorf("parameters.%s: want a whole number, got %v", key, v)
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, true, fmt.Errorf("parameters.%s: want a whole number, got %v", key, f)
	}
	return int64(f), true, nil
}

// Float64 is parameter key as a number (false when absent).
func (p Parameters) Float64(key string) (float64, bool, error) {
	v, ok := p[key]
	if !ok {
		return 0, false, nil
	}
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0, true, fmt.Errorf("parameters.%s: want a number, got %s", key, n)
		}
		return f, true, nil
	case float64:
		return n, true, nil
	case int:
		return float64(n), true, nil
	}
	return 0, true, fmt.Errorf("parameters.%s: want a number, got %v", key, v)
}

// Tensor is an input of a request or an output of a response, decoded:
// Raw holds its elements' little-endian row-major bytes (for BYTES, each
// element as a 4-byte length then its bytes), whether it travelled as JSON
// or as binary data.
type Tensor struct {
	Name       string
	Shape      []int64
	Datatype   string
	Parameters Parameters
	Raw        []byte
}

// Elems is the number of elements the shape holds.
func (t *Tensor) Elems() int64 {
	n, _ := elems(t.Shape)
	return n
}

// RequestedOutput names an output the client wants; Binary asks for it as
// binary data.
type RequestedOutput struct {
	Name       string
	Parameters Parameters
	Binary     bool
}

// Request is a decoded inference request.
type Request struct {
	ID         string
	Parameters Parameters
	Inputs     []Tensor
	Outputs    []RequestedOutput
	// BinaryOutput is the request parameter binary_data_output: every
	// output as binary data unless it says otherwise.
	BinaryOutput bool
}

// Response is an inference response.
type Response struct {
	ModelName    string
	ModelVersion string
	ID           string
	Parameters   Parameters
	Outputs      []Tensor
}

// FieldError is a request that breaks the protocol, naming where.
type FieldError struct {
	Field string // e.g. "inputs[1].shape"; "" for the body as a whole
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrorBody is the protocol's error object.
type ErrorBody struct {
	Error string `json:"error"`
}

// MetadataTensor describes one tensor in model metadata.
type MetadataTensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	// Parameters are this server's extension: e.g. the encodings a
	// tensor may travel in.
	Parameters Parameters `json:"parameters,omitempty"`
}

// ModelMetadata is the model metadata response object.
type ModelMetadata struct {
	Name       string           `json:"name"`
	Versions   []string         `json:"versions,omitempty"`
	Platform   string           `json:"platform"`
	Inputs     []MetadataTensor `json:"inputs"`
	Outputs    []MetadataTensor `json:"outputs"`
	Parameters Parameters       `json:"parameters,omitempty"`
}

// elems is the product of a shape's dimensions, refusing negative ones
// and products past 2^40 (no tensor of ours comes near; it stops
// overflow).
func elems(shape []int64) (int64, error) {
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("dimension %d is %d; want 0 or more", i, d)
		}
		if d > 0 && n > (1<<40)/d {
			return 0, fmt.Errorf("holds more than 2^40 elements")
		}
		n *= d
	}
	return n, nil
}
