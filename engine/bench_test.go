package engine

import (
	"fmt"
	"testing"
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
				for b.Loop() {
					if y, err = p.Run(x); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if !finite(y) || len(y) != int(p.CutShape(p.Cuts()).Elems()) {
					b.Fatalf("bad output: %d values, finite %v", len(y), finite(y))
				}
			})
		}
	}
}
