//go:build cgo

package engine

import "testing"

// TestNEONSelected: on arm64 the NEON kernels are the ones that run, the
// GEMM included, and the best backend takes them, so that the fixture tests
// TestARM64UnderQEMU runs (native_qemu_test.go) cannot pass on the Go
// kernels by mistake.
func TestNEONSelected(t *testing.T) {
	if nativeISA != 2 {
		t.Fatalf("nativeISA = %d on arm64, want 2 (NEON kernels and GEMM)", nativeISA)
	}
	if b := BestBackend(); !nativeConvs(b) {
		t.Fatalf("best backend %q does not run convolutions on the NEON GEMM (backends %v)", b, Backends())
	}
	g := geom{cin: 8, h: 9, w: 9, cout: 8, oh: 9, ow: 9, k: 3, stride: 1, pad: 1, dil: 1, grp: 8}
	if ok, _ := nativeDepthwise(&g); !ok {
		t.Fatal("the NEON depthwise kernel refused a 3×3 stride-1 window")
	}
}
