package cli

import (
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDataShapes3DWritesAndReadsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shapes")
	grid := filepath.Join(t.TempDir(), "sheet", "grid.png")
	stdout, stderr, code := run(t, "data", "shapes3d", "--out", dir, "--n", "12", "--split", "test",
		"--size", "16", "--noise", "0.05", "--seed", "4", "--grid", grid)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote 12 test scenes") || !strings.Contains(stdout, grid) {
		t.Errorf("stdout %q", stdout)
	}
	body, err := os.ReadFile(filepath.Join(dir, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		rows = append(rows, strings.Split(line, ","))
	}
	if len(rows) != 13 || strings.Join(rows[0], ",") != "file,floor_hue,wall_hue,object_hue,scale,shape,orientation" {
		t.Fatalf("labels.csv: %d rows, header %q", len(rows), rows[0])
	}
	for _, row := range rows[1:] {
		// The test split: floor and wall hues both ≥ 5.
		if row[1] < "5" || row[2] < "5" {
			t.Errorf("row %q is not in the test split", row)
		}
		img, err := os.Open(filepath.Join(dir, row[0]))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(img)
		img.Close()
		if err != nil || cfg.Width != 16 || cfg.Height != 16 {
			t.Errorf("%s: %dx%d, %v; want a 16×16 PNG", row[0], cfg.Width, cfg.Height, err)
		}
	}
	// The same seed writes the same set; the directory is not replaced
	// without --force.
	before, _ := os.ReadFile(filepath.Join(dir, "labels.csv"))
	if _, stderr, code := run(t, "data", "shapes3d", "--out", dir, "--n", "12", "--split", "test", "--size", "16"); code != 2 || !strings.Contains(stderr, "--force") {
		t.Fatalf("rewrite without --force: exit %d, %q", code, stderr)
	}
	if _, stderr, code := run(t, "data", "shapes3d", "--out", dir, "--n", "12", "--split", "test", "--size", "16", "--seed", "4", "--force"); code != 0 {
		t.Fatalf("rewrite with --force: exit %d, %q", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "labels.csv")); string(after) != string(before) {
		t.Error("seed 4 drew a different set the second time")
	}
}

func TestDataShapes3DBadInput(t *testing.T) {
	file := writeFile(t, "taken.png", "x")
	out := filepath.Join(t.TempDir(), "o")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", nil, "needs --out"},
		{"no count", []string{"--out", out}, "--n N (1..360000"},
		{"both counts", []string{"--out", out, "--n", "3", "--all"}, "not both"},
		{"too many", []string{"--out", out, "--n", "120001", "--split", "test"}, "1..120000"},
		{"negative n", []string{"--out", out, "--n", "-2"}, "--n -2"},
		{"count without out", []string{"--n", "3", "--grid", out + ".png"}, "need --out"},
		{"bad split", []string{"--out", out, "--n", "3", "--split", "val"}, "train, test, all"},
		{"bad noise", []string{"--out", out, "--n", "3", "--noise", "1.5"}, "--noise"},
		{"bad size", []string{"--out", out, "--n", "3", "--size", "4"}, "--size 4"},
		{"out is a file", []string{"--out", file, "--n", "3"}, "is a file"},
		{"grid not png", []string{"--grid", out + ".jpg"}, "PNG"},
		{"grid exists", []string{"--grid", file}, "--force"},
		{"bad flag value", []string{"--n", "many"}, "invalid argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"data", "shapes3d"}, tc.args...)...)
			if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, tc.want)
			}
		})
	}
}

func TestEveryThrottlesTheBar(t *testing.T) {
	var got []int
	bar := every(3, func(done, total int) { got = append(got, done) })
	for done := 1; done <= 10; done++ {
		bar(done, 10)
	}
	if want := []int{3, 6, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("bar drawn at %v, want %v", got, want)
	}
	if every(0, nil) != nil {
		t.Error("no bar should stay no bar")
	}
}
