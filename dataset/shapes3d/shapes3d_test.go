package shapes3d

import (
	"crypto/sha256"
	"encoding/csv"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/dataset"
)

func TestIndexOrder(t *testing.T) {
	tests := []struct {
		name  string
		index int
		want  Factors
	}{
		{"first", 0, Factors{}},
		{"orientation fastest", 1, Factors{Orientation: 1}},
		{"then shape", 15, Factors{Shape: 1}},
		{"then scale", 60, Factors{Scale: 1}},
		{"then object hue", 480, Factors{ObjectHue: 1}},
		{"then wall hue", 4800, Factors{WallHue: 1}},
		{"floor hue slowest", 48000, Factors{FloorHue: 1}},
		{"last", NumScenes - 1, Factors{9, 9, 9, 7, 3, 14}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromIndex(tc.index)
			if err != nil || got != tc.want {
				t.Fatalf("FromIndex(%d) = %+v, %v; want %+v", tc.index, got, err, tc.want)
			}
			if i := tc.want.Index(); i != tc.index {
				t.Fatalf("Index(%+v) = %d, want %d", tc.want, i, tc.index)
			}
		})
	}
}

func TestIndexRoundTripsEveryScene(t *testing.T) {
	for idx := range NumScenes {
		f, err := FromIndex(idx)
		if err != nil || f.Validate() != nil || f.Index() != idx {
			t.Fatalf("scene %d: FromIndex = %+v, %v; Validate %v; Index %d", idx, f, err, f.Validate(), f.Index())
		}
	}
	if NumScenes != 480000 {
		t.Fatalf("NumScenes = %d, want 480000", NumScenes)
	}
}

