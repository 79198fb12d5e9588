package profile

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
	"github.com/mtlsplit/mtlsplit/model"
)

// AccuracyTable gives each task's accuracy when the cut tensor at a cut is
// sent in an encoding, as measured on a validation set.
//
// Every field but version and entries is optional, so tables written by
// hand or by older versions still load. A measured table ("profile
// --accuracy --data") also records how it was measured (method, data,
// preprocess, samples, interval), each task's accuracy on the plain forward
// pass (tasks), each entry's sample count and 95% confidence interval, and
// the cut tensors' sizes after the lossless stage over the whole data set
// (sizes):
//
//	version: 1
//	model: resnet18
//	method: labelled                # or fidelity (agreement, not accuracy)
//	data: shapes/test
//	preprocess: image → RGB [0,1] → no resize → NCHW float32 3×64×64
//	samples: 2000
//	interval: wilson-95
//	tasks:                          # the plain forward pass; Native reads it
//	  - {task: task1, column: shape, classes: 4, accuracy: 0.97, samples: 2000, ci_low: 0.962, ci_high: 0.976}
//	entries:                        # one per task × cut × encoding; cuts are blocks, or
//	                                # at layer granularity every layer ("layer2.0.conv1#28")
//	  - {task: task1, cut: layer2, encoding: int4, accuracy: 0.91, samples: 2000, ci_low: 0.897, ci_high: 0.922}
//	sizes:                          # bytes on the wire after zstd, over the data set
//	  - {cut: layer2, encoding: int4+zstd, mean_bytes: 3012.4, p95_bytes: 3250, max_bytes: 3391}
//
// The planner reads entries (Accuracy, Native); the sizes reach it through
// the measured profile ("profile --measure --accuracy" writes their means
// as its zstd cut sizes).
type AccuracyTable struct {
	Version int    `yaml:"version"`
	Model   string `yaml:"model,omitempty"`
	// Method is "labelled" (top-1 accuracy against the data's labels) or
	// "fidelity" (top-1 agreement with the fp32 network on random inputs,
	// which is not accuracy); empty in tables that do not say.
	Method     string `yaml:"method,omitempty"`
	Data       string `yaml:"data,omitempty"`
	Preprocess string `yaml:"preprocess,omitempty"`
	Samples    int    `yaml:"samples,omitempty"`
	// Interval names how ci_low and ci_high were computed
	// ("wilson-95": the Wilson score interval at 95%).
	Interval string          `yaml:"interval,omitempty"`
	Tasks    []AccuracyTask  `yaml:"tasks,omitempty"`
	Entries  []AccuracyEntry `yaml:"entries"`
	Sizes    []CutSize       `yaml:"sizes,omitempty"`
	index    map[accKey]float64
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
	// Samples is how many inputs the accuracy was measured on, and CILow,
	// CIHigh its 95% confidence interval (the table's interval says how);
	// nil when not recorded. An interval of 0 is a value, hence pointers.
	Samples int      `yaml:"samples,omitempty"`
	CILow   *float64 `yaml:"ci_low,omitempty"`
	CIHigh  *float64 `yaml:"ci_high,omitempty"`
	Line    int      `yaml:"-"`
}

// AccuracyTask is one task's accuracy with nothing lost in transit (the
// plain forward pass), and which labels it was scored against.
type AccuracyTask struct {
	Task string `yaml:"task"`
	// Column is the data set's label column the task was scored against.
	Column   string   `yaml:"column,omitempty"`
	Classes  int      `yaml:"classes,omitempty"`
	Accuracy float64  `yaml:"accuracy"`
	Samples  int      `yaml:"samples,omitempty"`
	CILow    *float64 `yaml:"ci_low,omitempty"`
	CIHigh   *float64 `yaml:"ci_high,omitempty"`
}

// CutSize is the size of a cut's tensor in an encoding over a data set:
// with a lossless stage ("int8+zstd") the size depends on the data, so one
// input's size is not enough to plan on.
type CutSize struct {
	Cut       string         `yaml:"cut"`
	Encoding  codec.Encoding `yaml:"encoding"`
	MeanBytes float64        `yaml:"mean_bytes"`
	// P95Bytes is the nearest-rank 95th percentile.
	P95Bytes int64 `yaml:"p95_bytes"`
	MaxBytes int64 `yaml:"max_bytes"`
}

