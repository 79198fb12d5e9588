package plan

import (
	"path/filepath"
	"testing"
)

// TestFile: a runtime finds the ONNX file by --model when given, else by
// the plan's path, relative to the plan file's directory; a zoo plan names
// none.
func TestFile(t *testing.T) {
	onnx := &Plan{Model: Model{Source: &Source{Kind: SourceONNX, Path: "../models/m.onnx"}}}
	abs := &Plan{Model: Model{Source: &Source{Kind: SourceONNX, Path: "/srv/m.onnx"}}}
	zoo := &Plan{}
	tests := []struct {
		name               string
		p                  *Plan
		planPath, override string
		want               string
	}{
		{"relative to the plan", onnx, "plans/p.yaml", "", filepath.FromSlash("models/m.onnx")},
		{"override", onnx, "plans/p.yaml", "other.onnx", "other.onnx"},
		{"absolute", abs, "plans/p.yaml", "", filepath.FromSlash("/srv/m.onnx")},
		{"no plan file", onnx, "", "", filepath.FromSlash("../models/m.onnx")},
		{"zoo", zoo, "plans/p.yaml", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.File(tc.planPath, tc.override); got != tc.want {
				t.Errorf("File(%q, %q) = %q, want %q", tc.planPath, tc.override, got, tc.want)
			}
		})
	}
}

// TestONNXSource records the file's SHA-256 and its path relative to where
// the plan is written, which File turns back into the file.
func TestONNXSource(t *testing.T) {
	file := "testdata/version.bad.yaml" // any file: only its bytes are hashed
	s, err := ONNXSource(file, []string{"out"}, "../results/p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Path != "../plan/testdata/version.bad.yaml" || len(s.SHA256) != 64 || !isSHA256(s.SHA256) {
		t.Errorf("source %+v", s)
	}
	p := &Plan{Model: Model{Source: s}}
	got, _ := filepath.Abs(p.File("../results/p.yaml", ""))
	if want, _ := filepath.Abs(file); got != want {
		t.Errorf("File is %q, want %q", got, want)
	}
	if _, err := ONNXSource("testdata/none.onnx", nil, ""); err == nil {
		t.Error("hashed a missing file")
	}
}