func TestBadFactors(t *testing.T) {
	tests := []struct {
		name string
		f    Factors
		want string
	}{
		{"negative floor", Factors{FloorHue: -1}, "floor_hue -1"},
		{"wall too big", Factors{WallHue: 10}, "wall_hue 10"},
		{"scale too big", Factors{Scale: 8}, "scale 8"},
		{"shape too big", Factors{Shape: 4}, "shape 4"},
		{"orientation too big", Factors{Orientation: 15}, "orientation 15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	for _, idx := range []int{-1, NumScenes} {
		if _, err := FromIndex(idx); err == nil {
			t.Errorf("FromIndex(%d) succeeded", idx)
		}
	}
}

func TestSplitCounts(t *testing.T) {
	counts := map[Split]int{}
	for idx := range NumScenes {
		f, _ := FromIndex(idx)
		s := f.Split()
		counts[s]++
		if want := f.FloorHue >= 5 && f.WallHue >= 5; (s == Test) != want {
			t.Fatalf("%+v is in %v", f, s)
		}
	}
	want := map[Split]int{Train: 360000, Test: 120000}
	for _, s := range []Split{Train, Test} {
		if counts[s] != want[s] || s.Len() != want[s] || len(s.Indices()) != want[s] {
			t.Errorf("%v: enumerated %d, Len %d, Indices %d; want %d", s, counts[s], s.Len(), len(s.Indices()), want[s])
		}
	}
	if All.Len() != NumScenes || len(All.Indices()) != NumScenes {
		t.Errorf("all: Len %d, Indices %d", All.Len(), len(All.Indices()))
	}
}

func TestSample(t *testing.T) {
	a, err := Sample(Test, 1000, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Sample(Test, 1000, 7)
	c, _ := Sample(Test, 1000, 8)
	if !slices.Equal(a, b) {
		t.Error("the same seed drew different scenes")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 drew the same scenes")
	}
	if !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != len(a) {
		t.Error("the sample is not sorted and distinct")
	}
	for _, idx := range a {
		if f, _ := FromIndex(idx); f.Split() != Test {
			t.Fatalf("scene %d (%+v) is not in the test split", idx, f)
		}
	}
	whole, _ := Sample(Test, Test.Len(), 3)
	if !slices.Equal(whole, Test.Indices()) {
		t.Error("sampling the whole split did not give the whole split")
	}
	for _, n := range []int{0, -1, Test.Len() + 1} {
		if _, err := Sample(Test, n, 1); err == nil || !strings.Contains(err.Error(), "120000") {
			t.Errorf("Sample(test, %d) = %v, want an error naming the split size", n, err)
		}
	}
}

func sum(img *image.RGBA) string { return fmt.Sprintf("%x", sha256.Sum256(img.Pix))[:16] }

// The golden hashes pin the renderer: any change to the scene, shading or
// sampling shows here. The hashes hold where Go does not fuse multiply-adds
// (amd64 below GOAMD64=v3); elsewhere a rounding may differ in a last bit,
// and only determinism is checked.
func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		f    Factors
		want string
	}{
		{"first scene", Factors{}, "cfc44044a3e5a830"},
		{"cube", Factors{1, 4, 7, 5, Cube, 3}, "6d70b9d93fe8af04"},
		{"cylinder", Factors{2, 8, 3, 7, Cylinder, 14}, "ef0bfcc5e4e776e4"},
		{"sphere", Factors{9, 0, 5, 2, Sphere, 7}, "95c9747efa2e9288"},
		{"capsule", Factors{6, 6, 1, 4, Capsule, 11}, "7c471921254de686"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := Render(tc.f, 64)
			if again := Render(tc.f, 64); sum(again) != sum(img) {
				t.Fatal("two renders of one scene differ")
			}
			if got := sum(img); got != tc.want && exactFloats {
				t.Errorf("hash %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRendererMatchesRender(t *testing.T) {
	r, err := NewRenderer(32)
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range []int{0, 1, 12345, 250001, NumScenes - 1} {
		f, _ := FromIndex(idx)
		// Twice: the second call colours the cached geometry.
		for range 2 {
			if a, b := r.Render(f), Render(f, 32); sum(a) != sum(b) {
				t.Fatalf("scene %d: Renderer and Render differ", idx)
			}
		}
	}
	for _, size := range []int{0, MinSize - 1, MaxSize + 1} {
		if _, err := NewRenderer(size); err == nil {
			t.Errorf("NewRenderer(%d) succeeded", size)
		}
	}
}

// Every geometry (scale × shape × orientation) must look different, and so
// must every hue of each coloured surface: otherwise a label could not be
// read from its image.
func TestDistinctFactorsDistinctImages(t *testing.T) {
	r, _ := NewRenderer(64)
	seen := map[string]Factors{}
	for g := range Scales * Shapes * Orientations {
		f := Factors{FloorHue: 2, WallHue: 5, ObjectHue: 8, Scale: g / (Shapes * Orientations), Shape: g / Orientations % Shapes, Orientation: g % Orientations}
		h := sum(r.Render(f))
		if prev, dup := seen[h]; dup {
			t.Fatalf("%+v and %+v render the same image", prev, f)
		}
		seen[h] = f
	}
	base := Factors{FloorHue: 3, WallHue: 3, ObjectHue: 3, Scale: 4, Shape: Sphere, Orientation: 7}
	for _, set := range []func(*Factors, int){
		func(f *Factors, k int) { f.FloorHue = k },
		func(f *Factors, k int) { f.WallHue = k },
		func(f *Factors, k int) { f.ObjectHue = k },
	} {
		hues := map[string]bool{}
		for k := range 10 {
			f := base
			set(&f, k)
			hues[sum(r.Render(f))] = true
		}
		if len(hues) != 10 {
			t.Errorf("ten hues gave %d distinct images", len(hues))
		}
	}
}

// objectArea counts the pixels the object reaches: those that change when
// only the object's hue does.
func objectArea(r *Renderer, f Factors) int {
	f.ObjectHue = 0
	a := r.Render(f)
	f.ObjectHue = 5
	b := r.Render(f)
	n := 0
	for i := 0; i < len(a.Pix); i += 4 {
		if a.Pix[i] != b.Pix[i] || a.Pix[i+1] != b.Pix[i+1] || a.Pix[i+2] != b.Pix[i+2] {
			n++
		}
	}
	return n
}

func TestObjectAreaGrowsWithScale(t *testing.T) {
	r, _ := NewRenderer(64)
	for shape := range Shapes {
		for _, orient := range []int{0, 7, 14} {
			t.Run(fmt.Sprintf("%s/orientation%d", ShapeNames[shape], orient), func(t *testing.T) {
				var areas []int
				for scale := range Scales {
					areas = append(areas, objectArea(r, Factors{FloorHue: 1, WallHue: 6, Scale: scale, Shape: shape, Orientation: orient}))
				}
				for i := 1; i < len(areas); i++ {
					if areas[i] <= areas[i-1] {
						t.Fatalf("areas by scale %v do not grow", areas)
					}
				}
				// The object is a visible part of the scene but never fills it.
				if areas[0] < 100 || areas[Scales-1] > 64*64/3 {
					t.Fatalf("areas by scale %v out of the expected 100..%d pixels", areas, 64*64/3)
				}
			})
		}
	}
}

func TestSaltPepperRate(t *testing.T) {
	r, _ := NewRenderer(64)
	for _, p := range []float64{0.01, 0.1, 0.3} {
		t.Run(strconv.FormatFloat(p, 'g', -1, 64), func(t *testing.T) {
			changed, white, total := 0, 0, 0
			for idx := 0; idx < NumScenes; idx += NumScenes / 25 {
				f, _ := FromIndex(idx)
				clean, noisy := r.Render(f), r.Render(f)
				SaltPepper(noisy, p, NoiseSource(11, idx))
				for i := 0; i < len(clean.Pix); i += 4 {
					c, n := clean.Pix[i:i+3], noisy.Pix[i:i+3]
					if c[0] == c[1] && c[1] == c[2] && (c[0] == 0 || c[0] == 255) {
						t.Fatal("a clean scene has a pure black or white pixel: noise would be invisible there")
					}
					total++
					if !slices.Equal(c, n) {
						changed++
						if n[0] == 255 {
							white++
						}
					}
				}
			}
			rate := float64(changed) / float64(total)
			// Five standard deviations of a binomial rate.
			if tol := 5 * math.Sqrt(p*(1-p)/float64(total)); math.Abs(rate-p) > tol {
				t.Errorf("noise rate %.4f, want %.4f ± %.4f", rate, p, tol)
			}
			if half, tol := float64(white)/float64(changed), 5*math.Sqrt(0.25/float64(changed)); math.Abs(half-0.5) > tol {
				t.Errorf("salt share %.3f, want 0.5 ± %.3f", half, tol)
			}
		})
	}
	a, b := r.Render(Factors{}), r.Render(Factors{})
	SaltPepper(a, 0.2, NoiseSource(1, 0))
	SaltPepper(b, 0.2, NoiseSource(1, 0))
	if sum(a) != sum(b) {
		t.Error("one seed and scene gave two noise patterns")
	}
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		if CheckNoise(p) == nil {
			t.Errorf("CheckNoise(%v) accepted", p)
		}
	}
}

func readLabels(t *testing.T, dir string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestWriteReadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	indices := []int{5, 48000, 479999}
	opts := WriteOptions{Size: 16, Noise: 0.05, Seed: 3, Workers: 2}
	if err := Write(dir, indices, opts); err != nil {
		t.Fatal(err)
	}
	rows := readLabels(t, dir)
	if got := strings.Join(rows[0], ","); got != "file,floor_hue,wall_hue,object_hue,scale,shape,orientation" {
		t.Fatalf("header %q", got)
	}
	want := [][]string{
		{"img/000005.png", "0", "0", "0", "0", "0", "5"},
		{"img/048000.png", "1", "0", "0", "0", "0", "0"},
		{"img/479999.png", "9", "9", "9", "7", "3", "14"},
	}
	if !slices.EqualFunc(rows[1:], want, slices.Equal) {
		t.Fatalf("rows %q, want %q", rows[1:], want)
	}
	for i, row := range rows[1:] {
		pf, err := os.Open(filepath.Join(dir, row[0]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(pf)
		pf.Close()
		if err != nil {
			t.Fatal(err)
		}
		f, _ := FromIndex(indices[i])
		wantImg := Render(f, 16)
		SaltPepper(wantImg, opts.Noise, NoiseSource(opts.Seed, indices[i]))
		got := image.NewRGBA(img.Bounds())
		for y := range 16 {
			for x := range 16 {
				got.Set(x, y, img.At(x, y))
			}
		}
		if sum(got) != sum(wantImg) {
			t.Errorf("%s is not the rendered scene", row[0])
		}
	}
	// The result does not depend on the number of workers.
	again := filepath.Join(t.TempDir(), "again")
	opts.Workers = 1
	if err := Write(again, indices, opts); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		a, _ := os.ReadFile(filepath.Join(dir, row[0]))
		b, _ := os.ReadFile(filepath.Join(again, row[0]))
		if !slices.Equal(a, b) {
			t.Errorf("%s differs between 2 workers and 1", row[0])
		}
	}
}

func TestWriteNeverOverwrites(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "set")
	opts := WriteOptions{Size: 8}
	if err := Write(dir, []int{1, 2}, opts); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, []int{3}, opts); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second write without force: %v", err)
	}
	if n := len(readLabels(t, dir)); n != 3 {
		t.Fatalf("refused write changed labels.csv: %d lines", n)
	}
	opts.Force = true
	if err := Write(dir, []int{3}, opts); err != nil {
		t.Fatal(err)
	}
	if rows := readLabels(t, dir); len(rows) != 2 || rows[1][0] != "img/000003.png" {
		t.Fatalf("forced write left %q", rows)
	}
	if _, err := os.Stat(filepath.Join(dir, "img/000001.png")); !os.IsNotExist(err) {
		t.Error("forced write kept an image of the old set")
	}
	file := filepath.Join(parent, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := Write(file, []int{1}, opts); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Fatalf("write onto a file: %v", err)
	}
	if err := Write(filepath.Join(parent, "dup"), []int{4, 4}, opts); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate scenes: %v", err)
	}
	entries, _ := os.ReadDir(parent)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"file", "set"}) {
		t.Errorf("left behind %q, want only file and set", names)
	}
}

