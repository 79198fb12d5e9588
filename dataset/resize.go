package dataset

import (
	"fmt"
	"math"
)

// taps are, for each output index along one axis, the two source indices
// and their weights.
type taps struct {
	i0, i1 []int
	w0, w1 []float32
}

// checkSize refuses an image that resize none cannot take.
func (p Preprocess) checkSize(h, w int) error {
	if p.Resize == ResizeNone && (h != p.Shape[1] || w != p.Shape[2]) {
		return fmt.Errorf("image is %d×%d (H×W), want %d×%d: resize none needs images of the input size (resize exact or shorter otherwise)", h, w, p.Shape[1], p.Shape[2])
	}
	return nil
}

// bilinearTaps computes the taps of output indices off … off+n−1 of a
// resize from in to out samples the way PyTorch 1.13's upsample_bilinear2d
// does with align_corners=False and no scale factor: scale = in/out in
// float32, then the source position scale·(d+0.5) − 0.5 (clamped at 0) and
// its fraction in double, rounded to float32 only as weights. The next
// sample's weight is the fraction; the last sample has no next one. These
// weights equal PyTorch's bit for bit (checked on one-hot inputs while
// writing testdata/gen_fixture.py), which keeps outputs within a rounding
// or two of torchvision's.
func bilinearTaps(in, out, off, n int) taps {
	t := taps{make([]int, n), make([]int, n), make([]float32, n), make([]float32, n)}
	scale := float64(float32(in) / float32(out))
	for k := range n {
		src := max(scale*(float64(off+k)+0.5)-0.5, 0)
		i0 := min(int(src), in-1)
		l := min(max(src-float64(i0), 0), 1)
		t.i0[k], t.w0[k], t.w1[k] = i0, float32(1-l), float32(l)
		t.i1[k] = i0
		if i0 < in-1 {
			t.i1[k] = i0 + 1
		}
	}
	return t
}

// shorterSize is torchvision's Resize(int) output size: the shorter side
// becomes s and the longer one s·long/short, truncated.
func shorterSize(h, w, s int) (int, int) {
	if w <= h {
		return int(float64(s) * float64(h) / float64(w)), s
	}
	return s, int(float64(s) * float64(w) / float64(h))
}

// cropOffset is torchvision's CenterCrop offset: Python's round, which
// rounds halves to even.
func cropOffset(size, crop int) int {
	return int(math.RoundToEven(float64(size-crop) / 2))
}

// transform writes the preprocessed item for the planar [0,1] image src
// (3 planes of h×w) into dst (p.Elems() values, CHW).
func transform(p Preprocess, src []float32, h, w int, dst []float32) error {
	oh, ow := p.Shape[1], p.Shape[2]
	switch p.Resize {
	case ResizeNone:
		if err := p.checkSize(h, w); err != nil {
			return err
		}
		copy(dst, src[:3*h*w])
	case ResizeExact:
		resize(p, src, h, w, oh, ow, 0, 0, dst)
	case ResizeShorter:
		nh, nw := shorterSize(h, w, p.ShorterPx)
		resize(p, src, h, w, nh, nw, cropOffset(nh, oh), cropOffset(nw, ow), dst)
	}
	normalize(p, dst, oh*ow)
	return nil
}

// resize scales the planes of src (h×w) to nh×nw with p's interpolation
// and writes the window of Shape's size at (top, left) into dst; only that
// window is computed.
func resize(p Preprocess, src []float32, h, w, nh, nw, top, left int, dst []float32) {
	oh, ow := p.Shape[1], p.Shape[2]
	if p.Interpolation == InterpBilinearPIL {
		resamplePIL(src, h, w, newPILTaps(h, nh, top, oh), newPILTaps(w, nw, left, ow), dst)
		return
	}
	resample(src, h, w, bilinearTaps(h, nh, top, oh), bilinearTaps(w, nw, left, ow), dst)
}

// resample interpolates each of the 3 planes of src (h×w) at the given taps
// into dst: along the row first, then between rows, each step a·wa + b·wb
// with the first product fused into the sum (one rounding), as PyTorch's
// kernel compiles on x86-64 with FMA. This order gives torchvision's numbers
// bit for bit on the fixture; the plain order differs by an ulp in a third
// of the pixels.
func resample(src []float32, h, w int, rows, cols taps, dst []float32) {
	oh, ow := len(rows.i0), len(cols.i0)
	for c := range 3 {
		plane := src[c*h*w : (c+1)*h*w]
		out := dst[c*oh*ow : (c+1)*oh*ow]
		for y := range oh {
			r0 := plane[rows.i0[y]*w : rows.i0[y]*w+w]
			r1 := plane[rows.i1[y]*w : rows.i1[y]*w+w]
			wy0, wy1 := rows.w0[y], rows.w1[y]
			o := out[y*ow : y*ow+ow]
			for x := range o {
				a, b := cols.i0[x], cols.i1[x]
				wx0, wx1 := cols.w0[x], cols.w1[x]
				t0 := fma32(r0[a], wx0, r0[b]*wx1)
				t1 := fma32(r1[a], wx0, r1[b]*wx1)
				o[x] = fma32(t0, wy0, t1*wy1)
			}
		}
	}
}

// fma32 is a·b + c with the product unrounded: a product of two float32 is
// exact in float64, so only the sum rounds (to float64, then float32; that
// double rounding could differ from a float32 FMA only on rare ties, and
// the result is the same whether or not the compiler fuses it).
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}

// normalize applies (x − mean) / std per channel, in float32 like
// torchvision's Normalize.
func normalize(p Preprocess, dst []float32, plane int) {
	for c := range p.Mean {
		m, s := float32(p.Mean[c]), float32(p.Std[c])
		for i, v := range dst[c*plane : (c+1)*plane] {
			dst[c*plane+i] = (v - m) / s
		}
	}
}
