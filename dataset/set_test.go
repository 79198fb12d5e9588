package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pngOf encodes a w×h NRGBA image whose pixel (x, y) is (x, y, x+y, 255)·step.
func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), uint8(x + y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func f32Of(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

var small = Preprocess{Shape: []int{3, 4, 4}}

// TestOpenBad: every kind of bad input fails Open with one line naming
// labels.csv, the line, the file and the reason.
func TestOpenBad(t *testing.T) {
	img := pngOf(t, 4, 4)
	outside := filepath.Join(t.TempDir(), "outside.png")
	if err := os.WriteFile(outside, img, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		files  map[string][]byte
		labels string
		opts   Options
		want   string
	}{
		{"missing labels.csv", map[string][]byte{"a.png": img}, "", Options{}, "has no labels.csv (want a header file,<task>,..."},
		{"empty labels.csv", nil, "\n", Options{}, "labels.csv: empty"},
		{"header without file column", map[string][]byte{"a.png": img}, "image,shape\na.png,1\n", Options{}, `labels.csv:1: header "image,shape" must start with the column "file"`},
		{"header without tasks", map[string][]byte{"a.png": img}, "file\na.png\n", Options{}, "labels.csv:1: no task columns"},
		{"task twice", map[string][]byte{"a.png": img}, "file,s,s\na.png,1,1\n", Options{}, `labels.csv:1: task "s" appears twice`},
		{"task name with space", map[string][]byte{"a.png": img}, "file,my task\na.png,1\n", Options{}, `labels.csv:1: task name "my task": use letters`},
		{"task named file", map[string][]byte{"a.png": img}, "file,file\na.png,1\n", Options{}, `task name "file" is reserved`},
		{"broken quoting", map[string][]byte{"a.png": img}, "file,s\n\"a.png,1\n", Options{}, "labels.csv:2: extraneous or missing \" in quoted-field"},
		{"wrong column count", map[string][]byte{"a.png": img, "b.png": img}, "file,shape,color\na.png,1,2\nb.png,1\n", Options{}, "labels.csv:3: b.png: 2 columns, want 3 (file,shape,color)"},
		{"label not an integer", map[string][]byte{"a.png": img}, "file,shape\na.png,x\n", Options{}, `labels.csv:2: a.png: label "x" for task "shape" is not an integer class index`},
		{"fractional label", map[string][]byte{"a.png": img}, "file,shape\na.png,1.5\n", Options{}, `labels.csv:2: a.png: label "1.5" for task "shape" is not an integer`},
		{"empty label", map[string][]byte{"a.png": img}, "file,shape\na.png,\n", Options{}, `labels.csv:2: a.png: label "" for task "shape" is not an integer`},
		{"negative label", map[string][]byte{"a.png": img}, "file,shape\na.png,-1\n", Options{}, `labels.csv:2: a.png: label -1 for task "shape" is negative (want a class index ≥ 0)`},
		{"label above declared classes", map[string][]byte{"a.png": img}, "file,shape\na.png,5\n", Options{Classes: []int{5}}, `labels.csv:2: a.png: label 5 for task "shape" is out of range (5 classes: 0–4)`},
		{"classes for other task count", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n", Options{Classes: []int{5, 2}}, "labels.csv:1: 2 class counts declared for 1 tasks (shape)"},
		{"zero declared classes", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n", Options{Classes: []int{0}}, "declared class count 0 for task 1: want ≥ 1"},
		{"file missing", map[string][]byte{"a.png": img}, "file,shape\na.png,1\nimg/nope.png,2\n", Options{}, "labels.csv:3: img/nope.png: no such file"},
		{"empty file name", map[string][]byte{"a.png": img}, "file,shape\n,1\n", Options{}, "labels.csv:2: empty file name"},
		{"file above the directory", map[string][]byte{"a.png": img}, "file,shape\n../a.png,1\n", Options{}, "labels.csv:2: ../a.png: file path must stay inside the data set directory"},
		{"absolute file", map[string][]byte{"a.png": img}, "file,shape\n" + outside + ",1\n", Options{}, "file path must stay inside the data set directory"},
		{"backslash path", map[string][]byte{"a.png": img}, "file,shape\nimg\\a.png,1\n", Options{}, `file paths use '/' as separator`},
		{"file listed twice", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n./a.png,2\n", Options{}, "labels.csv:3: ./a.png: listed again (first on line 2)"},
		{"undecodable image", map[string][]byte{"a.png": img, "b.png": []byte("not an image")}, "file,shape\na.png,1\nb.png,2\n", Options{}, "labels.csv:3: b.png: not a PNG or JPEG image (image: unknown format)"},
		{"unsupported format", map[string][]byte{"a.bmp": []byte("BM\x00\x00")}, "file,shape\na.bmp,1\n", Options{}, "labels.csv:2: a.bmp: not a PNG or JPEG image"},
		{"a directory", map[string][]byte{"d/a.png": img}, "file,shape\nd,1\n", Options{}, "labels.csv:2: d: not a regular file"},
		{"image of the wrong size", map[string][]byte{"a.png": pngOf(t, 4, 5)}, "file,shape\na.png,1\n", Options{}, "labels.csv:2: a.png: image is 5×4 (H×W), want 4×4: resize none needs images of the input size"},
		{"f32 of the wrong size", map[string][]byte{"a.f32": f32Of(1, 2, 3)}, "file,shape\na.f32,1\n", Options{Preprocess: Preprocess{Shape: []int{1, 2, 2}}}, "labels.csv:2: a.f32: 12 bytes, want 16 (1×2×2 float32)"},
		{"f32 among images", map[string][]byte{"a.png": img, "b.f32": f32Of(1)}, "file,shape\na.png,1\nb.f32,1\n", Options{}, "labels.csv:3: b.f32: is a raw .f32 tensor but the set holds images"},
		{"image in an f32 set", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n", Options{Preprocess: Preprocess{Input: InputF32, Shape: []int{1, 2, 2}}}, "labels.csv:2: a.png: is an image but the set holds raw .f32 tensors"},
		{"header only", nil, "file,shape\n", Options{}, "labels.csv: no rows after the header"},
		{"every row skipped", map[string][]byte{"a.png": img}, "file,shape\na.png,-1\n", Options{OnBad: Skip}, `labels.csv: all 1 rows are bad, the first: labels.csv:2: a.png: label -1 for task "shape" is negative`},
		{"bad preprocess", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n", Options{Preprocess: Preprocess{Mean: []float64{0, 0, 0}, Std: []float64{1, 0, 1}}}, "preprocess: std[1] = 0 must be finite and > 0"},
		{"unknown policy", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n", Options{OnBad: "ignore"}, `on-bad "ignore": want refuse or skip`},
		{"negative workers", map[string][]byte{"a.png": img}, "file,shape\na.png,1\n", Options{Workers: -1}, "workers -1: want ≥ 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := tempSet(t, c.files, c.labels)
			opts := c.opts
			if opts.Preprocess.Shape == nil {
				opts.Preprocess.Shape = small.Shape
			}
			s, err := Open(dir, opts)
			if err == nil {
				s.Close()
				t.Fatalf("opened; want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestOpenNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for dir, want := range map[string]string{
		filepath.Join(t.TempDir(), "nope"): "nope: no such directory",
		file:                               "f: not a directory",
	} {
		if _, err := Open(dir, Options{Preprocess: small}); err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("Open(%s): %v, want …%s", dir, err, want)
		}
	}
}

func TestOpenEscapingSymlink(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.png")
	if err := os.WriteFile(outside, pngOf(t, 4, 4), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := tempSet(t, nil, "file,shape\nlink.png,1\n")
	if err := os.Symlink(outside, filepath.Join(dir, "link.png")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	_, err := Open(dir, Options{Preprocess: small})
	if err == nil || !strings.Contains(err.Error(), "labels.csv:2: link.png: ") {
		t.Errorf("followed a link out of the set: %v", err)
	}
}

// TestRefuseListsAllSkipLeavesOut: Refuse reports every bad row in line
// order; Skip opens the rest and lists the same rows.
func TestRefuseListsAllSkipLeavesOut(t *testing.T) {
	img := pngOf(t, 4, 4)
	dir := tempSet(t, map[string][]byte{"a.png": img, "c.png": img, "e.png": img, "bad.png": []byte("x")},
		"file,t1,t2\na.png,0,1\nb.png,1,1\nc.png,2,x\nbad.png,0,0\ne.png,3,0\na.png,0,0\n")
	_, err := Open(dir, Options{Preprocess: small})
	var be *BadError
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *BadError", err)
	}
	var lines []int
	for _, p := range be.Problems {
		lines = append(lines, p.Line)
	}
	if want := []int{3, 4, 5, 7}; !slices.Equal(lines, want) {
		t.Errorf("problems on lines %v, want %v: %v", lines, want, be.Problems)
	}
	if want := filepath.Join(dir, "labels.csv:3: b.png: no such file") + " (and 3 more bad rows; --on-bad skip leaves bad rows out)"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant prefix %q", err, want)
	}

	s, err := Open(dir, Options{Preprocess: small, OnBad: Skip})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 2 || s.Item(0).File != "a.png" || s.Item(1).File != "e.png" {
		t.Errorf("kept %d items: %v, %v; want a.png and e.png", s.Len(), s.Item(0), s.Item(1))
	}
	var skipped []string
	for _, p := range s.Skipped() {
		skipped = append(skipped, p.String())
	}
	want := []string{
		"labels.csv:3: b.png: no such file",
		`labels.csv:4: c.png: label "x" for task "t2" is not an integer class index`,
		"labels.csv:5: bad.png: not a PNG or JPEG image (image: unknown format)",
		"labels.csv:7: a.png: listed again (first on line 2)",
	}
	if strings.Join(skipped, "\n") != strings.Join(want, "\n") {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(want, "\n"))
	}
	if got := s.Classes(); !slices.Equal(got, []int{4, 2}) {
		t.Errorf("classes %v, want [4 2] (max label + 1 over kept rows)", got)
	}
}

// TestBatchBad: a body broken past a good header, or a non-finite .f32
// value, fails the batch with the line and file.
func TestBatchBad(t *testing.T) {
	img := pngOf(t, 4, 4)
	for _, c := range []struct {
		name  string
		files map[string][]byte
		rows  string
		pre   Preprocess
		want  string
	}{
		{"truncated png", map[string][]byte{"a.png": img, "b.png": img[:len(img)-20]}, "a.png,0\nb.png,1\n", small, "labels.csv:3: b.png: decode: "},
		{"NaN in f32", map[string][]byte{"a.f32": f32Of(0, 1, float32(math.NaN()), 2)}, "a.f32,0\n", Preprocess{Shape: []int{1, 2, 2}}, "labels.csv:2: a.f32: value 2 is NaN (not finite)"},
		{"Inf in f32", map[string][]byte{"a.f32": f32Of(0, 1, 2, float32(math.Inf(-1)))}, "a.f32,0\n", Preprocess{Shape: []int{1, 2, 2}}, "labels.csv:2: a.f32: value 3 is -Inf (not finite)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, policy := range []Policy{Refuse, Skip} {
				s, err := Open(tempSet(t, c.files, "file,t\n"+c.rows), Options{Preprocess: c.pre, OnBad: policy})
				if err != nil {
					t.Fatal(err)
				}
				dst := make([]float32, s.Len()*s.Elems())
				err = s.Batch(0, s.Len(), dst)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: batch error %v, want %q", policy, err, c.want)
				}
				s.Close()
			}
		})
	}
}

func TestBatchArguments(t *testing.T) {
	img := pngOf(t, 4, 4)
	s, err := Open(tempSet(t, map[string][]byte{"a.png": img}, "file,t\na.png,0\n"), Options{Preprocess: small})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name string
		i, n int
		dst  int
		want string
	}{
		{"past the end", 0, 2, 96, "batch [0, 2) outside the set's 1 items"},
		{"negative start", -1, 1, 48, "batch [-1, 0) outside"},
		{"short dst", 0, 1, 47, "batch of 1 needs 48 values, dst has 47"},
	} {
		if err := s.Batch(c.i, c.n, make([]float32, c.dst)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
