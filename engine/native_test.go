package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestNativeLevels reruns the accuracy and bit-exactness tests with the
// native kernels held to each lower vector level this CPU has (AVX2 without
// the AVX-512 GEMM, then the Go kernels), so that every path is checked on
// a machine that would otherwise take only the widest.
func TestNativeLevels(t *testing.T) {
	top := nativeISA
	defer func() { nativeISA = top }()
	for level := top - 1; level >= 0; level-- {
		nativeISA = level
		t.Run(fmt.Sprintf("isa=%d", level), func(t *testing.T) {
			t.Run("activations", TestActivations)
			t.Run("pytorch", TestMatchesPyTorch)
			t.Run("split", TestSplitEqualsWhole)
			t.Run("batch", TestBatchEqualsSingles)
		})
	}
}

// fixtureBackends are the backends TestMatchesPyTorch checks: this build's,
// and BackendNative (the arm64 release's) wherever the native GEMM runs,
// though Backends() leaves it out beside OpenBLAS.
func fixtureBackends() []Backend {
	b := Backends()
	if nativeGEMM() && !slices.Contains(b, BackendNative) {
		b = append(b, BackendNative)
	}
	return b
}

// TestBackendNativeRefused: without the native GEMM, BackendNative is
// refused with one line instead of running the Go kernels under its name.
func TestBackendNativeRefused(t *testing.T) {
	top := nativeISA
	defer func() { nativeISA = top }()
	nativeISA = min(top, 1) // vector kernels at most, no GEMM: as on an AVX2-only CPU
	g, err := opsGraph()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(g, fixtureWeights(t, g), Options{Backend: BackendNative})
	if err == nil || !strings.Contains(err.Error(), "no native GEMM") {
		t.Fatalf("Compile with %q without the native GEMM: %v, want a no-native-GEMM error", BackendNative, err)
	}
	if slices.Contains(Backends(), BackendNative) {
		t.Errorf("Backends() = %v lists %q without the native GEMM", Backends(), BackendNative)
	}
}
