package dataset

import "math"

// pilBits is Pillow's fixed-point precision for 8-bit resampling
// (PRECISION_BITS = 32 − 8 − 2 in Resample.c).
const pilBits = 22

// pilTaps is Pillow's bilinear filter along one axis for output indices
// off … off+n−1 of a resize from in to out samples: a triangle widened by
// the shrink factor (so shrinking averages every sample it covers), its
// weights normalized and then rounded to 22-bit fixed point, as
// precompute_coeffs and normalize_coeffs_8bpc do in Pillow 9.
type pilTaps struct {
	lo, n []int   // first source sample and number of samples per output
	k     []int32 // ksize weights per output
	ksize int
}

func newPILTaps(in, out, off, n int) pilTaps {
	scale := float64(in) / float64(out)
	filterScale := max(scale, 1)
	support := filterScale // the triangle's support is 1 before widening
	ksize := int(math.Ceil(support))*2 + 1
	t := pilTaps{lo: make([]int, n), n: make([]int, n), k: make([]int32, n*ksize), ksize: ksize}
	w := make([]float64, ksize)
	ss := 1 / filterScale // Pillow multiplies by the reciprocal; dividing can differ in the last bit
	for j := range n {
		center := (float64(off+j) + 0.5) * scale
		// C's (int) truncates toward zero, as Go's conversion does.
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		sum := 0.0
		for x := lo; x < hi; x++ {
			d := math.Abs((float64(x) - center + 0.5) * ss)
			w[x-lo] = 0
			if d < 1 {
				w[x-lo] = 1 - d
			}
			sum += w[x-lo]
		}
		for x := range hi - lo {
			if sum != 0 {
				w[x] /= sum
			}
			t.k[j*ksize+x] = int32(0.5 + w[x]*(1<<pilBits)) // weights are ≥ 0
		}
		t.lo[j], t.n[j] = lo, hi-lo
	}
	return t
}

// clip8 is Pillow's rounding of a fixed-point sum to 8 bits.
func clip8(v int32) uint8 {
	switch {
	case v >= 1<<pilBits<<8:
		return 255
	case v <= 0:
		return 0
	}
	return uint8(v >> pilBits)
}

// resamplePIL resizes the 3 planes of src (h×w, values in [0,1] that came
// from 8-bit samples, or are rounded to 8 bits here) with Pillow's
// two-pass bilinear: along rows first, rounded to 8 bits, then along
// columns, rounded again; dst gets the 8-bit results ÷ 255, as ToTensor
// would give after PIL's resize and crop.
func resamplePIL(src []float32, h, w int, rows, cols pilTaps, dst []float32) {
	oh, ow := len(rows.lo), len(cols.lo)
	in := make([]uint8, h*w)
	mid := make([]uint8, h*ow)
	for c := range 3 {
		for i, v := range src[c*h*w : (c+1)*h*w] {
			in[i] = uint8(v*255 + 0.5)
		}
		// Only the rows the column pass reads.
		for y := rows.lo[0]; y < rows.lo[oh-1]+rows.n[oh-1]; y++ {
			row := in[y*w : y*w+w]
			for x := range ow {
				k := cols.k[x*cols.ksize:]
				s := int32(1 << (pilBits - 1))
				for t, v := range row[cols.lo[x] : cols.lo[x]+cols.n[x]] {
					s += int32(v) * k[t]
				}
				mid[y*ow+x] = clip8(s)
			}
		}
		out := dst[c*oh*ow : (c+1)*oh*ow]
		for y := range oh {
			k := rows.k[y*rows.ksize:]
			for x := range ow {
				s := int32(1 << (pilBits - 1))
				for t := range rows.n[y] {
					s += int32(mid[(rows.lo[y]+t)*ow+x]) * k[t]
				}
				out[y*ow+x] = float32(clip8(s)) / 255
			}
		}
	}
}
