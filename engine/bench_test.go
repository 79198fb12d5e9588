package engine

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkEngine times one batch-1 forward pass of the backbone at 224×224
// on 1 and 2 threads with the fastest backend (and gonum's on 2). Compare
// with ONNX Runtime and PyTorch on the same machine with `make
// bench-engine`; compare two versions of the engine by alternating their
// test binaries (-test.bench, -test.count 1) several times.
func BenchmarkEngine(b *testing.B) {
	const size = 224
	for _, name := range []string{"resnet18", "mobilenet_v3_small", "efficientnet_b0", "vgg16"} {
		for _, run := range []struct {
			threads int
			backend Backend
		}{{1, BestBackend()}, {2, BestBackend()}, {2, BackendGonum}} {
			if run.backend == BackendGonum && BestBackend() == BackendGonum {
				continue
			}
			threads, backend := run.threads, run.backend
			b.Run(fmt.Sprintf("%s/%d/threads=%d/%s", name, size, threads, backend), func(b *testing.B) {
				p := compileRandom(b, name, size, nil, Options{Threads: threads, Backend: backend})
				x := randomInput(3*size*size, 1)
				var y []float32
				var err error
				b.ResetTimer()
				cpu0 := processCPU()
				for b.Loop() {
					if y, err = p.Run(x); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				// CPU time next to wall time: on a shared machine the wall
				// time says whether a second core was free, the CPU time
				// what the threads spent (spinning included).
				b.ReportMetric(float64(processCPU()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
				if !finite(y) || len(y) != int(p.CutShape(p.Cuts()).Elems()) {
					b.Fatalf("bad output: %d values, finite %v", len(y), finite(y))
				}
			})
		}
	}
}

// processCPU is the user and system time of the whole process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAfterIdle times the same batch-1 pass (resnet18 at 128 px, one
// thread) back to back and after the machine idled for gap, the way a
// runtime's server works when requests arrive slowly: only the pass is
// timed. On the development VM a pass after 260 ms idle took about twice as
// long as back to back, which is why make runtime-fidelity's server stage
// runs slower at 1 Mbps than its back-to-back profile.
func BenchmarkAfterIdle(b *testing.B) {
	const size = 128
	for _, gap := range []time.Duration{0, 20 * time.Millisecond, 260 * time.Millisecond} {
		b.Run("gap="+gap.String(), func(b *testing.B) {
			p := compileRandom(b, "resnet18", size, nil, Options{Threads: 1, Backend: BestBackend()})
			x := randomInput(3*size*size, 1)
			for b.Loop() {
				b.StopTimer()
				time.Sleep(gap)
				b.StartTimer()
				if _, err := p.Run(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
