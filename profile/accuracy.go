package profile

import (
	"fmt"
	"os"
	"slices"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
	"github.com/mtlsplit/mtlsplit/model"
)

// AccuracyTable gives each task's accuracy when the cut tensor at a cut is
// sent in an encoding, as measured on a validation set.
type AccuracyTable struct {
	Version int             `yaml:"version"`
	Model   string          `yaml:"model,omitempty"`
	Entries []AccuracyEntry `yaml:"entries"`
	index   map[accKey]float64
	// file and lines place what Check finds in the file read.
	file   string
	lines  map[string]int
	native map[string]float64 // task → its first fp32 entry
}

// AccuracyEntry is one measured accuracy.
type AccuracyEntry struct {
	Task     string         `yaml:"task"`
	Cut      string         `yaml:"cut"`
	Encoding codec.Encoding `yaml:"encoding"`
	Accuracy float64        `yaml:"accuracy"`
	Line     int            `yaml:"-"`
}

type accKey struct {
	task, cut string
	enc       codec.Encoding
}

// LoadAccuracy reads an accuracy table strictly (unknown keys, a second
// document, or a bad value are errors that name the file and line).
func LoadAccuracy(path string) (*AccuracyTable, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accuracy table: %w", err)
	}
	t, err := parseAccuracy(path, raw)
	if err != nil {
		return nil, fmt.Errorf("accuracy table: %w", err)
	}
	return t, nil
}

// ParseAccuracy decodes an accuracy table from YAML.
func ParseAccuracy(raw []byte) (*AccuracyTable, error) { return parseAccuracy("", raw) }

func parseAccuracy(file string, raw []byte) (*AccuracyTable, error) {
	var t AccuracyTable
	if err := strictyaml.DecodeFile(file, raw, &t); err != nil {
		return nil, err
	}
	r := strictyaml.NewReport(file, raw)
	t.file, t.lines = file, r.Lines
	t.validate(r)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *AccuracyTable) validate(r *strictyaml.Report) {
	if t.Version != 1 {
		r.Addf("version", "is %d (want 1)", t.Version)
	}
	t.index = map[accKey]float64{}
	t.native = map[string]float64{}
	first := map[accKey]int{}
	for i, e := range t.Entries {
		path := fmt.Sprintf("entries[%d]", i)
		if e.Task == "" || e.Cut == "" {
			r.Addf(path, "needs a task and a cut")
		}
		if e.Encoding.Bytes(1) == 0 {
			r.OneOf(path+".encoding", string(e.Encoding), append(codec.Names(), string(codec.Raw))...)
		}
		r.Number(path+".accuracy", e.Accuracy, strictyaml.Fraction)
		k := accKey{e.Task, e.Cut, e.Encoding}
		if j, dup := first[k]; dup {
			r.Addf(path, "repeats entries[%d] (task %s, cut %s, %s)", j, e.Task, e.Cut, e.Encoding)
			continue
		}
		first[k] = i
		t.index[k] = e.Accuracy
		if _, ok := t.native[e.Task]; !ok && e.Encoding == codec.FP32 {
			t.native[e.Task] = e.Accuracy
		}
	}
}

// Check refuses entries for a task or cut the graph does not have, and a
// table made for another model: such an entry would be silently ignored
// and an accuracy floor would seem met without a measurement.
func (t *AccuracyTable) Check(g *model.Graph) error {
	r := &strictyaml.Report{File: t.file, Lines: t.lines}
	if t.Model != "" && t.Model != g.Name {
		r.Addf("model", "is %s, but the plan is for %s", t.Model, g.Name)
	}
	var tasks, cuts []string
	for _, h := range g.Heads {
		tasks = append(tasks, h.Task)
	}
	for _, c := range Cuts(g) {
		cuts = append(cuts, c.Name)
	}
	for i, e := range t.Entries {
		path := fmt.Sprintf("entries[%d]", i)
		if !slices.Contains(tasks, e.Task) {
			r.Addf(path+".task", "%q is not a task of %s%s", e.Task, g.Name, suggest.Hint(e.Task, tasks))
		}
		if !slices.Contains(cuts, e.Cut) {
			r.Addf(path+".cut", "%q is not a cut of %s%s", e.Cut, g.Name, suggest.Hint(e.Cut, cuts))
		}
	}
	return r.Err()
}

// Accuracy looks up a task's accuracy at a cut and encoding. An input cut
// sends the image as is, so any entry for it at "uint8" applies.
func (t *AccuracyTable) Accuracy(task, cut string, e codec.Encoding) (float64, bool) {
	if t == nil {
		return 0, false
	}
	a, ok := t.index[accKey{task, cut, e}]
	return a, ok
}

// Native is a task's accuracy with nothing lost in transit: any fp32 entry
// of the task (fp32 is lossless, so every cut gives the same).
func (t *AccuracyTable) Native(task string) (float64, bool) {
	if t == nil {
		return 0, false
	}
	if t.native != nil { // a parsed table: the optimizer asks once per candidate
		a, ok := t.native[task]
		return a, ok
	}
	for _, e := range t.Entries {
		if e.Task == task && e.Encoding == codec.FP32 {
			return e.Accuracy, true
		}
	}
	return 0, false
}
