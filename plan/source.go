package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FileSHA256 is the SHA-256 of a file's bytes, in lowercase hex: what a
// plan records of the ONNX file it was made from.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ONNXSource is the source of a plan made from the ONNX file at path with
// the given output names; its path is written relative to the directory
// of the plan file it goes into (planPath; "": as given).
func ONNXSource(path string, outputs []string, planPath string) (*Source, error) {
	sum, err := FileSHA256(path)
	if err != nil {
		return nil, err
	}
	if planPath != "" {
		if rel, err := relativeTo(path, filepath.Dir(planPath)); err == nil {
			path = rel
		}
	}
	return &Source{Kind: SourceONNX, Path: filepath.ToSlash(path), SHA256: sum, Outputs: outputs}, nil
}

func relativeTo(path, dir string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.Rel(absDir, abs)
}

// File is where a runtime finds the plan's ONNX file: override when given,
// else the plan's path, read relative to the directory of the plan file
// (planPath) when it is relative. It is "" for a plan without a file.
func (p *Plan) File(planPath, override string) string {
	s := p.Model.Source
	switch {
	case override != "":
		return override
	case s == nil || s.Kind != SourceONNX:
		return ""
	case filepath.IsAbs(s.Path) || planPath == "":
		return filepath.FromSlash(s.Path)
	}
	return filepath.Join(filepath.Dir(planPath), filepath.FromSlash(s.Path))
}

// Classes lists each task's number of classes, in the plan's task order.
func (p *Plan) Classes() []int {
	out := make([]int, len(p.Model.Tasks))
	for i, t := range p.Model.Tasks {
		out[i] = t.Classes
	}
	return out
}
