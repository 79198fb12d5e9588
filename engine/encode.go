package engine

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
)

// The wire formats (codec.Encoding) are written here, so that the planner
// predicts exactly the sizes the engine writes:
//   - FP32: little-endian IEEE single, 4 bytes a value, lossless.
//   - FP16: little-endian IEEE half, 2 bytes a value, rounded to nearest even
//     (overflow becomes ±Inf, as in PyTorch's .half()).
//   - Int8, Int4: per-tensor affine quantization, q = round(x/scale) + zero,
//     clamped to the unsigned codes 0..255 or 0..15; x ≈ (q − zero)·scale. An
//     8-byte header (float32 scale, int32 zero point, little-endian) comes
//     first; int4 packs two codes a byte, the even-indexed value in the low
//     nibble. The range always includes 0, so zeros (ReLU outputs, padding)
//     decode exactly.

// encodedBytes is the encoded size of n values, or -1 for an encoding the
// engine cannot write.
func encodedBytes(e codec.Encoding, n int) int {
	switch e {
	case codec.FP32, codec.FP16, codec.Int8, codec.Int4:
		return int(e.Bytes(int64(n)))
	}
	return -1
}

// levels is the largest code of a quantized encoding.
func levels(e codec.Encoding) int {
	if e == codec.Int4 {
		return 15
	}
	return 255
}

// Quantization is the scale and zero point of an Int8 or Int4 tensor.
type Quantization struct {
	Scale float32
	Zero  int32
}

// Step is the largest error a round trip makes on a value inside the
// tensor's range: half the quantization step.
func (q Quantization) Step() float32 { return q.Scale / 2 }

// Quantize chooses the affine mapping of x onto e's codes: the range
// [min(x, 0), max(x, 0)] spread over all codes.
func Quantize(e codec.Encoding, x []float32) (Quantization, error) {
	if e != codec.Int8 && e != codec.Int4 {
		return Quantization{}, fmt.Errorf("quantize: %q is not a quantized encoding", e)
	}
	lo, hi := 0.0, 0.0
	for i, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Quantization{}, fmt.Errorf("quantize %s: value %d is %v", e, i, v)
		}
		lo, hi = min(lo, f), max(hi, f)
	}
	levels := float64(levels(e))
	scale := float32((hi - lo) / levels)
	if scale == 0 || math.IsInf(float64(scale), 0) {
		if hi-lo > 0 {
			return Quantization{}, fmt.Errorf("quantize %s: range [%g, %g] does not fit a float32 scale", e, lo, hi)
		}
		scale = 1 // all zeros
	}
	zero := math.Round(-lo / float64(scale))
	return Quantization{Scale: scale, Zero: int32(min(max(zero, 0), levels))}, nil
}

func (q Quantization) code(v float32, levels float64) byte {
	c := math.RoundToEven(float64(v)/float64(q.Scale)) + float64(q.Zero)
	return byte(min(max(c, 0), levels))
}

func (q Quantization) value(c byte) float32 {
	return float32(float64(int32(c)-q.Zero) * float64(q.Scale))
}

// Encode appends x in encoding e to dst and returns the extended slice; it
// allocates only when dst lacks room.
func Encode(dst []byte, e codec.Encoding, x []float32) ([]byte, error) {
	n := encodedBytes(e, len(x))
	if n < 0 {
		return dst, fmt.Errorf("encode: unknown encoding %q (have %v)", e, codec.Encodings)
	}
	var q Quantization
	if e == codec.Int8 || e == codec.Int4 {
		var err error
		if q, err = Quantize(e, x); err != nil {
			return dst, err
		}
	}
	at := len(dst)
	dst = grow(dst, n)
	b := dst[at:]
	switch e {
	case codec.FP32:
		for i, v := range x {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case codec.FP16:
		for i, v := range x {
			binary.LittleEndian.PutUint16(b[2*i:], Float16(v))
		}
	case codec.Int8, codec.Int4:
		binary.LittleEndian.PutUint32(b, math.Float32bits(q.Scale))
		binary.LittleEndian.PutUint32(b[4:], uint32(q.Zero))
		b = b[codec.QuantHeaderBytes:]
		levels := float64(levels(e))
		if e == codec.Int8 {
			for i, v := range x {
				b[i] = q.code(v, levels)
			}
			break
		}
		clear(b)
		for i, v := range x {
			b[i/2] |= q.code(v, levels) << (4 * (i % 2))
		}
	}
	return dst, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// Decode fills dst (whose length is the number of values) from src, which
// must be exactly encodedBytes(e, len(dst)) long.
func Decode(dst []float32, e codec.Encoding, src []byte) error {
	n := encodedBytes(e, len(dst))
	if n < 0 {
		return fmt.Errorf("decode: unknown encoding %q (have %v)", e, codec.Encodings)
	}
	if len(src) != n {
		return fmt.Errorf("decode %s: %d values need %d bytes, got %d", e, len(dst), n, len(src))
	}
	switch e {
	case codec.FP32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case codec.FP16:
		for i := range dst {
			dst[i] = Float32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case codec.Int8, codec.Int4:
		q := Quantization{
			Scale: math.Float32frombits(binary.LittleEndian.Uint32(src)),
			Zero:  int32(binary.LittleEndian.Uint32(src[4:])),
		}
		if !(q.Scale > 0) || math.IsInf(float64(q.Scale), 0) || q.Zero < 0 || int(q.Zero) > levels(e) {
			return fmt.Errorf("decode %s: bad header (scale %g, zero point %d)", e, q.Scale, q.Zero)
		}
		codes := src[codec.QuantHeaderBytes:]
		if e == codec.Int8 {
			for i := range dst {
				dst[i] = q.value(codes[i])
			}
			break
		}
		for i := range dst {
			dst[i] = q.value(codes[i/2] >> (4 * (i % 2)) & 0xf)
		}
	}
	return nil
}

// Float16 is f rounded to the nearest IEEE half (ties to even), as bits.
func Float16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff { // Inf or NaN; a NaN stays a (quiet) NaN
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // a half subnormal: units of 2^-24
		if e < -10 {
			return sign
		}
		full := man | 0x800000
		shift := uint(14 - e)
		q, rem, half := full>>shift, full&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || rem == half && q&1 == 1 {
			q++ // may carry into the smallest normal, which is right
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | man>>13
	if rem := man & 0x1fff; rem > 0x1000 || rem == 0x1000 && q&1 == 1 {
		q++ // may carry into the exponent, up to Inf, which is right
	}
	return sign | uint16(q)
}

// Float32 is the value of the IEEE half h.
func Float32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		f := float32(man) / (1 << 24) // exact: man < 2^10
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}
