package dataset

import (
	"fmt"
	"testing"
)

// BenchmarkDecode measures decode + preprocess (images/s) of seeded-noise
// PNGs, the worst case for PNG compression, through Set.Batch.
func BenchmarkDecode(b *testing.B) {
	const n = 16
	imagenet := func(p Preprocess) Preprocess {
		p.Mean, p.Std = []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225}
		return p
	}
	for _, c := range []struct {
		name string
		h, w int
		pre  Preprocess
	}{
		{"64x64/none", 64, 64, imagenet(Preprocess{Shape: []int{3, 64, 64}})},
		{"224x224/none", 224, 224, imagenet(Preprocess{Shape: []int{3, 224, 224}})},
		{"240x320/shorter256_crop224", 240, 320, imagenet(Preprocess{Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256})},
		{"240x320/shorter256_crop224_pil", 240, 320, imagenet(Preprocess{Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256, Interpolation: InterpBilinearPIL})},
		{"480x640/shorter256_crop224_pil", 480, 640, imagenet(Preprocess{Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256, Interpolation: InterpBilinearPIL})},
	} {
		dir := b.TempDir()
		writeNoiseSet(b, dir, n, c.h, c.w)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers%d", c.name, workers), func(b *testing.B) {
				s, err := Open(dir, Options{Preprocess: c.pre, Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				dst := make([]float32, n*s.Elems())
				b.ResetTimer()
				for b.Loop() {
					if err := s.Batch(0, n, dst); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
				if dst[0] == 0 && dst[len(dst)-1] == 0 {
					b.Error("nothing decoded")
				}
			})
		}
	}
}
