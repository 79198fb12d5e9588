package shapes3d

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/mtlsplit/mtlsplit/internal/cputime"
)

// BenchmarkRender/cold casts every ray of a scene; BenchmarkRender/cached
// colours a geometry the Renderer already holds (every geometry warmed
// before the timer), which is what writing many scenes costs per scene;
// /cached+png adds the PNG encoding Write does.
func BenchmarkRender(b *testing.B) {
	for _, size := range []int{64} {
		name := strconv.Itoa(size)
		b.Run("cold/"+name, func(b *testing.B) {
			defer reportCPU(b)()
			var img []byte
			for i := 0; b.Loop(); i++ {
				f, _ := FromIndex((i * 7919) % NumScenes)
				img = Render(f, size).Pix
			}
			if len(img) != 4*size*size {
				b.Fatal("wrong image size")
			}
		})
		r := warmRenderer(b, size)
		b.Run("cached/"+name, func(b *testing.B) {
			defer reportCPU(b)()
			var sum int
			for i := 0; b.Loop(); i++ {
				f, _ := FromIndex((i * 7919) % NumScenes)
				sum += int(r.Render(f).Pix[0])
			}
			if sum < 0 {
				b.Fatal("impossible")
			}
		})
		b.Run("cached+png/"+name, func(b *testing.B) {
			defer reportCPU(b)()
			enc := pngEncoder()
			var buf bytes.Buffer
			for i := 0; b.Loop(); i++ {
				f, _ := FromIndex((i * 7919) % NumScenes)
				buf.Reset()
				if err := enc.Encode(&buf, r.Render(f)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func warmRenderer(tb testing.TB, size int) *Renderer {
	tb.Helper()
	r, err := NewRenderer(size)
	if err != nil {
		tb.Fatal(err)
	}
	for g := range Scales * Shapes * Orientations {
		r.Render(Factors{Scale: g / (Shapes * Orientations), Shape: g / Orientations % Shapes, Orientation: g % Orientations})
	}
	return r
}

// reportCPU adds scenes per CPU-second (all threads, GC included) to a
// benchmark; call its result when the loop is done.
func reportCPU(b *testing.B) func() {
	start := cputime.Used()
	return func() {
		if used := cputime.Used() - start; used > 0 && b.N > 0 {
			b.ReportMetric(float64(b.N)/used.Seconds(), "scenes/cpu-s")
		}
	}
}
