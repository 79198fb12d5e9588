package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mtlsplit/mtlsplit/internal/cores"
)

// Policy is what Open does with bad rows.
type Policy string

// Policies. The zero value refuses.
const (
	// Refuse fails Open with a *BadError listing every bad row.
	Refuse Policy = "refuse"
	// Skip leaves bad rows out; Set.Skipped lists them for the caller to
	// report. Never silent: a set that skipped rows says so.
	Skip Policy = "skip"
)

// ParsePolicy reads the --on-bad flag.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.TrimSpace(s)); p {
	case "", Refuse:
		return Refuse, nil
	case Skip:
		return Skip, nil
	}
	return "", fmt.Errorf("on-bad %q: want refuse or skip", s)
}

// Options are how Open reads a set. The zero value (with a Preprocess.Shape)
// refuses bad rows, counts classes from the labels and decodes on every CPU.
type Options struct {
	Preprocess Preprocess
	OnBad      Policy
	// Classes declares each task's class count (labels must be below it);
	// nil counts max label + 1 per task.
	Classes []int
	// Workers is the number of decoding goroutines; 0 means GOMAXPROCS.
	Workers int
	// Unlabelled lets a directory without labels.csv be a set of inputs
	// with no labels: every PNG, JPEG (or .f32) file under it, in path
	// order (hidden files and folders left out). Without it a missing
	// labels.csv fails Open.
	Unlabelled bool
}

// Set is an opened data set: its rows are read and checked, its files are
// decoded only when a batch asks for them. Safe for concurrent use.
type Set struct {
	dir     string
	root    *os.Root
	pre     Preprocess
	tasks   []string
	classes []int
	items   []Item
	skipped []Problem
	workers int
	scratch sync.Pool
}

// Open reads dir/labels.csv and checks every row: its labels, that its file
// is inside dir and exists, and that it is what the set holds (an image
// whose header decodes and, with resize none, has the input size; or a .f32
// file of exactly Shape's size). Pixels are not decoded until Batch.
func Open(dir string, opts Options) (*Set, error) {
	policy, err := ParsePolicy(string(opts.OnBad))
	if err != nil {
		return nil, err
	}
	if opts.Workers < 0 {
		return nil, fmt.Errorf("workers %d: want ≥ 0 (0 uses every CPU)", opts.Workers)
	}
	for t, k := range opts.Classes {
		if k <= 0 {
			return nil, fmt.Errorf("declared class count %d for task %d: want ≥ 1", k, t+1)
		}
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data set %s: no such directory", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("data set %s: %w", dir, unwrapPath(err))
	}
	s := &Set{dir: dir, root: root, workers: opts.Workers}
	if s.workers == 0 {
		s.workers = cores.N()
	}
	if err := s.load(opts, policy); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

func (s *Set) load(opts Options, policy Policy) error {
	f, err := s.root.Open(LabelsFile)
	var tasks []string
	var items []Item
	var problems []Problem
	switch {
	case errors.Is(err, fs.ErrNotExist) && opts.Unlabelled:
		if items, err = s.listInputs(); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data set %s has no %s (want a header file,<task>,... and one row per image or .f32 file)", s.dir, LabelsFile)
	case err != nil:
		return fmt.Errorf("%s: %w", filepath.Join(s.dir, LabelsFile), unwrapPath(err))
	default:
		tasks, items, problems, err = readLabels(f, opts.Classes)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s%c%w", s.dir, filepath.Separator, err)
		}
	}
	kind := opts.Preprocess.Input
	if kind == "" {
		kind = InputImage
		if len(items) > 0 {
			kind = kindOf(items[0].File)
		}
	}
	if s.pre, err = opts.Preprocess.complete(kind); err != nil {
		return err
	}
	fileErrs := s.parallel(len(items), func(k int, _ *scratch) error { return s.check(items[k]) })
	var good []Item
	for k, e := range fileErrs {
		if e != nil {
			problems = append(problems, Problem{Line: items[k].Line, File: items[k].File, Reason: e.Error()})
			continue
		}
		good = append(good, items[k])
	}
	slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	if len(problems) > 0 && policy == Refuse {
		return &BadError{Dir: s.dir, Problems: problems}
	}
	switch {
	case len(good) == 0 && len(problems) == 0:
		return fmt.Errorf("%s: no rows after the header (want one row per item)", filepath.Join(s.dir, LabelsFile))
	case len(good) == 0 && tasks == nil:
		return fmt.Errorf("data set %s: all %d files are bad, the first: %s", s.dir, len(problems), problems[0])
	case len(good) == 0:
		return fmt.Errorf("%s: all %d rows are bad, the first: %s", filepath.Join(s.dir, LabelsFile), len(problems), problems[0])
	}
	s.tasks, s.items, s.skipped = tasks, good, problems
	s.classes = opts.Classes
	if tasks == nil {
		s.classes = nil // no labels: nothing to count
	}
	if s.classes == nil {
		s.classes = make([]int, len(tasks))
		for _, it := range good {
			for t, l := range it.Labels {
				s.classes[t] = max(s.classes[t], l+1)
			}
		}
	}
	return nil
}