// Methods of measuring an accuracy table.
const (
	MethodLabelled = "labelled"
	MethodFidelity = "fidelity"
)

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
		checkInterval(r, path, e.Accuracy, e.Samples, e.CILow, e.CIHigh)
	}
	if t.Method != "" {
		r.OneOf("method", t.Method, MethodLabelled, MethodFidelity)
	}
	if t.Samples < 0 {
		r.Addf("samples", "is %d (want ≥ 0)", t.Samples)
	}
	seenTask := map[string]int{}
	for i, a := range t.Tasks {
		path := fmt.Sprintf("tasks[%d]", i)
		if a.Task == "" {
			r.Addf(path, "needs a task")
		}
		if j, dup := seenTask[a.Task]; dup {
			r.Addf(path, "repeats tasks[%d] (task %s)", j, a.Task)
			continue
		}
		seenTask[a.Task] = i
		if a.Classes < 0 {
			r.Addf(path+".classes", "is %d (want ≥ 1)", a.Classes)
		}
		r.Number(path+".accuracy", a.Accuracy, strictyaml.Fraction)
		checkInterval(r, path, a.Accuracy, a.Samples, a.CILow, a.CIHigh)
		// The plain forward pass is the native accuracy: it wins over an
		// fp32 entry (they are equal in a measured table).
		t.native[a.Task] = a.Accuracy
	}
	seenSize := map[accKey]int{}
	for i, c := range t.Sizes {
		path := fmt.Sprintf("sizes[%d]", i)
		if c.Cut == "" {
			r.Addf(path, "needs a cut")
		}
		if c.Encoding.Bytes(1) == 0 {
			r.OneOf(path+".encoding", string(c.Encoding), codec.Names()...)
		}
		k := accKey{cut: c.Cut, enc: c.Encoding}
		if j, dup := seenSize[k]; dup {
			r.Addf(path, "repeats sizes[%d] (cut %s, %s)", j, c.Cut, c.Encoding)
			continue
		}
		seenSize[k] = i
		r.Number(path+".mean_bytes", c.MeanBytes, strictyaml.NonNegative)
		switch {
		case c.P95Bytes < 0 || c.MaxBytes < 0:
			r.Addf(path, "has a negative size (p95_bytes %d, max_bytes %d)", c.P95Bytes, c.MaxBytes)
		case c.P95Bytes > c.MaxBytes || c.MeanBytes > float64(c.MaxBytes):
			r.Addf(path, "has mean_bytes %g and p95_bytes %d above max_bytes %d", c.MeanBytes, c.P95Bytes, c.MaxBytes)
		}
	}
}

