package results

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

func TestFigureSave(t *testing.T) {
	dir := t.TempDir()
	f := Figure{Title: "t", XLabel: "x", YLabel: "y", LogX: true, Markers: []float64{3},
		Series: []Series{{Name: "a", X: LogSpace(1, 10, 5), Y: []float64{1, 2, 3, 4, 5}}, {Name: "b", X: []float64{1, 10}, Y: []float64{2, 2}, Dashed: true},
			{Name: "scatter", X: []float64{2, 5}, Y: []float64{3, 1}, Points: true}}}
	for _, ext := range []string{"png", "svg", "pdf"} {
		path := filepath.Join(dir, "f."+ext)
		if err := f.Save(path, false); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 500 {
			t.Errorf("%s: %v", path, err)
		}
		if err := f.Save(path, false); err == nil {
			t.Errorf("%s overwritten without asking", path)
		}
	}
	if err := f.Save(filepath.Join(dir, "f.gif"), false); err == nil || !strings.Contains(err.Error(), ".png") {
		t.Errorf("unknown format: %v", err)
	}
	if x := LogSpace(0.1, 1000, 5); x[0] != 0.1 || x[4] != 1000 || x[2] < 9.99 || x[2] > 10.01 {
		t.Errorf("LogSpace %v", x)
	}
}

// TestBandPolygons: a band is one polygon per run of drawable points (a NaN
// or, on a log axis, a non-positive bound breaks it), upper edge forward and
// lower edge back, and the figure with it renders.
func TestBandPolygons(t *testing.T) {
	s := Series{Name: "opt", X: []float64{1, 2, 3, 4, 5, 6}, Y: []float64{10, 10, 10, 10, 10, 10},
		Lower: []float64{8, 8, math.NaN(), 9, 0, 9}, Upper: []float64{12, 12, 12, 11, 11, 11}}
	tests := []struct {
		name   string
		logY   bool
		polys  int
		lo, hi float64
	}{
		{"linear: the NaN splits", false, 2, 0, 12},
		{"log: the zero splits too; a lone point draws nothing", true, 1, 8, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			polys, lo, hi, err := bandPolygons(s, tt.logY, palette[0])
			if err != nil || len(polys) != tt.polys || lo != tt.lo || hi != tt.hi {
				t.Fatalf("%d polygons over [%g, %g], %v; want %d over [%g, %g]", len(polys), lo, hi, err, tt.polys, tt.lo, tt.hi)
			}
			want := plotter.XYs{{X: 1, Y: 12}, {X: 2, Y: 12}, {X: 2, Y: 8}, {X: 1, Y: 8}}
			if got := polys[0].XYs[0]; !slices.Equal(got, want) {
				t.Errorf("first polygon %v, want %v", got, want)
			}
		})
	}
	bad := s
	bad.Upper = bad.Upper[:2]
	if _, _, _, err := bandPolygons(bad, false, palette[0]); err == nil || !strings.Contains(err.Error(), "2 upper values for 6 points") {
		t.Errorf("mismatched band: %v", err)
	}
	f := Figure{Title: "t", LogX: true, LogY: true, Series: []Series{s}}
	path := filepath.Join(t.TempDir(), "band.svg")
	if err := f.Save(path, false); err != nil {
		t.Fatal(err)
	}
	if svg, _ := os.ReadFile(path); !strings.Contains(string(svg), "expected range") {
		t.Errorf("the band has no legend entry in %s", path)
	}
}
