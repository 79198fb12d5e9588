package oip_test

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/oip"
)

// The protocol's own examples (KServe v2 / Open Inference Protocol
// specification, "Inference Request Examples" and the binary tensor data
// extension's example), byte for byte where they are consistent.
const (
	specRequest = `{
  "id" : "42",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "data" : [ 1, 2, 3, 4 ]
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "data" : [ true ]
    }
  ],
  "outputs" : [
    {
      "name" : "output0"
    }
  ]
}`
	specResponse = `{
  "id" : "42",
  "outputs" : [
    {
      "name" : "output0",
      "shape" : [ 3, 2 ],
      "datatype"  : "FP32",
      "data" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ]
    }
  ]
}`
	specBinaryHeader = `{
  "model_name" : "mymodel",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "parameters" : {
        "binary_data_size" : 16
      }
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "parameters" : {
        "binary_data_size" : 3
      }
    }
  ],
  "outputs" : [
    {
      "name" : "output0",
      "parameters" : {
        "binary_data" : true
      }
    },
    {
      "name" : "output1"
    }
  ]
}`
)

// specBinaryBody is the extension's example: input0 = [1 2 3 4] as UINT32,
// input1 = [true false true]. (The example's header carries model_name,
// which a request object does not define; it is read as a request
// parameter-free header with that one extra field stripped below.)
func specBinaryBody() ([]byte, int) {
	head := strings.Replace(specBinaryHeader, "\"model_name\" : \"mymodel\",\n", "", 1)
	b := []byte(head)
	for _, v := range []uint32{1, 2, 3, 4} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return append(b, 1, 0, 1), len(head)
}

// TestSpecRequestExample: the specification's JSON request example has
// shape [3] with one BOOL element, which a strict decoder refuses naming
// the field; with the shape it means ([1]) it decodes to the right bytes.
func TestSpecRequestExample(t *testing.T) {
	_, err := oip.DecodeRequest([]byte(specRequest), -1)
	if err == nil || !strings.HasPrefix(err.Error(), "inputs[1].data: 1 elements; the shape holds 3") {
		t.Fatalf("spec example with shape [3] and 1 element: %v", err)
	}
	fixed := strings.Replace(specRequest, `"shape" : [ 3 ]`, `"shape" : [ 1 ]`, 1)
	r, err := oip.DecodeRequest([]byte(fixed), -1)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "42" || len(r.Inputs) != 2 || len(r.Outputs) != 1 || r.Outputs[0].Name != "output0" || r.Outputs[0].Binary {
		t.Fatalf("decoded %+v", r)
	}
	want := []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}
	if string(r.Inputs[0].Raw) != string(want) || string(r.Inputs[1].Raw) != "\x01" {
		t.Errorf("raw %v %v", r.Inputs[0].Raw, r.Inputs[1].Raw)
	}
}

func TestSpecBinaryExample(t *testing.T) {
	body, n := specBinaryBody()
	r, err := oip.DecodeRequest(body, n)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(r.Inputs[0].Raw[12:]); got != 4 || string(r.Inputs[1].Raw) != "\x01\x00\x01" {
		t.Errorf("inputs %v %v", r.Inputs[0].Raw, r.Inputs[1].Raw)
	}
	if !r.Outputs[0].Binary || r.Outputs[1].Binary {
		t.Errorf("outputs %+v", r.Outputs)
	}
	// The same request encoded again decodes to the same tensors.
	again, m, err := oip.EncodeRequest(r, true)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := oip.DecodeRequest(again, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Inputs {
		if string(r.Inputs[i].Raw) != string(r2.Inputs[i].Raw) {
			t.Errorf("input %d changed in a round trip", i)
		}
	}
	// The header as published, model_name and all, is refused naming it.
	if _, err := oip.DecodeRequest(append([]byte(specBinaryHeader), body[n:]...), len(specBinaryHeader)); err == nil || !strings.Contains(err.Error(), "model_name") {
		t.Errorf("unknown field: %v", err)
	}
}

// TestSpecResponseExample: the response example decodes to the float32
// values written, and encoding them gives JSON that decodes the same.
func TestSpecResponseExample(t *testing.T) {
	r, err := oip.DecodeResponse([]byte(specResponse), -1)
	if err != nil {
		t.Fatal(err)
	}
	x, err := r.Outputs[0].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1.0, 1.1, 2.0, 2.1, 3.0, 3.1}
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("element %d: %g, want %g", i, x[i], want[i])
		}
	}
	for _, bin := range []bool{false, true} {
		body, n, err := oip.EncodeResponse(r, func(int) bool { return bin })
		if err != nil {
			t.Fatal(err)
		}
		if (n >= 0) != bin {
			t.Errorf("binary %v: header length %d", bin, n)
		}
		r2, err := oip.DecodeResponse(body, n)
		if err != nil {
			t.Fatal(err)
		}
		if string(r2.Outputs[0].Raw) != string(r.Outputs[0].Raw) {
			t.Errorf("binary %v: round trip changed the data", bin)
		}
	}
}

// TestFloatsRoundTripExactlyInJSON: every float32 written as JSON reads
// back bit for bit.
func TestFloatsRoundTripExactlyInJSON(t *testing.T) {
	x := []float32{0, -0.0, 1e-45, math.MaxFloat32, -3.4028235e38, 0.1, 1.0 / 3, 16777217}
	r := &oip.Response{Outputs: []oip.Tensor{oip.FP32Tensor("y", []int64{int64(len(x))}, x)}}
	body, n, err := oip.EncodeResponse(r, func(int) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	back, err := oip.DecodeResponse(body, n)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := back.Outputs[0].Float32s()
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			t.Errorf("%g came back %g", x[i], y[i])
		}
	}
}

