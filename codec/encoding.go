package codec

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

// Compressed marks an encoding followed by the lossless zstd stage, as in
// "int8+zstd": its size depends on the data, so it is measured per cut
// (profile --measure) and only the measured size counts.
const zstdSuffix = "+zstd"

// Compressed reports whether e ends with the lossless zstd stage.
func (e Encoding) Compressed() bool { return strings.HasSuffix(string(e), zstdSuffix) }

// Base is e without its lossless stage.
func (e Encoding) Base() Encoding { return Encoding(strings.TrimSuffix(string(e), zstdSuffix)) }

// Bytes is the size of elems values in encoding e on the wire; for a
// compressed encoding, the size before compression (an upper bound up to
// a few bytes: the measured size replaces it).
func (e Encoding) Bytes(elems int64) int64 {
	switch e.Base() {
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
func (e Encoding) Lossy() bool { return e.Base() == Int8 || e.Base() == Int4 }

// Names lists every encoding a feature map may travel in: each of
// Encodings, alone and followed by zstd.
func Names() []string {
	var valid []string
	for _, e := range Encodings {
		valid = append(valid, string(e), string(e)+zstdSuffix)
	}
	return valid
}

// Parse parses a comma-separated list such as "fp32,fp16,int8"
// (any of them may add "+zstd").
func Parse(s string) ([]Encoding, error) {
	valid := Names()
	var out []Encoding
	seen := map[Encoding]bool{}
	for _, f := range strings.Split(s, ",") {
		e := Encoding(strings.ToLower(strings.TrimSpace(f)))
		if e.Bytes(1) == 0 || e.Base() == Raw || strings.Count(string(e), zstdSuffix) > 1 {
			return nil, fmt.Errorf("unknown encoding %q%s", f, suggest.Hint(f, valid))
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}
