package dataset

import (
	"slices"
	"strings"
	"testing"
)

// TestOpenUnlabelled: with Unlabelled, a directory without labels.csv is
// its PNG, JPEG and .f32 files in path order (other files, hidden files and
// hidden folders left out), with no tasks, and decodes like a labelled set;
// without it, or with no input file, or with a file of the wrong size,
// Open fails naming the problem.
func TestOpenUnlabelled(t *testing.T) {
	img := pngOf(t, 4, 4)
	dir := tempSet(t, map[string][]byte{
		"b/2.png": img, "a.PNG": img, "b/1.png": img, "notes.txt": []byte("x"),
		".hidden.png": img, ".cache/3.png": img,
	}, "")
	set, err := Open(dir, Options{Preprocess: small, Unlabelled: true})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var files []string
	for i := range set.Len() {
		it := set.Item(i)
		files = append(files, it.File)
		if it.Labels != nil || it.Line != 0 {
			t.Errorf("%s: labels %v, line %d", it.File, it.Labels, it.Line)
		}
	}
	if want := []string{"a.PNG", "b/1.png", "b/2.png"}; !slices.Equal(files, want) {
		t.Errorf("files %v, want %v", files, want)
	}
	if len(set.Tasks()) != 0 || len(set.Classes()) != 0 {
		t.Errorf("tasks %v classes %v, want none", set.Tasks(), set.Classes())
	}
	x := make([]float32, 3*set.Elems())
	if err := set.Batch(0, 3, x); err != nil {
		t.Fatal(err)
	}
	if x[1] != 7.0/255 || !slices.Equal(x[:set.Elems()], x[set.Elems():2*set.Elems()]) {
		t.Errorf("decoded %v", x[:4])
	}
	tests := []struct {
		name  string
		files map[string][]byte
		opts  Options
		want  string
	}{
		{"labels.csv required", map[string][]byte{"a.png": img}, Options{Preprocess: small}, "has no labels.csv"},
		{"no input file", map[string][]byte{"a.txt": img}, Options{Preprocess: small, Unlabelled: true}, "neither labels.csv nor any PNG, JPEG or .f32 file"},
		{"wrong size", map[string][]byte{"a.png": pngOf(t, 5, 4)}, Options{Preprocess: small, Unlabelled: true}, "a.png: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tempSet(t, tc.files, ""), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "labels.csv:0") {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}
