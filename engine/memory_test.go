package engine

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/mtlsplit/mtlsplit/model"
)

// allocated is the bytes f allocates (TotalAlloc grows with every
// allocation and never shrinks, so a GC during f does not hide any).
func allocated(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// TestMemoryPlanMatchesCompile checks the plan against what NewWeights and
// Compile really allocate, on zoo models at small sizes, for every backend
// of this build (OpenBLAS on an AVX-512 CPU adds the native GEMM's packed
// weights and scratch). The rest of what Compile allocates (step structs,
// index slices, batch-norm temporaries) is small: within 3%.
func TestMemoryPlanMatchesCompile(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		batch   int
		release bool // ReleaseWeights: batch norm folds into the caller's tensors
	}{
		{"vgg16", 32, 1, false},
		{"resnet18", 64, 2, false},
		{"resnet18", 32, 1, true},
		{"mobilenet_v3_small", 96, 1, false},
		{"efficientnet_b0", 64, 1, false},
	}
	for _, be := range Backends() {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s/%d", be, tc.name, tc.size), func(t *testing.T) {
				g, err := model.New(tc.name, tc.size, []int{8, 4})
				if err != nil {
					t.Fatal(err)
				}
				opts := Options{Threads: 2, Batch: tc.batch, Backend: be, ReleaseWeights: tc.release}
				plan, err := PlanMemory(g, opts)
				if err != nil {
					t.Fatal(err)
				}
				var w *Weights
				gotParams := allocated(func() { w, err = NewWeights(g) })
				if err != nil {
					t.Fatal(err)
				}
				var p *Program
				gotProgram := allocated(func() { p, err = Compile(g, w, opts) })
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				wantProgram := plan.WeightBytes + plan.ActivationBytes + plan.ScratchBytes
				for _, c := range []struct {
					what      string
					got, want int64
				}{{"weights", gotParams, plan.ParamBytes}, {"program", gotProgram, wantProgram}} {
					if d := math.Abs(float64(c.got-c.want)) / float64(c.want); d > 0.03 {
						t.Errorf("%s: allocated %d bytes, planned %d (off by %.1f%%)", c.what, c.got, c.want, 100*d)
					}
				}
				t.Logf("params %s, program %s planned %s (weights %s, activations %s, scratch %s)",
					HumanBytes(gotParams), HumanBytes(gotProgram), HumanBytes(wantProgram),
					HumanBytes(plan.WeightBytes), HumanBytes(plan.ActivationBytes), HumanBytes(plan.ScratchBytes))
			})
		}
	}
}

// TestMemoryBudget: plans too big for the budget are refused before
// anything is allocated, with the sizes in the message. (Sizes past int64
// saturate, but model's builder refuses such graphs first.)
func TestMemoryBudget(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		size    int
		tasks   []int
		maxMB   int
		wantErr string // empty: fits
	}{
		{"fits", "resnet18", 64, []int{8}, 1000, ""},
		{"no limit", "resnet18", 64, []int{8}, -1, ""},
		// Two 64×16384² buffers in turn (68.7 GB each).
		{"activations", "vgg16", 16384, nil, 1000, "activations 137.4 GB"},
		// The head's Linear(512·512² → 256), held twice (Weights and the
		// Program's copy): 2·4·256·512³ bytes, and the backbone's.
		{"head weights", "resnet18", 16384, []int{8}, 100000, "weights 275.1 GB"},
		{"budget in message", "vgg16", 224, nil, 10, "more than the memory budget of 10.0 MB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := model.New(tc.model, tc.size, tc.tasks)
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{MaxMemoryMB: tc.maxMB}
			err = CheckMemory(g, opts)
			var me *MemoryError
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &me) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want a MemoryError with %q", err, tc.wantErr)
			}
			// Compile refuses too, before it allocates: the weights given
			// are empty, which it would otherwise report.
			if _, err := Compile(g, &Weights{graph: g.Name}, opts); !errors.As(err, &me) {
				t.Errorf("Compile: %v, want a MemoryError", err)
			}
		})
	}
}

func TestMeminfo(t *testing.T) {
	const text = "MemTotal:       16318412 kB\nMemFree:         1234 kB\nMemAvailable:    8000000 kB\nbad line\n"
	total, avail := meminfo(strings.NewReader(text))
	if total != 16318412 || avail != 8000000 {
		t.Errorf("MemTotal %d kB, MemAvailable %d kB", total, avail)
	}
	if mb := DefaultMaxMemoryMB(); mb < 1 {
		t.Errorf("default budget %d MB", mb)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1500: "1.5 kB", 7_500_000_000_000: "7.5 TB", math.MaxInt64: "more than 9 EB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}

// TestReleaseWeights: a Program compiled with ReleaseWeights runs bit for
// bit as one compiled without, and the Weights it was given hold no tensor
// afterwards, so that a second Compile with them is an error, not a crash.
func TestReleaseWeights(t *testing.T) {
	for _, be := range Backends() {
		for _, m := range splitModels {
			t.Run(string(be)+"/"+m.name, func(t *testing.T) {
				g, err := model.New(m.name, m.size, m.tasks)
				if err != nil {
					t.Fatal(err)
				}
				w, err := RandomWeights(g, 5)
				if err != nil {
					t.Fatal(err)
				}
				x := randomInput(int(g.Input.Elems()), 6)
				var outs [2][][]float32
				for i, release := range []bool{false, true} {
					outs[i] = compileRunAll(t, g, w, Options{Threads: 2, Backend: be, ReleaseWeights: release}, x)
				}
				sameOutputs(t, outs, "with ReleaseWeights")
				for _, p := range w.Params() {
					if w.Get(p.Node, p.Param) != nil {
						t.Errorf("%s still held after Compile with ReleaseWeights", p.Key())
					}
				}
				if _, err := Compile(g, w, Options{Threads: 2, Backend: be}); err == nil || !strings.Contains(err.Error(), "weights have no") {
					t.Errorf("second Compile with released weights: %v, want a missing-weights error", err)
				}
			})
		}
	}
}

// TestGuarded checks the margins the native kernels' masked loads may
// point into: written zeros on both sides, outside the slice's capacity.
func TestGuarded(t *testing.T) {
	for _, n := range []int{1, 17, 4096} {
		b := guarded(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("guarded(%d): len %d cap %d", n, len(b), cap(b))
		}
		whole := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), -4*vectorGuard)), n+2*vectorGuard)
		for i, v := range whole {
			if v != 0 {
				t.Fatalf("guarded(%d): element %d of the allocation is %g", n, i-vectorGuard, v)
			}
		}
	}
}
