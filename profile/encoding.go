package profile

import (
	"fmt"
	"strings"

	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// Encoding is how a cut tensor is put on the wire.
type Encoding string

// The encodings of a cut tensor. Raw is the uint8 camera image that
// remote-only sends; the others encode a float feature map.
const (
	FP32 Encoding = "fp32"
	FP16 Encoding = "fp16"
	Int8 Encoding = "int8"
	Int4 Encoding = "int4"
	Raw  Encoding = "uint8"
)

// Encodings lists the encodings of a feature map, most precise first.
var Encodings = []Encoding{FP32, FP16, Int8, Int4}

// QuantHeaderBytes is what a per-tensor affine quantized tensor carries
// besides its codes: a float32 scale and an int32 zero point.
const QuantHeaderBytes = 8

// Bytes is the size of elems values in encoding e on the wire.
func (e Encoding) Bytes(elems int64) int64 {
	switch e {
	case FP32:
		return 4 * elems
	case FP16:
		return 2 * elems
	case Int8:
		return elems + QuantHeaderBytes
	case Int4:
		return (elems+1)/2 + QuantHeaderBytes
	case Raw:
		return elems
	}
	return 0
}

// Lossy reports whether decoding loses information relative to fp32 beyond
// rounding a float (int formats quantize).
func (e Encoding) Lossy() bool { return e == Int8 || e == Int4 }

// ParseEncodings parses a comma-separated list such as "fp32,fp16,int8".
func ParseEncodings(s string) ([]Encoding, error) {
	valid := make([]string, len(Encodings))
	for i, e := range Encodings {
		valid[i] = string(e)
	}
	var out []Encoding
	seen := map[Encoding]bool{}
	for _, f := range strings.Split(s, ",") {
		e := Encoding(strings.ToLower(strings.TrimSpace(f)))
		if e.Bytes(1) == 0 || e == Raw {
			return nil, fmt.Errorf("unknown encoding %q%s", f, suggest.Hint(f, valid))
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}
