package engine

import (
	"fmt"
	"testing"
)

// BenchmarkEngine times one batch-1 forward pass of the backbone at 224×224
// on 2 threads with each BLAS backend. Compare with PyTorch on the same
// machine: /usr/bin/python3 engine/testdata/bench_torch.py.
func BenchmarkEngine(b *testing.B) {
	const size, threads = 224, 2
	for _, name := range []string{"resnet18", "mobilenet_v3_small", "efficientnet_b0", "vgg16"} {
		for _, backend := range Backends() {
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
