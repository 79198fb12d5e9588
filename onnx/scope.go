package onnx

// Torch module paths from ONNX node names.

import (
	"strings"
)

// modulePath recovers the torch module path from a node name written by
// torch.onnx, e.g. "/1/block/block.0/block.0.0/Conv" → 1.block.0.0. Each
// scope names a module either by its full path or, as torch 1.13 does, by
// the path's tail from its last non-numeric atom ("block.0.0"); a
// numeric-only scope ("0.0") is the full path. Nil when the name has no
// scopes.
func modulePath(name string) []string {
	if !strings.HasPrefix(name, "/") {
		return nil
	}
	scopes := strings.Split(name[1:], "/")
	var path []string
	for _, s := range scopes[:len(scopes)-1] { // the last part is the op
		if s == "" {
			return nil
		}
		atoms := strings.Split(s, ".")
		if len(atoms) > len(path) && equal(atoms[:len(path)], path) {
			path = atoms // a full path extending its parent
			continue
		}
		// A tail: find where in the parent its first atom sits.
		k := 0
		if last := lastNonNumeric(path); last >= 0 && path[last] == atoms[0] {
			k = len(path) - last
			if k >= len(atoms) || !equal(path[last:], atoms[:k]) {
				k = 0
			}
		}
		path = append(path[:len(path):len(path)], atoms[k:]...)
	}
	return path
}

func lastNonNumeric(atoms []string) int {
	for i := len(atoms) - 1; i >= 0; i-- {
		if !numeric(atoms[i]) {
			return i
		}
	}
	return -1
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