// listInputs is every input file under the set's directory, in path
// order, for a set without labels.csv.
func (s *Set) listInputs() ([]Item, error) {
	var items []Item
	err := fs.WalkDir(s.root.FS(), ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." && strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch strings.ToLower(path.Ext(name)) {
		case ".png", ".jpg", ".jpeg", ".f32":
			if e.Type().IsRegular() {
				items = append(items, Item{File: name})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data set %s: %w", s.dir, unwrapPath(err))
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("data set %s has neither %s nor any PNG, JPEG or .f32 file", s.dir, LabelsFile)
	}
	return items, nil
}

func kindOf(file string) string {
	if strings.EqualFold(path.Ext(file), ".f32") {
		return InputF32
	}
	return InputImage
}

// check is the per-row file check of Open.
func (s *Set) check(it Item) error {
	if k := kindOf(it.File); k != s.pre.Input {
		return fmt.Errorf("is %s but the set holds %s (a set is all images or all .f32 tensors)", kindName(k, false), kindName(s.pre.Input, true))
	}
	st, err := s.root.Stat(filepath.FromSlash(it.File))
	if err != nil {
		return unwrapPath(err)
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if s.pre.Input == InputF32 {
		if want := int64(4 * s.pre.Elems()); st.Size() != want {
			return fmt.Errorf("%d bytes, want %d (%s float32)", st.Size(), want, joinInts(s.pre.Shape, "×"))
		}
		return nil
	}
	f, err := s.root.Open(filepath.FromSlash(it.File))
	if err != nil {
		return unwrapPath(err)
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("not a PNG or JPEG image (%v)", err)
	}
	return s.pre.checkSize(cfg.Height, cfg.Width)
}

func kindName(k string, plural bool) string {
	switch {
	case k == InputF32 && plural:
		return "raw .f32 tensors"
	case k == InputF32:
		return "a raw .f32 tensor"
	case plural:
		return "images"
	}
	return "an image"
}

// unwrapPath drops the absolute path an *fs.PathError carries: messages
// name the row's file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, fs.ErrNotExist) {
			return errors.New("no such file")
		}
		return pe.Err
	}
	return err
}

// Close releases the directory handle.
func (s *Set) Close() error { return s.root.Close() }

// Len is the number of usable items.
func (s *Set) Len() int { return len(s.items) }

// Tasks are the task names from the header, in column order.
func (s *Set) Tasks() []string { return slices.Clone(s.tasks) }

// Classes is each task's class count: as declared, or max label + 1.
func (s *Set) Classes() []int { return slices.Clone(s.classes) }

// Item is row i (0 ≤ i < Len) in labels.csv order, bad rows left out.
func (s *Set) Item(i int) Item { return s.items[i] }

// Skipped lists the rows Skip left out, in line order; empty with Refuse.
func (s *Set) Skipped() []Problem { return slices.Clone(s.skipped) }

// Preprocess is the completed preprocessing, to record in a plan.
func (s *Set) Preprocess() Preprocess { return s.pre }

// Shape is one item's tensor shape [C, H, W].
func (s *Set) Shape() []int { return slices.Clone(s.pre.Shape) }

// Elems is the number of float32 values in one item.
func (s *Set) Elems() int { return s.pre.Elems() }

// Batch decodes items i … i+n−1 into dst (at least n·Elems() values, NCHW):
// item i+k goes to dst[k·Elems():], whatever goroutine decodes it, so the
// result does not depend on Workers. An item that fails (a body corrupt past
// its header, a .f32 value that is not finite) fails the batch with the
// first such item's line and file.
func (s *Set) Batch(i, n int, dst []float32) error {
	if i < 0 || n < 0 || i+n > len(s.items) {
		return fmt.Errorf("batch [%d, %d) outside the set's %d items", i, i+n, len(s.items))
	}
	e := s.pre.Elems()
	if len(dst) < n*e {
		return fmt.Errorf("batch of %d needs %d values, dst has %d", n, n*e, len(dst))
	}
	errs := s.parallel(n, func(k int, sc *scratch) error {
		return s.decode(s.items[i+k], dst[k*e:(k+1)*e], sc)
	})
	for k, err := range errs {
		if err != nil {
			it := s.items[i+k]
			return errors.New(filepath.Join(s.dir, Problem{Line: it.Line, File: it.File, Reason: err.Error()}.String()))
		}
	}
	return nil
}

// scratch is one decoding goroutine's reusable memory.
type scratch struct {
	planes []float32 // the decoded image as RGB planes in [0,1]
}

// parallel runs fn for k = 0 … n−1 on up to Workers goroutines and returns
// each k's error.
func (s *Set) parallel(n int, fn func(k int, sc *scratch) error) []error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(s.workers, n) {
		wg.Go(func() {
			sc, _ := s.scratch.Get().(*scratch)
			if sc == nil {
				sc = new(scratch)
			}
			defer s.scratch.Put(sc)
			for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
				errs[k] = fn(k, sc)
			}
		})
	}
	wg.Wait()
	return errs
}

// decode reads one item's file and writes its tensor into dst.
func (s *Set) decode(it Item, dst []float32, sc *scratch) error {
	name := filepath.FromSlash(it.File)
	if s.pre.Input == InputF32 {
		raw, err := s.root.ReadFile(name)
		if err != nil {
			return unwrapPath(err)
		}
		if len(raw) != 4*len(dst) {
			return fmt.Errorf("%d bytes, want %d (changed since Open?)", len(raw), 4*len(dst))
		}
		for k := range dst {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("value %d is %v (not finite)", k, v)
			}
			dst[k] = v
		}
		return nil
	}
	f, err := s.root.Open(name)
	if err != nil {
		return unwrapPath(err)
	}
	defer f.Close()
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("decode: %v", err)
	}
	var h, w int
	sc.planes, h, w = planar(img, sc.planes)
	return transform(s.pre, sc.planes, h, w, dst)
}
