package shapes3d

import (
	"fmt"
	"image"
	"math/rand/v2"
)

// NoiseSource is the generator of one scene's noise: it depends only on the
// seed and the scene index, so a scene's noise does not change with which
// other scenes are written, in what order, or by how many workers.
func NoiseSource(seed uint64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(index)^0x4e4f495345)) // "NOISE"
}

// CheckNoise reports a salt-and-pepper probability outside [0, 1].
func CheckNoise(p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("noise probability %v out of range (valid: 0..1)", p)
	}
	return nil
}

// SaltPepper replaces each pixel, with probability p, by black or white
// (equally likely), all three channels at once. MTL-Split's paper says it
// adds salt-and-pepper noise but not whether per pixel or per channel;
// per pixel is the usual definition and the one used here.
func SaltPepper(img *image.RGBA, p float64, rng *rand.Rand) {
	if p <= 0 {
		return
	}
	b := img.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		for x := range b.Dx() {
			if rng.Float64() >= p {
				continue
			}
			v := uint8(0)
			if rng.Uint64()&1 == 1 {
				v = 255
			}
			row[4*x], row[4*x+1], row[4*x+2] = v, v, v
		}
	}
}
