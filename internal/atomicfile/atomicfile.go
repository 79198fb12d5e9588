// Package atomicfile writes files so that readers never see half of one,
// a crash never leaves a truncated file under the name, and nothing the
// user has is replaced without asking.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrExists is returned when the target exists and overwrite is off.
var ErrExists = errors.New("file exists")

// syncFile flushes a file (or a directory) to stable storage; tests replace
// it to see what was synced and when.
var syncFile = (*os.File).Sync

// Write writes data to path through a temporary file in the same directory
// renamed into place; an existing file is kept unless overwrite is set.
// The data is synced before the rename and the directory after it, so that
// after a crash the name holds the old file or the whole new one.
func Write(path string, data []byte, overwrite bool) error {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory; give a file name", path)
		}
		if !overwrite {
			return fmt.Errorf("%s: %w (pass --force to replace it)", path, ErrExists)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := syncFile(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file private; results are for reading.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename lives in the directory: sync it too, or a crash may
	// forget the new name.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return syncFile(d)
}
