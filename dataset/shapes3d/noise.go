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

// Paper-noise thresholds and values of MTL-Split's released code
// (data/shapes.py: SaltAndPepperNoise with noiseType "SnPn", treshold
// 0.08): a standard normal draw per value decides it.
const (
	paperDarkAbove  = 0.92 // z ≥ 0.92 (17.9% of values) becomes 0.02
	paperLightBelow = 0.08 // z ≤ 0.08 (53.2% of values) becomes 0.98
)

// PaperNoise applies the noise MTL-Split's released code puts on every
// input, at training and test time alike: each value of each channel,
// independently, becomes 0.02 when a standard normal draw is ≥ 0.92 and
// 0.98 when it is ≤ 0.08 (here the 8-bit 5 and 250), so about 71% of the
// values are replaced. It is far heavier than the per-pixel SaltPepper the
// name suggests; the threshold is compared with a normal draw, not a
// uniform one.
func PaperNoise(img *image.RGBA, rng *rand.Rand) {
	b := img.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		for x := range b.Dx() {
			for c := range 3 {
				switch z := rng.NormFloat64(); {
				case z >= paperDarkAbove:
					row[4*x+c] = 5
				case z <= paperLightBelow:
					row[4*x+c] = 250
				}
			}
		}
	}
}