// TestDecodeRequestErrors: each malformed request is refused with the
// field it breaks.
func TestDecodeRequestErrors(t *testing.T) {
	in := func(s string) string { return `{"inputs":[` + s + `]}` }
	tests := []struct {
		name, body string
		header     int
		want       string
	}{
		{"empty", ``, -1, "empty"},
		{"not json", `{"inputs":`, -1, "unexpected EOF"},
		{"no inputs", `{}`, -1, "inputs: missing"},
		{"unknown field", `{"inputs":[],"foo":1}`, -1, `unknown field "foo"`},
		{"trailing", `{"inputs":[]} x`, -1, "more after the JSON object"},
		{"no name", in(`{"shape":[1],"datatype":"FP32","data":[1]}`), -1, "inputs[0].name: missing"},
		{"no shape", in(`{"name":"a","datatype":"FP32","data":[1]}`), -1, "inputs[0].shape: missing"},
		{"negative dim", in(`{"name":"a","shape":[-1],"datatype":"FP32","data":[1]}`), -1, "inputs[0].shape: dimension 0 is -1"},
		{"huge shape", in(`{"name":"a","shape":[1048576,1048576,1048576],"datatype":"FP32","data":[1]}`), -1, "inputs[0].shape: holds more than"},
		{"shape type", in(`{"name":"a","shape":"2","datatype":"FP32","data":[1]}`), -1, "inputs[0].shape: want []int64"},
		{"bad datatype", in(`{"name":"a","shape":[1],"datatype":"FLOAT","data":[1]}`), -1, `inputs[0].datatype: "FLOAT" is not one of`},
		{"count", in(`{"name":"a","shape":[2],"datatype":"FP32","data":[1]}`), -1, "inputs[0].data: 1 elements; the shape holds 2"},
		{"too many", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1,2]}`), -1, "inputs[0].data: more than the 1"},
		{"range", in(`{"name":"a","shape":[1],"datatype":"UINT8","data":[256]}`), -1, "inputs[0].data: element 0: 256 is not a UINT8 value"},
		{"fp16 json", in(`{"name":"a","shape":[1],"datatype":"FP16","data":[1]}`), -1, "inputs[0].data: FP16 has no JSON form"},
		{"twice", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1]},{"name":"a","shape":[1],"datatype":"FP32","data":[1]}`), -1, `inputs[1].name: "a" appears twice`},
		{"no data", in(`{"name":"a","shape":[1],"datatype":"FP32"}`), -1, "inputs[0].data: missing"},
		{"both", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1],"parameters":{"binary_data_size":4}}`), -1, "inputs[0].data: given with binary_data_size"},
		{"param object", in(`{"name":"a","shape":[1],"datatype":"FP32","data":[1],"parameters":{"x":{}}}`), -1, "inputs[0].parameters.x: want a string"},
		{"output no name", `{"inputs":[],"outputs":[{}]}`, -1, "outputs[0].name: missing"},
		{"binary flag", `{"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":1}}]}`, -1, "outputs[0]: parameters.binary_data: want true or false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			header := tc.header
			if header > len(body) {
				header = len(body)
			}
			_, err := oip.DecodeRequest(body, header)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestBinarySectionErrors: the binary section must hold exactly what the
// inputs' binary_data_size say.
func TestBinarySectionErrors(t *testing.T) {
	head := `{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`
	tests := []struct {
		name string
		bin  []byte
		want string
	}{
		{"short", make([]byte, 4), "inputs[0].parameters.binary_data_size: 8 bytes, but 4 are left"},
		{"long", make([]byte, 12), "the binary section has 12 bytes; the inputs' binary_data_size add up to 8"},
		{"exact", make([]byte, 8), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oip.DecodeRequest(append([]byte(head), tc.bin...), len(head))
			if tc.want == "" {
				if err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	wrong := `{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":8}}]}`
	if _, err := oip.DecodeRequest(append([]byte(wrong), make([]byte, 8)...), len(wrong)); err == nil || !strings.Contains(err.Error(), "8 bytes; 3 FP32 elements take 12") {
		t.Errorf("size against shape: %v", err)
	}
	if _, err := oip.HeaderLength("100", 50); err == nil || !strings.Contains(err.Error(), "Inference-Header-Content-Length: 100 bytes, but the body has 50") {
		t.Errorf("header length: %v", err)
	}
	if _, err := oip.HeaderLength("x", 50); err == nil {
		t.Error("a header length of x was accepted")
	}
}

// TestBytesTensor: BYTES elements in JSON become length-prefixed bytes and
// back.
func TestBytesTensor(t *testing.T) {
	r, err := oip.DecodeRequest([]byte(`{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","data":["ab",""]}]}`), -1)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x02\x00\x00\x00ab\x00\x00\x00\x00"; string(r.Inputs[0].Raw) != want {
		t.Errorf("raw %q, want %q", r.Inputs[0].Raw, want)
	}
	body, _, err := oip.EncodeRequest(r, false)
	if err != nil || !strings.Contains(string(body), `"data":["ab",""]`) {
		t.Errorf("encoded %s (%v)", body, err)
	}
}
