package engine

import (
	"fmt"
	"math"
	"testing"
)

// TestNativeMaxPoolMatchesGo: the native max pooling, now taken for any
// window size, gives the Go kernel's bits on windows the zoo has (vgg's
// 2×2, resnet's 3×3 padded) and odd ones (1×1, 4×4 padded, odd planes),
// with −∞ and NaN among the inputs, on every vector level this CPU has.
func TestNativeMaxPoolMatchesGo(t *testing.T) {
	top := nativeISA
	defer func() { nativeISA = top }()
	for level := top; level >= 1; level-- {
		nativeISA = level
		for _, tc := range []struct{ h, w, k, s, pad int }{
			{224, 224, 2, 2, 0}, {7, 9, 2, 2, 0}, {8, 8, 2, 1, 0}, {56, 56, 3, 2, 1},
			{13, 11, 3, 1, 1}, {10, 10, 4, 2, 2}, {5, 6, 1, 1, 0}, {33, 17, 5, 2, 2},
		} {
			t.Run(fmt.Sprintf("isa=%d/%dx%d/k=%d/s=%d/pad=%d", level, tc.h, tc.w, tc.k, tc.s, tc.pad), func(t *testing.T) {
				oh, ow := (tc.h+2*tc.pad-tc.k)/tc.s+1, (tc.w+2*tc.pad-tc.k)/tc.s+1
				g := geom{cin: 3, h: tc.h, w: tc.w, cout: 3, oh: oh, ow: ow, k: tc.k, stride: tc.s, pad: tc.pad, dil: 1, grp: 3}
				ok, scratch := nativeMaxPool(&g)
				if !ok {
					t.Fatal("native max pooling refused the window")
				}
				x := randomInput(3*tc.h*tc.w, 7)
				x[5] = float32(math.NaN())
				x[tc.h*tc.w+3] = float32(math.Inf(-1))
				goK := poolKernel{x: x, y: make([]float32, 3*oh*ow), g: g, max: true}
				nat := poolKernel{x: x, y: make([]float32, 3*oh*ow), g: g, max: true, buf: [][]float32{make([]float32, scratch)}}
				goK.part(0, 3, 0)
				nat.part(0, 3, 0)
				for i := range goK.y {
					a, b := goK.y[i], nat.y[i]
					if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) { // NaNs may differ in payload
						t.Fatalf("output %d: native %v, Go %v", i, b, a)
					}
				}
			})
		}
	}
}
