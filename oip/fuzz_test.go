package oip_test

import (
	"testing"

	"github.com/mtlsplit/mtlsplit/oip"
)

// FuzzDecodeRequest: no body and header length makes the decoder panic,
// and whatever it accepts encodes and decodes again to the same tensors.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(specRequest), -1)
	f.Add([]byte(`{"inputs":[{"name":"a","shape":[1],"datatype":"BOOL","data":[true]}],"outputs":[{"name":"y"}]}`), -1)
	body, n := specBinaryBody()
	f.Add(body, n)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP32","data":[[1.5],[-2]]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}`+"\x02\x00\x00\x00hi"), 94)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		if headerLen > len(body) {
			headerLen = len(body)
		}
		r, err := oip.DecodeRequest(body, headerLen)
		if err != nil {
			return
		}
		for _, binary := range []bool{false, true} {
			again, n, err := oip.EncodeRequest(r, binary)
			if err != nil {
				continue // FP16 and NaN have no JSON form
			}
			r2, err := oip.DecodeRequest(again, n)
			if err != nil {
				t.Fatalf("re-encoded request refused: %v\n%q", err, again)
			}
			for i := range r.Inputs {
				if string(r.Inputs[i].Raw) != string(r2.Inputs[i].Raw) {
					t.Fatalf("input %d changed in a round trip", i)
				}
			}
		}
	})
}

// FuzzBinarySection: a fixed header with arbitrary binary sections.
func FuzzBinarySection(f *testing.F) {
	head := `{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":12}},` +
		`{"name":"x","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`
	f.Add([]byte("\x02\x00\x00\x00ab\x02\x00\x00\x00cd\x00\x00\x80\x3f"))
	f.Add([]byte("\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, bin []byte) {
		body := append([]byte(head), bin...)
		r, err := oip.DecodeRequest(body, len(head))
		if err != nil {
			return
		}
		if got := len(r.Inputs[0].Raw) + len(r.Inputs[1].Raw); got != len(bin) {
			t.Fatalf("tensors hold %d bytes of a %d-byte section", got, len(bin))
		}
	})
}

// FuzzDecodeResponse: what a server sends back never panics the client.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(specResponse), -1)
	f.Add([]byte(`{"model_name":"m","outputs":[{"name":"y","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}`+"\x00\x00\x80\x3f"), 104)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		if headerLen > len(body) {
			headerLen = len(body)
		}
		oip.DecodeResponse(body, headerLen)
	})
}
