package engine

import (
	"fmt"
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
