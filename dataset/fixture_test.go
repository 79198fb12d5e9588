package dataset

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestTorchvisionFixture runs images through Open and Batch and compares
// with torchvision 0.14 (testdata/gen_fixture.py): resize on a float tensor
// (bilinear, antialias=False) or on the PIL image (Pillow's bilinear), then
// center_crop and normalize.
func TestTorchvisionFixture(t *testing.T) {
	dir := filepath.Join("testdata", "torchvision")
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Cases []struct {
			Name, Image, Resize, Want, Interpolation string
			ShorterPx                                int `json:"shorter_px"`
			Shape                                    []int
			Mean, Std                                []float64
		}
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Cases) < 12 {
		t.Fatalf("%d cases in the fixture, want 12", len(manifest.Cases))
	}
	for _, c := range manifest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			set := tempSet(t, map[string][]byte{c.Image: mustRead(t, filepath.Join(dir, c.Image))}, "file,t\n"+c.Image+",0\n")
			s, err := Open(set, Options{Preprocess: Preprocess{Shape: c.Shape, Resize: ResizeMode(c.Resize), ShorterPx: c.ShorterPx, Interpolation: Interpolation(c.Interpolation), Mean: c.Mean, Std: c.Std}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := make([]float32, s.Elems())
			if err := s.Batch(0, 1, got); err != nil {
				t.Fatal(err)
			}
			want := readF32(t, filepath.Join(dir, c.Want))
			if len(want) != len(got) {
				t.Fatalf("%d values, fixture has %d", len(got), len(want))
			}
			worst, at := 0.0, 0
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > worst {
					worst, at = d, i
				}
			}
			// Bit for bit: the same weights, the same fused multiply-adds.
			if worst != 0 {
				t.Errorf("max |Go − torchvision| = %.3g at %d (got %v, want %v)", worst, at, got[at], want[at])
			}
			t.Logf("max |Go − torchvision| = %.3g", worst)
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readF32(t *testing.T, path string) []float32 {
	b := mustRead(t, path)
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// tempSet makes a set directory with the given files (paths '/'-separated)
// and labels.csv content; labels "" writes no labels.csv.
func tempSet(t *testing.T, files map[string][]byte, labels string) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if labels != "" {
		if err := os.WriteFile(filepath.Join(dir, LabelsFile), []byte(labels), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
