package export

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// decodeAsManifestSays decodes one sample of w's bytes the way a consumer
// reading only the manifest would.
func decodeAsManifestSays(t *testing.T, w WireTensor, b []byte, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	switch q := w.Quantization; {
	case q != nil:
		scale := math.Float32frombits(binary.LittleEndian.Uint32(b[q.ScaleOffset:]))
		zero := int32(binary.LittleEndian.Uint32(b[q.ZeroPointOffset:]))
		codes := b[q.CodesOffset:]
		for i := range out {
			var c int32
			if q.CodeBits == 4 {
				c = int32(codes[i/2]>>(4*(i%2))) & 0xf
			} else {
				c = int32(codes[i])
			}
			out[i] = float32(float64(c-zero) * float64(scale))
		}
	case w.Encoding == "fp16":
		for i := range out {
			out[i] = engine.Float32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case w.Encoding == "fp32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	default:
		t.Fatalf("the manifest does not say how to decode %q", w.Encoding)
	}
	return out
}

// TestManifestDescribesTheWire encodes a tensor as the runtime does and
// decodes it from the manifest's description alone: the values are the
// engine's decoding, bit for bit, and the byte count is the manifest's.
func TestManifestDescribesTheWire(t *testing.T) {
	shape := model.Shape{3, 5, 7} // odd: int4's last byte holds one code
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, shape.Elems())
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	for _, e := range codec.Encodings {
		t.Run(string(e), func(t *testing.T) {
			w := wireTensor("cut_x", shape, e)
			b, err := engine.Encode(nil, e, x)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != w.Bytes {
				t.Errorf("%d bytes on the wire, manifest says %d", len(b), w.Bytes)
			}
			want := make([]float32, len(x))
			if err := engine.Decode(want, e, b); err != nil {
				t.Fatal(err)
			}
			got := decodeAsManifestSays(t, w, b, len(x))
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d: manifest decoding %g, engine %g", i, got[i], want[i])
				}
			}
			if w.Layout == "" || w.Decode == "" || w.Shape[0] != -1 {
				t.Errorf("incomplete description %+v", w)
			}
		})
	}
}

func TestTritonConfig(t *testing.T) {
	f := File{Inputs: []Tensor{{Name: "cut_a", Shape: []int{-1, 40, 28, 28}}, {Name: "cut_b", Shape: []int{-1, 16}}},
		Outputs: []Tensor{{Name: "task1", Shape: []int{-1, 8}}}}
	want := `name: "server"
platform: "onnxruntime_onnx"
backend: "onnxruntime"
max_batch_size: 8
input [
  {
    name: "cut_a"
    data_type: TYPE_FP32
    dims: [ 40, 28, 28 ]
  },
  {
    name: "cut_b"
    data_type: TYPE_FP32
    dims: [ 16 ]
  }
]
output [
  {
    name: "task1"
    data_type: TYPE_FP32
    dims: [ 8 ]
  }
]
dynamic_batching { }
`
	if got := string(tritonConfig("server", f)); got != want {
		t.Errorf("config.pbtxt:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(want, "TYPE_FP32") != 3 {
		t.Fatal("bad fixture")
	}
}
