package engine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/internal/cores"
)

// countKernel counts how often each item is computed, and by which thread
// ids.
type countKernel struct {
	hits []atomic.Int32
	bad  atomic.Int32 // parts with a thread id out of range or an empty range
	tids int
}

func (k *countKernel) part(lo, hi, tid int) {
	if tid < 0 || tid >= k.tids || lo >= hi {
		k.bad.Add(1)
	}
	for i := lo; i < hi; i++ {
		k.hits[i].Add(1)
	}
}

// TestWorkersRunEveryItemOnce: however the chunks fall to threads, every
// run computes each item exactly once, with thread ids below the pool's
// thread count, and back-to-back runs (a late helper from the previous
// one) never leak into the next.
func TestWorkersRunEveryItemOnce(t *testing.T) {
	for _, tc := range []struct{ threads, n, grain, chunks int }{
		{1, 100, 1, 0},
		{2, 1, 1, 0},
		{2, 7, 1, 0},
		{2, 1000, 16, 0},
		{3, 5, 1, 0},
		{4, 10007, 1, 0},
		{2, 22, 0, 2},   // runChunks: one chunk per thread
		{3, 9, 0, 9},    // one item per chunk
		{2, 3, 0, 1000}, // more chunks asked than items
	} {
		t.Run(fmt.Sprintf("threads=%d/n=%d/grain=%d/chunks=%d", tc.threads, tc.n, tc.grain, tc.chunks), func(t *testing.T) {
			w := newWorkers(tc.threads)
			defer w.close()
			for rep := range 200 {
				k := &countKernel{hits: make([]atomic.Int32, tc.n), tids: tc.threads}
				if tc.chunks > 0 {
					w.runChunks(k, tc.n, tc.chunks)
				} else {
					w.run(k, tc.n, tc.grain)
				}
				for i := range k.hits {
					if h := k.hits[i].Load(); h != 1 {
						t.Fatalf("run %d: item %d computed %d times; want 1", rep, i, h)
					}
				}
				if b := k.bad.Load(); b != 0 {
					t.Fatalf("run %d: %d parts with a bad thread id or an empty range", rep, b)
				}
			}
		})
	}
}

// TestWorkersWakeAfterParking: runs that come after the helpers stopped
// spinning and parked (and ones that come while they spin) still get every
// item computed once, and close stops parked helpers.
func TestWorkersWakeAfterParking(t *testing.T) {
	for _, gap := range []time.Duration{0, spinFor / 2, 3 * spinFor} {
		t.Run(gap.String(), func(t *testing.T) {
			w := newWorkers(3)
			defer w.close()
			for rep := range 20 {
				k := &countKernel{hits: make([]atomic.Int32, 64), tids: 3}
				w.run(k, 64, 1)
				for i := range k.hits {
					if h := k.hits[i].Load(); h != 1 {
						t.Fatalf("run %d: item %d computed %d times; want 1", rep, i, h)
					}
				}
				time.Sleep(gap)
			}
		})
	}
}

// TestThreadsGiveSameBits: the backbone's output does not depend on how many
// threads claim its chunks (1, 2 or 3, the last leaving uneven chunks) when
// the native GEMM runs the convolutions: splits cut GEMMs by whole panels
// and elementwise kernels by items, and native kernels treat every element
// alike wherever a chunk starts.
func TestThreadsGiveSameBits(t *testing.T) {
	if !nativeGEMM() {
		t.Skip("no native GEMM on this CPU: OpenBLAS's and gonum's GEMMs may round differently per block width")
	}
	for _, name := range []string{"resnet18", "mobilenet_v3_small", "efficientnet_b0"} {
		t.Run(name, func(t *testing.T) {
			x := randomInput(3*64*64, 5)
			var want []float32
			for _, threads := range []int{1, 2, 3} {
				p := compileRandom(t, name, 64, nil, Options{Threads: threads, Backend: BestBackend()})
				y, err := p.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				if want == nil {
					want = y
					continue
				}
				if !sameBits(y, want) {
					t.Errorf("%d threads: output differs from 1 thread's", threads)
				}
			}
		})
	}
}

// TestSpareP: a Program on two threads leaves an idle P for its cgo calls
// (spareP), and the cores the rest of the code spreads work over stay the
// CPUs.
func TestSpareP(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: no second thread to spare a P for")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	p := compileRandom(t, "mobilenet_v3_small", 32, nil, Options{Threads: 2, Backend: BestBackend()})
	if got := runtime.GOMAXPROCS(0); got < 3 {
		t.Errorf("GOMAXPROCS %d after compiling for 2 threads, want ≥ 3", got)
	}
	if got := cores.N(); got > runtime.NumCPU() {
		t.Errorf("cores.N() = %d, above NumCPU %d", got, runtime.NumCPU())
	}
	if p.opts.Threads != 2 {
		t.Errorf("threads %d, want 2", p.opts.Threads)
	}
}
