package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
)

func codecInput(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
		if i%7 == 0 {
			x[i] = 0 // like ReLU outputs
		}
	}
	return x
}

func TestEncodingBytes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 8, 1000, 1001} {
		want := map[codec.Encoding]int{codec.FP32: 4 * n, codec.FP16: 2 * n, codec.Int8: n + 8, codec.Int4: (n+1)/2 + 8}
		x := codecInput(n, uint64(n))
		for _, e := range codec.Encodings {
			b, err := Encode(nil, e, x)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != want[e] || encodedBytes(e, n) != want[e] {
				t.Errorf("%s of %d values: encoded %d bytes, Bytes says %d, want %d", e, n, len(b), encodedBytes(e, n), want[e])
			}
		}
	}
}

func TestQuantizedRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		x    []float32
	}{
		{"normal", codecInput(1001, 3)},
		{"positive", []float32{0.5, 1, 2, 3.25, 7}},
		{"negative", []float32{-0.5, -1, -9}},
		{"zeros", make([]float32, 5)},
		{"one", []float32{1e-3}},
		{"tiny range", []float32{1e-30, 2e-30, -3e-30}},
	}
	for _, e := range []codec.Encoding{codec.Int8, codec.Int4} {
		for _, tc := range tests {
			t.Run(string(e)+"/"+tc.name, func(t *testing.T) {
				q, err := Quantize(e, tc.x)
				if err != nil {
					t.Fatal(err)
				}
				b, err := Encode(nil, e, tc.x)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]float32, len(tc.x))
				if err := Decode(got, e, b); err != nil {
					t.Fatal(err)
				}
				for i, v := range tc.x {
					// Half a step in exact arithmetic, plus the float32
					// rounding of the decoded value.
					limit := float64(q.Step()) + ulp32(v)
					if d := math.Abs(float64(got[i]) - float64(v)); d > limit {
						t.Fatalf("value %d: %g decoded as %g, error %g > step/2 %g", i, v, got[i], d, q.Step())
					}
					if v == 0 && got[i] != 0 {
						t.Fatalf("value %d: zero decoded as %g", i, got[i])
					}
				}
			})
		}
	}
}

func ulp32(v float32) float64 {
	a := math.Abs(float64(v))
	return float64(math.Nextafter32(float32(a), float32(math.Inf(1)))) - a
}

func TestQuantizeRejectsNonFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		if _, err := Encode(nil, codec.Int8, []float32{1, v}); err == nil {
			t.Errorf("int8 of %v: no error", v)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	dst := make([]float32, 4)
	for _, tc := range []struct {
		e   codec.Encoding
		src []byte
	}{
		{codec.FP32, make([]byte, 15)},
		{codec.FP16, make([]byte, 9)},
		{codec.Int8, make([]byte, 12)}, // scale 0
		{codec.Int4, make([]byte, 11)}, // too long
		{"bf16", make([]byte, 8)},      // unknown
	} {
		if err := Decode(dst, tc.e, tc.src); err == nil {
			t.Errorf("%s from %d bytes: no error", tc.e, len(tc.src))
		}
	}
}

// TestFloat16Exhaustive: every half survives half→float32→half, and every
// float32 sampled rounds to its nearest half with ties to even.
func TestFloat16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := Float32(uint16(h))
		if f != f {
			if back := Float16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x became %#04x", h, back)
			}
			continue
		}
		if back := Float16(f); back != uint16(h) {
			t.Fatalf("half %#04x = %g came back as %#04x", h, f, back)
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200000 {
		// Uniform over bit patterns with |x| below the largest half.
		x := math.Float32frombits(rng.Uint32() & 0xc7ffffff)
		if x != x || math.Abs(float64(x)) > 65504 {
			continue
		}
		h := Float16(x)
		got := float64(Float32(h))
		d := math.Abs(got - float64(x))
		// Half an ulp of the half grid at x: 2^(e−11) for normals, 2^-25 below.
		e := max(math.Floor(math.Log2(math.Abs(float64(x)))), -14)
		if half := math.Ldexp(1, int(e)-11); d > half || d == half && h&1 == 1 {
			t.Fatalf("%g → %#04x = %g: error %g, half ulp %g", x, h, got, d, half)
		}
	}
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00},
		{5.960464477539063e-08, 0x0001}, {2.9802322387695312e-08, 0x0000}, {3e-08, 0x0001},
		{0.1, 0x2e66}, {float32(math.Inf(-1)), 0xfc00},
	} {
		if got := Float16(tc.f); got != tc.h {
			t.Errorf("Float16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
}

func TestEncodeAppendsWithoutAllocating(t *testing.T) {
	x := codecInput(4096, 9)
	buf := make([]byte, 0, encodedBytes(codec.FP32, len(x)))
	out := make([]float32, len(x))
	for _, e := range codec.Encodings {
		allocs := testing.AllocsPerRun(10, func() {
			b, err := Encode(buf[:0], e, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := Decode(out, e, b); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per encode+decode", e, allocs)
		}
	}
}
