package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// colourCase is an image in one colour model and, for each pixel, the RGB
// values in [0,1] Open must produce from its PNG.
type colourCase struct {
	name string
	img  image.Image
	want func(x, y int) [3]float32
}

func colourCases() []colourCase {
	const w, h = 4, 3
	r := image.Rect(0, 0, w, h)
	gray, gray16 := image.NewGray(r), image.NewGray16(r)
	nrgba, rgba, premul := image.NewNRGBA(r), image.NewRGBA(r), image.NewRGBA(r)
	nrgba64, rgba64 := image.NewNRGBA64(r), image.NewRGBA64(r)
	pal := color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}, color.NRGBA{10, 20, 30, 128}}
	paletted := image.NewPaletted(r, pal)
	for y := range h {
		for x := range w {
			gray.SetGray(x, y, color.Gray{uint8(x*40 + y*7)})
			gray16.SetGray16(x, y, color.Gray16{uint16(x*10000 + y*3)})
			nrgba.SetNRGBA(x, y, color.NRGBA{uint8(x * 50), uint8(y * 60), 200, 100})
			rgba.SetRGBA(x, y, color.RGBA{uint8(x * 50), uint8(y * 60), 10, 255})
			premul.SetRGBA(x, y, color.RGBA{uint8(x * 20), uint8(y * 30), 5, 128})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(x * 1000), uint16(y * 2000), 65535, 30000})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(x * 1000), uint16(y * 2000), 123, 65535})
			paletted.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	v8 := func(r, g, b uint8) [3]float32 {
		return [3]float32{float32(r) / 255, float32(g) / 255, float32(b) / 255}
	}
	v16 := func(r, g, b uint16) [3]float32 {
		return [3]float32{float32(r) / 65535, float32(g) / 65535, float32(b) / 65535}
	}
	return []colourCase{
		{"gray", gray, func(x, y int) [3]float32 { g := uint8(x*40 + y*7); return v8(g, g, g) }},
		{"gray16", gray16, func(x, y int) [3]float32 { g := uint16(x*10000 + y*3); return v16(g, g, g) }},
		{"nrgba", nrgba, func(x, y int) [3]float32 { return v8(uint8(x*50), uint8(y*60), 200) }},
		{"rgba opaque", rgba, func(x, y int) [3]float32 { return v8(uint8(x*50), uint8(y*60), 10) }},
		// PNG keeps colours un-premultiplied: Go's encoder converts.
		{"rgba premultiplied", premul, func(x, y int) [3]float32 {
			c := color.NRGBAModel.Convert(color.RGBA{uint8(x * 20), uint8(y * 30), 5, 128}).(color.NRGBA)
			return v8(c.R, c.G, c.B)
		}},
		{"nrgba64", nrgba64, func(x, y int) [3]float32 { return v16(uint16(x*1000), uint16(y*2000), 65535) }},
		{"rgba64", rgba64, func(x, y int) [3]float32 { return v16(uint16(x*1000), uint16(y*2000), 123) }},
		{"paletted", paletted, func(x, y int) [3]float32 {
			c := pal[(x+y)%3].(color.NRGBA)
			return v8(c.R, c.G, c.B)
		}},
	}
}

