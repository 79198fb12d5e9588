package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// Writer writes a data set in the layout Open reads: one PNG per item
// (written as it is added, each file atomically) and labels.csv, written
// atomically by Close. Until Close the directory has no labels.csv, so a
// crash leaves something Open refuses rather than a set with missing rows.
// Not safe for concurrent use: render in parallel, Add in order.
type Writer struct {
	dir    string
	tasks  []string
	rows   [][]string
	seen   map[string]bool
	closed bool
	enc    png.Encoder
	buf    bytes.Buffer
}

// NewWriter prepares dir (created if missing) for a set with these tasks.
// A dir that already holds a labels.csv is refused unless overwrite is set;
// then its labels.csv is removed at once (old images that the new set does
// not rewrite stay, unlisted).
func NewWriter(dir string, tasks []string, overwrite bool) (*Writer, error) {
	if err := checkTasks(tasks); err != nil {
		return nil, fmt.Errorf("data set %s: %w", dir, err)
	}
	labels := filepath.Join(dir, LabelsFile)
	if _, err := os.Stat(labels); err == nil {
		if !overwrite {
			return nil, fmt.Errorf("%s: %w (pass --force to replace the data set)", labels, atomicfile.ErrExists)
		}
		if err := os.Remove(labels); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Writer{dir: dir, tasks: append([]string(nil), tasks...), seen: map[string]bool{}}, nil
}

// Add writes img as dir/name (a relative '/'-separated path ending in .png;
// subfolders are created) and records its labels, one class index ≥ 0 per
// task.
func (w *Writer) Add(name string, img image.Image, labels []int) error {
	if w.closed {
		return errors.New("dataset writer: Add after Close")
	}
	clean, err := cleanFile(name)
	if err == nil && strings.TrimSpace(name) != name {
		err = errors.New("file name starts or ends with white space, which labels.csv readers trim")
	}
	if err != nil {
		return fmt.Errorf("add %q: %w", name, err)
	}
	if !strings.EqualFold(path.Ext(clean), ".png") {
		return fmt.Errorf("add %q: the writer writes PNG files: name must end in .png", name)
	}
	if w.seen[clean] {
		return fmt.Errorf("add %q: already added", name)
	}
	if len(labels) != len(w.tasks) {
		return fmt.Errorf("add %q: %d labels for %d tasks (%s)", name, len(labels), len(w.tasks), strings.Join(w.tasks, ","))
	}
	row := []string{clean}
	for t, l := range labels {
		if l < 0 {
			return fmt.Errorf("add %q: label %d for task %q is negative", name, l, w.tasks[t])
		}
		row = append(row, strconv.Itoa(l))
	}
	if img == nil || img.Bounds().Empty() {
		return fmt.Errorf("add %q: empty image", name)
	}
	w.buf.Reset()
	if err := w.enc.Encode(&w.buf, img); err != nil {
		return fmt.Errorf("add %q: %w", name, err)
	}
	full := filepath.Join(w.dir, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(full, w.buf.Bytes(), true); err != nil {
		return err
	}
	w.seen[clean] = true
	w.rows = append(w.rows, row)
	return nil
}

// Close writes labels.csv, which makes the set visible to Open. A set with
// no items is an error (Open would refuse it). Closing twice is an error.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("dataset writer: closed twice")
	}
	w.closed = true
	if len(w.rows) == 0 {
		return fmt.Errorf("data set %s: no items added", w.dir)
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write(append([]string{"file"}, w.tasks...))
	cw.WriteAll(w.rows) // flushes; errors only come from the buffer, which has none
	if err := cw.Error(); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(w.dir, LabelsFile), b.Bytes(), true)
}