func ExampleFromIndex() {
	f, _ := FromIndex(123456)
	fmt.Printf("%+v %s %v\n", f, ShapeNames[f.Shape], f.Split())
	// Output: {FloorHue:2 WallHue:5 ObjectHue:7 Scale:1 Shape:2 Orientation:6} sphere train
}

// Workers share a Renderer: the first to need a geometry casts it, the
// others wait and get the same pixels (run with -race).
func TestRendererConcurrent(t *testing.T) {
	r, _ := NewRenderer(16)
	want := make([]string, 20)
	for i := range want {
		f, _ := FromIndex(i * 997)
		want[i] = sum(Render(f, 16))
	}
	errs := make(chan string, 4*len(want))
	for range 4 {
		go func() {
			for i := range want {
				f, _ := FromIndex(i * 997)
				if got := sum(r.Render(f)); got != want[i] {
					errs <- fmt.Sprintf("scene %d: %s, want %s", i*997, got, want[i])
					continue
				}
				errs <- ""
			}
		}()
	}
	for range 4 * len(want) {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

// TestDatasetReadsWrite: the data set reader takes what Write writes, with
// every factor as a task and each image's pixels as rendered.
func TestDatasetReadsWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	indices := []int{7, 250000, 479999}
	if err := Write(dir, indices, WriteOptions{Size: 16}); err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Open(dir, dataset.Options{Preprocess: dataset.Preprocess{Shape: []int{3, 16, 16}}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if want := []string{"floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"}; !slices.Equal(set.Tasks(), want) {
		t.Fatalf("tasks %v, want %v", set.Tasks(), want)
	}
	x := make([]float32, set.Len()*set.Elems())
	if err := set.Batch(0, set.Len(), x); err != nil {
		t.Fatal(err)
	}
	for i, idx := range indices {
		f, _ := FromIndex(idx)
		if got, want := set.Item(i).Labels, []int{f.FloorHue, f.WallHue, f.ObjectHue, f.Scale, f.Shape, f.Orientation}; !slices.Equal(got, want) {
			t.Errorf("scene %d: labels %v, want %v", idx, got, want)
		}
		img := Render(f, 16)
		for c := range 3 {
			for p := range 16 * 16 {
				want := float32(img.Pix[4*p+c]) / 255
				if got := x[i*set.Elems()+c*256+p]; got != want {
					t.Fatalf("scene %d channel %d pixel %d: %g, want %g", idx, c, p, got, want)
				}
			}
		}
	}
}

// PaperNoise replaces values channel by channel at the released code's
// rates: Φ(0.08) ≈ 53.2% become 250 and 1 − Φ(0.92) ≈ 17.9% become 5,
// checked on a grey image within five binomial standard deviations.
func TestPaperNoiseRates(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	PaperNoise(img, NoiseSource(3, 7))
	light, dark, n := 0, 0, 0
	for i, v := range img.Pix {
		if i%4 == 3 {
			if v != 128 {
				t.Fatalf("alpha changed at %d", i)
			}
			continue
		}
		n++
		switch v {
		case 250:
			light++
		case 5:
			dark++
		case 128:
		default:
			t.Fatalf("value %d at %d", v, i)
		}
	}
	for _, c := range []struct {
		name string
		got  int
		p    float64
	}{{"0.98", light, 0.5319}, {"0.02", dark, 0.1788}} {
		sd := math.Sqrt(float64(n) * c.p * (1 - c.p))
		if math.Abs(float64(c.got)-c.p*float64(n)) > 5*sd {
			t.Errorf("%s: %d of %d values, want %.0f ± %.0f", c.name, c.got, n, c.p*float64(n), 5*sd)
		}
	}
}
