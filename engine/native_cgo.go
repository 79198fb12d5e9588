//go:build cgo && (amd64 || arm64)

package engine

// The engine's native kernels (native.h): vectorized activations,
// depthwise convolution, max pooling and a GEMM with prepacked weights and
// the convolution's bias and activation applied as the tile is stored.
// native.c implements them on amd64 (AVX2; the GEMM on AVX-512), each
// running only where mts_isa found the instructions it was compiled for;
// native_arm64.c on arm64 with NEON, which every AArch64 CPU has. Builds
// without cgo, and other architectures, use the Go kernels
// (native_nocgo.go).

/*
#cgo CFLAGS: -O3
#include "native.h"
*/
import "C"

import "unsafe"

// nativeISA is the vector level the native kernels use: 0 none (Go
// kernels), 1 vector kernels but not the GEMM (AVX2+FMA), 2 all of them
// (AVX-512; NEON on arm64). Tests lower it to cover every path.
var nativeISA = int(C.mts_isa())

func fptr(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

// nativeBiasAct sets y = a(x + b), or a(x + x2) when x2 is set; false when
// there is no native path.
func nativeBiasAct(y, x, x2 []float32, b float32, a act) bool {
	if nativeISA == 0 || len(y) == 0 {
		return nativeISA != 0
	}
	x = x[:len(y)]
	if x2 != nil {
		x2 = x2[:len(y)]
	}
	C.mts_bias_act(C.int(nativeISA), fptr(y), fptr(x), fptr(x2), C.long(len(y)), C.float(b), C.int(a))
	return true
}

// nativeScaleShiftAct sets y = a(x·s + t); false when there is no native
// path.
func nativeScaleShiftAct(y, x []float32, sc, sh float32, a act) bool {
	if nativeISA == 0 || len(y) == 0 {
		return nativeISA != 0
	}
	x = x[:len(y)]
	C.mts_scale_shift_act(C.int(nativeISA), fptr(y), fptr(x), C.long(len(y)), C.float(sc), C.float(sh), C.int(a))
	return true
}

// nativeMeanPlanes sets y[p] to the mean of plane p of x (hw values) for
// p in [lo, hi); false when there is no native path.
func nativeMeanPlanes(x, y []float32, lo, hi, hw int) bool {
	if nativeISA == 0 || lo >= hi {
		return nativeISA != 0
	}
	_ = x[hi*hw-1]
	_ = y[hi-1]
	C.mts_mean_planes(C.int(nativeISA), fptr(x), fptr(y), C.long(lo), C.long(hi), C.long(hw))
	return true
}

// nativeBiasActRows applies bias[r] (bias may be nil) and a to rows
// [r0, r1) of y, each hw long.
func nativeBiasActRows(y []float32, hw int, bias []float32, r0, r1 int, a act) bool {
	if nativeISA == 0 {
		return false
	}
	if r0 >= r1 {
		return true
	}
	_ = y[r1*hw-1]
	if bias != nil {
		_ = bias[r1-1]
	}
	C.mts_bias_act_rows(C.int(nativeISA), fptr(y), C.long(hw), fptr(bias), C.int(r0), C.int(r1), C.int(a))
	return true
}

// nativeDepthwise reports whether the native depthwise kernel handles g,
// and the scratch it needs per thread.
func nativeDepthwise(g *geom) (ok bool, scratch int) {
	if g.k != 3 && g.k != 5 {
		return false, 0
	}
	return nativePadded(g)
}

// nativePadded reports whether the native kernels' padded copy of a plane
// (mts_dw_pitch) handles g's window, and the scratch it needs per thread.
func nativePadded(g *geom) (ok bool, scratch int) {
	if nativeISA == 0 || g.dil != 1 || g.k < 1 || (g.stride != 1 && g.stride != 2) {
		return false, 0
	}
	if g.w+2*g.pad > 1<<24 || g.oh > 1<<24 { // the kernel's sizes are C ints
		return false, 0
	}
	rows := (g.oh-1)*g.stride + g.k
	return true, rows * g.stride * int(C.mts_dw_pitch(C.int(g.w+2*g.pad), C.int(g.stride)))
}

func runNativeDepthwise(s *convStep, buf []float32, lo, hi int) {
	g := &s.g
	_ = s.in[hi*g.h*g.w-1]
	_ = s.out[hi*g.oh*g.ow-1]
	C.mts_depthwise(C.int(nativeISA), fptr(s.in), fptr(s.out), fptr(s.weight), fptr(s.bias), fptr(buf),
		C.int(lo), C.int(hi), C.int(g.cout), C.int(g.h), C.int(g.w), C.int(g.oh), C.int(g.ow),
		C.int(g.k), C.int(g.stride), C.int(g.pad), C.int(s.act))
}

// nativeMaxPool reports whether the native max pooling handles g, and the
// scratch it needs per thread. Its window loop takes any K (vgg's 2×2
// pools, not only the 3×3 and 5×5 the depthwise kernels unroll).
func nativeMaxPool(g *geom) (ok bool, scratch int) {
	if g.pad > g.k/2 {
		return false, 0
	}
	return nativePadded(g)
}

func runNativeMaxPool(k *poolKernel, buf []float32, lo, hi int) {
	g := &k.g
	_ = k.x[hi*g.h*g.w-1]
	_ = k.y[hi*g.oh*g.ow-1]
	C.mts_maxpool(C.int(nativeISA), fptr(k.x), fptr(k.y), fptr(buf), C.int(lo), C.int(hi),
		C.int(g.h), C.int(g.w), C.int(g.oh), C.int(g.ow), C.int(g.k), C.int(g.stride), C.int(g.pad))
}

// gemmMR is the row panel height of the native GEMM.
var gemmMR = int(C.mts_gemm_mr())

// nativeGEMM reports whether the native GEMM runs on this CPU.
func nativeGEMM() bool { return nativeISA >= 2 }

// packedA is A (m×k) packed for the native GEMM, 64-byte aligned.
type packedA struct {
	buf  []float32
	off  int
	m, k int
}

// packAElems is the buffer packA makes for an m×k A: mts_pack_a_size (rows
// rounded up to whole panels), in Go so that sizes past a C int saturate,
// plus 16 for alignment.
func packAElems(m, k int) int {
	return satAdd(satMul(satMul((m+gemmMR-1)/gemmMR, gemmMR), k), 16)
}

func packA(a []float32, m, k int) *packedA {
	p := &packedA{buf: guarded(packAElems(m, k)), m: m, k: k}
	p.off = align64(p.buf)
	_ = a[m*k-1]
	C.mts_pack_a(fptr(a), C.int(m), C.int(k), fptr(p.buf[p.off:]))
	return p
}

func align64(b []float32) int {
	addr := uintptr(unsafe.Pointer(&b[0]))
	return int((64-addr%64)%64) / 4
}

// packBElems is the B scratch one thread of the native GEMM needs.
func packBElems() int { return int(C.mts_pack_b_size()) + 16 }

// convSrc is the geometry of the implicit im2col matrix of one group of
// one image (native.c's convsrc).
type convSrc = C.convsrc

func newConvSrc(g *geom) *convSrc {
	return &convSrc{h: C.int(g.h), w: C.int(g.w), oh: C.int(g.oh), ow: C.int(g.ow), k: C.int(g.k),
		stride: C.int(g.stride), pad: C.int(g.pad), dil: C.int(g.dil)}
}

// nativeGEMMPart computes rows of panels [i0, i1) and columns [j0, j1) of
// C = A·B, then bias and a. B is k×n, or, when cs is set, the im2col matrix
// of the image b (the patches are packed straight from the image).
func nativeGEMMPart(a *packedA, b []float32, n int, c, bias []float32, ac act, i0, i1, j0, j1 int, scratch []float32, cs *convSrc) {
	if cs == nil {
		_ = b[a.k*n-1]
	} else {
		_ = b[a.k/int(cs.k*cs.k)*int(cs.h*cs.w)-1]
	}
	_ = c[a.m*n-1]
	off := align64(scratch)
	_ = scratch[off+packBElems()-17]
	C.mts_gemm(fptr(a.buf[a.off:]), C.int(a.m), C.int(a.k), fptr(b), C.int(n), fptr(c), fptr(bias), C.int(ac),
		C.int(i0), C.int(i1), C.int(j0), C.int(j1), fptr(scratch[off:]), cs)
}

// nativeKC is the depth of the native GEMM's blocks (KC in native.h).
const nativeKC = 256

// packedBElems is the scratch a k×n B (n ≤ nativeNC) packed whole takes.
func packedBElems(k, n int) int { return satAdd(int(C.mts_gemm_packed_size(C.int(k), C.int(n))), 16) }

// nativeGEMMPack packs KC blocks [q0, q1) of B (the im2col matrix of b
// when cs is set) into buf.
func nativeGEMMPack(b []float32, k, n int, cs *convSrc, q0, q1 int, buf []float32) {
	if cs == nil {
		_ = b[k*n-1]
	} else {
		_ = b[k/int(cs.k*cs.k)*int(cs.h*cs.w)-1]
	}
	off := align64(buf)
	_ = buf[off+packedBElems(k, n)-17]
	C.mts_gemm_pack(fptr(b), C.int(k), C.int(n), cs, C.int(q0), C.int(q1), fptr(buf[off:]))
}

// nativeGEMMPacked is nativeGEMMPart on B packed by nativeGEMMPack.
func nativeGEMMPacked(a *packedA, buf []float32, n int, c, bias []float32, ac act, i0, i1 int) {
	_ = c[a.m*n-1]
	off := align64(buf)
	_ = buf[off+packedBElems(a.k, n)-17]
	C.mts_gemm_packed(fptr(a.buf[a.off:]), C.int(a.m), C.int(a.k), fptr(buf[off:]), C.int(n), fptr(c), fptr(bias),
		C.int(ac), C.int(i0), C.int(i1))
}

// data is the packed matrix, for Warm.
func (a *packedA) data() []float32 { return a.buf }
