package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFigureSave(t *testing.T) {
	dir := t.TempDir()
	f := Figure{Title: "t", XLabel: "x", YLabel: "y", LogX: true, Markers: []float64{3},
		Series: []Series{{Name: "a", X: LogSpace(1, 10, 5), Y: []float64{1, 2, 3, 4, 5}}, {Name: "b", X: []float64{1, 10}, Y: []float64{2, 2}, Dashed: true}}}
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