// checkInterval checks an accuracy's optional sample count and interval:
// both ends or neither, fractions around the accuracy, and measured on at
// least one sample.
func checkInterval(r *strictyaml.Report, path string, acc float64, n int, lo, hi *float64) {
	if n < 0 {
		r.Addf(path+".samples", "is %d (want ≥ 1)", n)
	}
	if (lo == nil) != (hi == nil) {
		r.Addf(path, "needs both ci_low and ci_high, or neither")
		return
	}
	if lo == nil {
		return
	}
	r.Number(path+".ci_low", *lo, strictyaml.Fraction)
	r.Number(path+".ci_high", *hi, strictyaml.Fraction)
	if n < 1 {
		r.Addf(path, "has a confidence interval but no samples (want samples ≥ 1)")
	}
	// Written values are rounded: allow that much.
	const slack = 1e-6
	if *lo > acc+slack || acc > *hi+slack {
		r.Addf(path, "has accuracy %g outside its interval [%g, %g]", acc, *lo, *hi)
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
	for _, n := range g.Nodes {
		if n.ID > 0 && n.Task < 0 {
			cuts = append(cuts, LayerCutName(g, n.ID))
		}
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
	for i, a := range t.Tasks {
		if !slices.Contains(tasks, a.Task) {
			r.Addf(fmt.Sprintf("tasks[%d].task", i), "%q is not a task of %s%s", a.Task, g.Name, suggest.Hint(a.Task, tasks))
		}
	}
	for i, c := range t.Sizes {
		if !slices.Contains(cuts, c.Cut) {
			r.Addf(fmt.Sprintf("sizes[%d].cut", i), "%q is not a cut of %s%s", c.Cut, g.Name, suggest.Hint(c.Cut, cuts))
		}
	}
	return r.Err()
}

// LayerCutName names the cut after a backbone node in an accuracy table
// measured at layer granularity: a block's output by the block's name (as
// block-level entries are), any other node as the layer-level planner names
// its unit, "name#id".
func LayerCutName(g *model.Graph, node int) string {
	if node == 0 {
		return InputCut
	}
	for _, b := range g.Blocks {
		if b.Output == node {
			return b.Name
		}
	}
	return g.Nodes[node].Name + "#" + strconv.Itoa(node)
}

// Accuracy looks up a task's accuracy at a cut and encoding. An input cut
// sends the image as is, so any entry for it at "uint8" applies.
func (t *AccuracyTable) Accuracy(task, cut string, e codec.Encoding) (float64, bool) {
	if t == nil {
		return 0, false
	}
	if t.index == nil { // built in code, not parsed
		for _, en := range t.Entries {
			if en.Task == task && en.Cut == cut && en.Encoding == e {
				return en.Accuracy, true
			}
		}
		return 0, false
	}
	a, ok := t.index[accKey{task, cut, e}]
	return a, ok
}

// CI is the sample count and 95% confidence interval recorded with a
// task's accuracy at a cut and encoding; ok is false when the table has no
// such entry or the entry no interval.
func (t *AccuracyTable) CI(task, cut string, e codec.Encoding) (n int, lo, hi float64, ok bool) {
	if t == nil {
		return 0, 0, 0, false
	}
	for _, en := range t.Entries {
		if en.Task == task && en.Cut == cut && en.Encoding == e && en.CILow != nil && en.CIHigh != nil {
			return en.Samples, *en.CILow, *en.CIHigh, true
		}
	}
	return 0, 0, 0, false
}

// NativeCI is the sample count and 95% interval of a task's plain forward
// pass accuracy, when the table records one.
func (t *AccuracyTable) NativeCI(task string) (n int, lo, hi float64, ok bool) {
	if t == nil {
		return 0, 0, 0, false
	}
	for _, a := range t.Tasks {
		if a.Task == task && a.CILow != nil && a.CIHigh != nil {
			return a.Samples, *a.CILow, *a.CIHigh, true
		}
	}
	return 0, 0, 0, false
}

// Size is the recorded size of a cut's tensor in an encoding over the data
// set, if any.
func (t *AccuracyTable) Size(cut string, e codec.Encoding) (CutSize, bool) {
	if t == nil {
		return CutSize{}, false
	}
	for _, c := range t.Sizes {
		if c.Cut == cut && c.Encoding == e {
			return c, true
		}
	}
	return CutSize{}, false
}

// UseSizes puts the table's mean sizes (rounded up) into l.CutBytes, in
// place of one input's, for every block cut of g the table has: what the
// planner prices a lossless stage with. It is the hook for plans made with
// --accuracy but no measured profile.
func (t *AccuracyTable) UseSizes(g *model.Graph, l *Latency) {
	if t == nil || len(t.Sizes) == 0 {
		return
	}
	for k, c := range Cuts(g) {
		for _, s := range t.Sizes {
			if s.Cut != c.Name || k == 0 {
				continue
			}
			if l.CutBytes == nil {
				l.CutBytes = make([]map[codec.Encoding]int64, len(g.Blocks)+1)
			}
			if l.CutBytes[k] == nil {
				l.CutBytes[k] = map[codec.Encoding]int64{}
			}
			l.CutBytes[k][s.Encoding] = int64(math.Ceil(s.MeanBytes))
		}
	}
}

// Native is a task's accuracy with nothing lost in transit: its plain
// forward pass accuracy (tasks) when recorded, else any fp32 entry of the
// task (fp32 is lossless, so every cut gives the same).
func (t *AccuracyTable) Native(task string) (float64, bool) {
	if t == nil {
		return 0, false
	}
	if t.native != nil { // a parsed table: the optimizer asks once per candidate
		a, ok := t.native[task]
		return a, ok
	}
	for _, a := range t.Tasks {
		if a.Task == task {
			return a.Accuracy, true
		}
	}
	for _, e := range t.Entries {
		if e.Task == task && e.Encoding == codec.FP32 {
			return e.Accuracy, true
		}
	}
	return 0, false
}
