package results

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBarChartSave: grouped bars with whiskers render to every format, a
// NaN value draws no bar, and a series of the wrong length is refused.
func TestBarChartSave(t *testing.T) {
	dir := t.TempDir()
	b := BarChart{Title: "t", YLabel: "y", Categories: []string{"a", "b", "c"}, HLine: 1,
		Series: []BarSeries{{Name: "one", Values: []float64{1, 2, math.NaN()}, Errors: []float64{0.1, 0, math.NaN()}}, {Name: "two", Values: []float64{3, 1, 2}}}}
	for _, ext := range []string{"png", "svg", "pdf"} {
		path := filepath.Join(dir, "b."+ext)
		if err := b.Save(path, false); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 500 {
			t.Errorf("%s: %v", path, err)
		}
	}
	if svg, _ := os.ReadFile(filepath.Join(dir, "b.svg")); !strings.Contains(string(svg), "two") {
		t.Error("the SVG has no legend entry for series two")
	}
	bad := b
	bad.Series = []BarSeries{{Name: "short", Values: []float64{1}}}
	if err := bad.Save(filepath.Join(dir, "bad.png"), false); err == nil || !strings.Contains(err.Error(), "1 values for 3 categories") {
		t.Errorf("short series: %v", err)
	}
	if err := b.Save(filepath.Join(dir, "b.gif"), false); err == nil || !strings.Contains(err.Error(), ".png") {
		t.Errorf("unknown format: %v", err)
	}
}
