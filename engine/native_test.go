package engine

import (
	"fmt"
	"path/filepath"
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

// TestBackendNative: BackendNative (the native GEMM without OpenBLAS, the
// arm64 release's backend) matches PyTorch on the fixtures with heads and
// every op wherever the CPU has the native GEMM, and is refused with one
// line where it has not.
func TestBackendNative(t *testing.T) {
	if !nativeGEMM() {
		g, err := opsGraph()
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(g, fixtureWeights(t, g), Options{Backend: BackendNative})
		if err == nil || !strings.Contains(err.Error(), "no native GEMM") {
			t.Fatalf("Compile with %q on a CPU without the native GEMM: %v, want a no-native-GEMM error", BackendNative, err)
		}
		return
	}
	for _, c := range fixtureCases {
		if c.tasks == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			g, err := c.graph()
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(g, fixtureWeights(t, g), Options{Threads: 2, Backend: BackendNative})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			y, heads, err := p.RunAll(readF32(t, filepath.Join("testdata", c.name+".in.f32")))
			if err != nil {
				t.Fatal(err)
			}
			outs := map[string][]float32{"out": y}
			for i, h := range heads {
				outs[fmt.Sprintf("task%d", i+1)] = h
			}
			for name, got := range outs {
				want := readF32(t, filepath.Join("testdata", c.name+"."+name+".f32"))
				if _, rel := relErr(got, want); len(got) != len(want) || rel > 1e-5 {
					t.Errorf("%s: %d values, relative error %.3g; want %d values within 1e-5", name, len(got), rel, len(want))
				}
			}
		})
	}
}
