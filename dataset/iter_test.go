package dataset

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeNoiseSet writes n seeded-noise PNGs of h×w with labels (i%3, i%5).
func writeNoiseSet(t testing.TB, dir string, n, h, w int) {
	rng := rand.New(rand.NewPCG(9, uint64(n)))
	wr, err := NewWriter(dir, []string{"a", "b"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for k := range img.Pix {
			img.Pix[k] = uint8(rng.IntN(256))
		}
		for k := 3; k < len(img.Pix); k += 4 {
			img.Pix[k] = 255
		}
		if err := wr.Add(fmt.Sprintf("d%d/%04d.png", i%2, i), img, []int{i % 3, i % 5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestIterOrderAndWorkers: batches come in set order with the right sizes
// and progress, and the tensors do not depend on the number of workers.
func TestIterOrderAndWorkers(t *testing.T) {
	dir := t.TempDir()
	writeNoiseSet(t, dir, 10, 9, 11)
	pre := Preprocess{Shape: []int{3, 6, 6}, Resize: ResizeShorter, ShorterPx: 7, Mean: []float64{0.5, 0.4, 0.3}, Std: []float64{0.2, 0.3, 0.4}}
	var ref []float32
	for _, workers := range []int{1, 2, 7} {
		s, err := Open(dir, Options{Preprocess: pre, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		all := make([]float32, s.Len()*s.Elems())
		if err := s.Batch(0, s.Len(), all); err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = all
		} else if !slices.Equal(ref, all) {
			t.Errorf("workers %d: tensors differ from workers 1", workers)
		}
		var progress [][2]int
		var starts, sizes []int
		var labels [][]int
		it := s.Iter(3, func(done, total int) { progress = append(progress, [2]int{done, total}) })
		for it.Next() {
			starts, sizes = append(starts, it.Start()), append(sizes, it.N())
			labels = append(labels, it.Labels()...)
			if !slices.Equal(it.X(), all[it.Start()*s.Elems():(it.Start()+it.N())*s.Elems()]) {
				t.Errorf("workers %d: batch at %d differs from Batch", workers, it.Start())
			}
		}
		it.Close()
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
		if !slices.Equal(starts, []int{0, 3, 6, 9}) || !slices.Equal(sizes, []int{3, 3, 3, 1}) {
			t.Errorf("batches at %v of %v, want [0 3 6 9] of [3 3 3 1]", starts, sizes)
		}
		if want := [][2]int{{3, 10}, {6, 10}, {9, 10}, {10, 10}}; !slices.Equal(progress, want) {
			t.Errorf("progress %v, want %v", progress, want)
		}
		for i, l := range labels {
			if !slices.Equal(l, []int{i % 3, i % 5}) || s.Item(i).File != fmt.Sprintf("d%d/%04d.png", i%2, i) {
				t.Errorf("item %d: %s %v", i, s.Item(i).File, l)
			}
		}
		s.Close()
	}
}

// TestIterStops: an error ends the stream with Err set; Close mid-stream
// stops it.
func TestIterStops(t *testing.T) {
	dir := t.TempDir()
	writeNoiseSet(t, dir, 6, 4, 4)
	s, err := Open(dir, Options{Preprocess: Preprocess{Shape: []int{3, 4, 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	it := s.Iter(2, nil)
	if !it.Next() {
		t.Fatal(it.Err())
	}
	it.Close()
	if it.Next() {
		t.Error("Next after Close")
	}
	it.Close()

	// Break item 3's body after Open checked its header.
	name := filepath.Join(dir, filepath.FromSlash(s.Item(3).File))
	b, _ := os.ReadFile(name)
	if err := os.WriteFile(name, b[:len(b)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	it = s.Iter(2, nil)
	defer it.Close()
	n := 0
	for it.Next() {
		n++
	}
	if n != 1 || it.Err() == nil {
		t.Errorf("%d batches then error %v; want 1 batch, then the error of item 3", n, it.Err())
	}
}

// TestPlanarSubImage: images whose bounds do not start at (0,0).
func TestPlanarSubImage(t *testing.T) {
	full := image.NewGray(image.Rect(0, 0, 5, 5))
	for i := range full.Pix {
		full.Pix[i] = uint8(i)
	}
	sub := full.SubImage(image.Rect(1, 2, 4, 4)) // 3 wide, 2 tall
	planes, h, w := planar(sub, nil)
	if h != 2 || w != 3 {
		t.Fatalf("%d×%d, want 2×3", h, w)
	}
	for y := range 2 {
		for x := range 3 {
			want := float32(full.GrayAt(x+1, y+2).Y) / 255
			if planes[y*3+x] != want || planes[12+y*3+x] != want {
				t.Errorf("(%d,%d) = %v, want %v", x, y, planes[y*3+x], want)
			}
		}
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 1, 1)) // the generic path
	cmyk.SetCMYK(0, 0, color.CMYK{0, 255, 255, 0})
	if p, _, _ := planar(cmyk, nil); p[0] != 1 || p[1] != 0 || p[2] != 0 {
		t.Errorf("CMYK red = %v, want [1 0 0]", p)
	}
}
