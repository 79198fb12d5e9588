//go:build !cgo || !(amd64 || arm64)

package engine

// Without cgo, or on an architecture native.h has no kernels for, every
// kernel is the Go one.

var nativeISA = 0

const gemmMR = 12

func nativeBiasAct(y, x, x2 []float32, b float32, a act) bool                       { return false }
func nativeBiasActRows(y []float32, hw int, bias []float32, r0, r1 int, a act) bool { return false }
func nativeDepthwise(g *geom) (bool, int)                                           { return false, 0 }
func runNativeDepthwise(s *convStep, buf []float32, lo, hi int)                     {}
func nativeGEMM() bool                                                              { return false }

type packedA struct{}

func packA(a []float32, m, k int) *packedA { return nil }
func packBElems() int                      { return 0 }
func packAElems(m, k int) int              { return 0 }

type convSrc struct{}

func newConvSrc(g *geom) *convSrc { return nil }

func nativeGEMMPart(a *packedA, b []float32, n int, c, bias []float32, ac act, i0, i1, j0, j1 int, scratch []float32, cs *convSrc) {
}

func nativeMaxPool(g *geom) (bool, int)                         { return false, 0 }
func runNativeMaxPool(k *poolKernel, buf []float32, lo, hi int) {}

func nativeScaleShiftAct(y, x []float32, sc, sh float32, a act) bool { return false }

func nativeMeanPlanes(x, y []float32, lo, hi, hw int) bool { return false }

func (a *packedA) data() []float32 { return nil }

const nativeKC = 256

func packedBElems(k, n int) int                                                    { return 0 }
func nativeGEMMPack(b []float32, k, n int, cs *convSrc, q0, q1 int, buf []float32) {}
func nativeGEMMPacked(a *packedA, buf []float32, n int, c, bias []float32, ac act, i0, i1 int) {
}
