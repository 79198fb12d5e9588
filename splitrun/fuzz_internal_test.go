package splitrun

import (
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/oip"
)

// FuzzDecodeTensor feeds arbitrary bytes, datatypes and encodings to the
// server's decoding of a sent tensor (checks, then the codec: quantized
// headers, fp16, zstd frames): it errs or fills the tensor, never panics
// and never inflates a zstd frame past the tensor's size.
func FuzzDecodeTensor(f *testing.F) {
	shape := model.Shape{2, 3, 5}
	x := make([]float32, shape.Elems())
	for i := range x {
		x[i] = float32(i) - 7.5
	}
	for _, e := range []codec.Encoding{codec.FP32, codec.FP16, codec.Int8, codec.Int4, "int8+zstd", "fp32+zstd"} {
		t, _, err := tensorOut("t", shape, e, x)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(e), t.Datatype, len(t.Shape), t.Raw)
	}
	f.Add("uint8", oip.Uint8, 4, make([]byte, 30))
	f.Add("int8", oip.Bytes, 1, []byte("\x08\x00\x00\x00\x00\x00\x80\x7f\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, enc, datatype string, rank int, raw []byte) {
		tn := oip.Tensor{Name: "t", Datatype: datatype, Raw: raw, Parameters: oip.Parameters{"encoding": enc}}
		if rank == 1 {
			tn.Shape = []int64{1}
			if datatype == oip.Bytes {
				// The protocol decoder guarantees one length-prefixed element.
				tn.Raw = append(le32(len(raw)), raw...)
			}
		} else {
			tn.Shape = []int64{1, 2, 3, 5}
		}
		y := make([]float32, shape.Elems())
		tensorIn(y, &tn, shape, "inputs[0]", &normalization{mean: []float32{0.5, 0.5}, std: []float32{0.25, 0.25}})
	})
}