// TestWriterRoundTrip: what Writer writes, Open reads back: files in
// subfolders, labels, tasks, classes, and every colour model's pixels.
func TestWriterRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	w, err := NewWriter(dir, []string{"shape", "color"}, false)
	if err != nil {
		t.Fatal(err)
	}
	cases := colourCases()
	for i, c := range cases {
		if err := w.Add("img/"+strings.ReplaceAll(c.name, " ", "_")+".png", c.img, []int{i % 3, 2 * i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, LabelsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("labels.csv exists before Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Preprocess: Preprocess{Shape: []int{3, 3, 4}}, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != len(cases) || !slices.Equal(s.Tasks(), []string{"shape", "color"}) || !slices.Equal(s.Classes(), []int{3, 2*len(cases) - 1}) {
		t.Fatalf("len %d tasks %v classes %v", s.Len(), s.Tasks(), s.Classes())
	}
	x := make([]float32, s.Len()*s.Elems())
	if err := s.Batch(0, s.Len(), x); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		it := s.Item(i)
		if want := "img/" + strings.ReplaceAll(c.name, " ", "_") + ".png"; it.File != want || !slices.Equal(it.Labels, []int{i % 3, 2 * i}) || it.Line != i+2 {
			t.Errorf("item %d = %+v, want %s labels [%d %d] line %d", i, it, want, i%3, 2*i, i+2)
		}
		item := x[i*s.Elems() : (i+1)*s.Elems()]
		for y := range 3 {
			for px := range 4 {
				want := c.want(px, y)
				for ch := range 3 {
					if got := item[ch*12+y*4+px]; got != want[ch] {
						t.Errorf("%s: (%d,%d) channel %d = %v, want %v", c.name, px, y, ch, got, want[ch])
					}
				}
			}
		}
	}
}

// TestJPEG: Go's JPEG decoder through the YCbCr and grey paths; lossy, so
// uniform images and a tolerance of a few levels.
func TestJPEG(t *testing.T) {
	rgb := image.NewRGBA(image.Rect(0, 0, 16, 16))
	grey := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range 256 {
		rgb.SetRGBA(i%16, i/16, color.RGBA{200, 100, 50, 255})
		grey.SetGray(i%16, i/16, color.Gray{77})
	}
	files := map[string][]byte{}
	for name, img := range map[string]image.Image{"rgb.jpg": rgb, "grey.jpeg": grey} {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
			t.Fatal(err)
		}
		files[name] = b.Bytes()
	}
	s, err := Open(tempSet(t, files, "file,t\nrgb.jpg,0\ngrey.jpeg,1\n"), Options{Preprocess: Preprocess{Shape: []int{3, 16, 16}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := make([]float32, 2*s.Elems())
	if err := s.Batch(0, 2, x); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][3]float32{{200, 100, 50}, {77, 77, 77}} {
		for ch := range 3 {
			for _, v := range x[i*768+ch*256 : i*768+(ch+1)*256] {
				if d := v*255 - want[ch]; d > 2 || d < -2 {
					t.Fatalf("item %d channel %d: %v·255, want %v ± 2", i, ch, v, want[ch])
				}
			}
		}
	}
}

func TestWriterBad(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	for _, c := range []struct {
		name   string
		file   string
		img    image.Image
		labels []int
		want   string
	}{
		{"escapes", "../x.png", img, []int{0}, "must stay inside the data set directory"},
		{"absolute", "/tmp/x.png", img, []int{0}, "must stay inside"},
		{"empty name", "", img, []int{0}, "empty file name"},
		{"trailing space", "b.png ", img, []int{0}, "ends with white space"},
		{"not png", "x.jpg", img, []int{0}, "name must end in .png"},
		{"duplicate", "a.png", img, []int{0}, `add "a.png": already added`},
		{"duplicate after cleaning", "./a.png", img, []int{0}, "already added"},
		{"label count", "b.png", img, []int{0, 1}, "2 labels for 1 tasks (t)"},
		{"negative label", "b.png", img, []int{-2}, `label -2 for task "t" is negative`},
		{"nil image", "b.png", nil, []int{0}, "empty image"},
		{"empty image", "b.png", image.NewGray(image.Rect(0, 0, 0, 3)), []int{0}, "empty image"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := NewWriter(t.TempDir(), []string{"t"}, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Add("a.png", img, []int{0}); err != nil {
				t.Fatal(err)
			}
			if err := w.Add(c.file, c.img, c.labels); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name  string
		tasks []string
		want  string
	}{
		{"no tasks", nil, "no task columns"},
		{"bad task name", []string{"a,b"}, `task name "a,b"`},
		{"task twice", []string{"a", "a"}, `task "a" appears twice`},
	} {
		if _, err := NewWriter(t.TempDir(), c.tasks, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestWriterLifecycle(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	dir := t.TempDir()
	w, _ := NewWriter(dir, []string{"t"}, false)
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "no items added") {
		t.Errorf("closed an empty set: %v", err)
	}
	w, _ = NewWriter(dir, []string{"t"}, false)
	w.Add("a.png", img, []int{1})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("closed twice without error")
	}
	if err := w.Add("b.png", img, []int{1}); err == nil {
		t.Error("added after Close")
	}
	if _, err := NewWriter(dir, []string{"t"}, false); !errors.Is(err, atomicfile.ErrExists) {
		t.Errorf("replaced a set without overwrite: %v", err)
	}
	w, err := NewWriter(dir, []string{"u", "v"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// The old labels.csv is gone at once: a crash now leaves no set rather
	// than old labels over new images.
	if _, err := os.Stat(filepath.Join(dir, LabelsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old labels.csv still there: %v", err)
	}
	w.Add("a.png", img, []int{0, 3})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, LabelsFile))
	if string(b) != "file,u,v\na.png,0,3\n" {
		t.Errorf("labels.csv = %q", b)
	}
}

// TestWriterQuotedNames: names with commas and quotes survive labels.csv.
func TestWriterQuotedNames(t *testing.T) {
	dir := t.TempDir()
	w, _ := NewWriter(dir, []string{"t"}, false)
	names := []string{`odd, "name".png`, "sub dir/ü.png"}
	for i, n := range names {
		if err := w.Add(n, image.NewGray(image.Rect(0, 0, 2, 2)), []int{i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Preprocess: Preprocess{Shape: []int{3, 2, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, n := range names {
		if s.Item(i).File != n {
			t.Errorf("item %d is %q, want %q", i, s.Item(i).File, n)
		}
	}
}
