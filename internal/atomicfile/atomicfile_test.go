package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := Write(path, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if err := Write(path, []byte("two"), false); !errors.Is(err, ErrExists) {
		t.Errorf("overwrote without asking: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("content %q", b)
	}
	if err := Write(path, []byte("two"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".out.txt.*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
	if err := Write(filepath.Join(t.TempDir(), "no", "such", "dir"), nil, false); err == nil {
		t.Error("wrote into a missing directory")
	}
}

// TestWriteSyncsFileThenDirectory: the data reaches the disk before the
// rename makes it visible, and the rename before Write returns.
func TestWriteSyncsFileThenDirectory(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	syncFile = func(f *os.File) error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		kind := "file"
		if st.IsDir() {
			kind = "dir"
		}
		// Whether the final name exists yet tells before or after the rename.
		_, err = os.Stat(filepath.Join(dir, "out.txt"))
		synced = append(synced, fmt.Sprintf("%s renamed=%v", kind, err == nil))
		return f.Sync()
	}
	defer func() { syncFile = (*os.File).Sync }()
	if err := Write(filepath.Join(dir, "out.txt"), []byte("x"), false); err != nil {
		t.Fatal(err)
	}
	if want := []string{"file renamed=false", "dir renamed=true"}; !slices.Equal(synced, want) {
		t.Errorf("synced %v, want %v", synced, want)
	}
}

func TestWriteRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, force := range []bool{false, true} {
		if err := Write(dir, []byte("x"), force); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("force %v: %v", force, err)
		}
	}
}
