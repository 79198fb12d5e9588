package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// TestNativeGEMMNarrow checks the native GEMM on few columns, where
// native.c's micro512 splits a panel into whole vectors and a tail of up to
// 4 columns computed as columns of A (1 = 0+1, 17 = 16+1, 33 = 32+1, 49 =
// 32+16+1, 20 = 16+4, 3 = a tail of 3 on the 4-column kernel), against a
// float64 reference: rows not a multiple of the row panel (the last panel
// partly filled, 8- and 4-row kernels), K past one KC block (C read back
// between blocks), bias and ReLU on the last.
func TestNativeGEMMNarrow(t *testing.T) {
	if !nativeGEMM() {
		t.Skip("no native GEMM on this CPU")
	}
	rng := rand.New(rand.NewPCG(13, 49))
	for _, m := range []int{5, 29, 31} {
		for _, k := range []int{7, 300} {
			for _, n := range []int{1, 2, 3, 4, 16, 17, 18, 20, 21, 33, 49, 64} {
				for _, ac := range []act{actNone, actReLU} {
					t.Run(fmt.Sprintf("m=%d/k=%d/n=%d/act=%d", m, k, n, ac), func(t *testing.T) {
						checkNativeGEMM(t, rng, m, k, n, ac)
					})
				}
			}
		}
	}
}

func checkNativeGEMM(t *testing.T, rng *rand.Rand, m, k, n int, ac act) {
	a, b, bias := make([]float32, m*k), make([]float32, k*n), make([]float32, m)
	for _, s := range [][]float32{a, b, bias} {
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
	}
	c := make([]float32, m*n)
	for i := range c {
		c[i] = float32(math.NaN()) // every element must be written
	}
	pa := packA(a, m, k)
	scratch := make([]float32, packBElems())
	nativeGEMMPart(pa, b, n, c, bias, ac, 0, (m+gemmMR-1)/gemmMR, 0, n, scratch, nil)
	for i := range m {
		for j := range n {
			want, mag := float64(bias[i]), math.Abs(float64(bias[i]))
			for p := range k {
				x := float64(a[i*k+p]) * float64(b[p*n+j])
				want += x
				mag += math.Abs(x)
			}
			if ac == actReLU {
				want = math.Max(want, 0)
			}
			if got := float64(c[i*n+j]); !(math.Abs(got-want) <= 1e-5*mag) {
				t.Fatalf("C[%d][%d] = %g, want %g (sum of |terms| %g)", i, j, got, want, mag)
			}
		}
	}
}

// BenchmarkNativeGEMMNarrow times one thread's native GEMM on the shapes of
// resnet18's 3×3 convolutions at 7×7 and 14×14 outputs (B explicit, not
// im2col), where few columns leave a narrow last panel.
func BenchmarkNativeGEMMNarrow(b *testing.B) {
	if !nativeGEMM() {
		b.Skip("no native GEMM on this CPU")
	}
	for _, s := range []struct{ m, k, n int }{{512, 4608, 49}, {256, 2304, 196}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) {
			a, x := randomInput(s.m*s.k, 1), randomInput(s.k*s.n, 2)
			c, bias := make([]float32, s.m*s.n), make([]float32, s.m)
			pa := packA(a, s.m, s.k)
			scratch := make([]float32, packBElems())
			for b.Loop() {
				nativeGEMMPart(pa, x, s.n, c, bias, actReLU, 0, (s.m+gemmMR-1)/gemmMR, 0, s.n, scratch, nil)
			}
		})
	}
}

// TestNativeGEMMPacked checks that B packed once (nativeGEMMPack, in two
// ranges of KC blocks as two threads would) and multiplied in row ranges
// (nativeGEMMPacked) gives bit for bit what nativeGEMMPart gives, on a
// plain B and on an im2col matrix (3×3, stride 2, padding 1).
func TestNativeGEMMPacked(t *testing.T) {
	if !nativeGEMM() {
		t.Skip("no native GEMM on this CPU")
	}
	conv := model.Conv{InChannels: 40, OutChannels: 29, Kernel: 3, Stride: 2, Padding: 1}
	g := newGeom(conv, model.Shape{40, 13, 15}, model.Shape{29, 7, 8})
	for _, tc := range []struct {
		name    string
		m, k, n int
		cs      *convSrc
	}{{"plain", 29, 600, 49, nil}, {"plain-wide", 13, 257, 512, nil}, {"im2col", 29, 360, 56, newConvSrc(&g)}} {
		t.Run(tc.name, func(t *testing.T) {
			a := randomInput(tc.m*tc.k, 1)
			b := randomInput(tc.k*tc.n, 2) // the image when cs is set (40×13×15 < k·n)
			bias := randomInput(tc.m, 3)
			pa := packA(a, tc.m, tc.k)
			rp := (tc.m + gemmMR - 1) / gemmMR
			want := make([]float32, tc.m*tc.n)
			nativeGEMMPart(pa, b, tc.n, want, bias, actReLU, 0, rp, 0, tc.n, make([]float32, packBElems()), tc.cs)
			buf := make([]float32, packedBElems(tc.k, tc.n))
			q := (tc.k + nativeKC - 1) / nativeKC
			nativeGEMMPack(b, tc.k, tc.n, tc.cs, 0, q/2, buf)
			nativeGEMMPack(b, tc.k, tc.n, tc.cs, q/2, q, buf)
			got := make([]float32, tc.m*tc.n)
			nativeGEMMPacked(pa, buf, tc.n, got, bias, actReLU, 0, rp/2)
			nativeGEMMPacked(pa, buf, tc.n, got, bias, actReLU, rp/2, rp)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("C[%d] = %g packed once, %g packed per call", i, got[i], want[i])
				}
			}
		})
	}
}
