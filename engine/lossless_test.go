package engine

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
)

func TestCompressRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 10000)
	for i := range x {
		if rng.IntN(2) == 0 { // half zeros, like a ReLU output
			x[i] = float32(rng.NormFloat64())
		}
	}
	for _, e := range codec.Encodings {
		enc, err := Encode(nil, e, x)
		if err != nil {
			t.Fatal(err)
		}
		z, err := Compress(nil, enc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(nil, z)
		if err != nil || !bytes.Equal(back, enc) {
			t.Fatalf("%s: round trip changed the bytes (%v)", e, err)
		}
		// Float zeros compress; packed codes may not (measured, not assumed).
		if (e == codec.FP32 || e == codec.FP16) && len(z) >= len(enc) {
			t.Errorf("%s: %d bytes compressed to %d", e, len(enc), len(z))
		}
	}
}
