package cli

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/dataset"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/cores"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// LabelledOptions are the flags that open a labelled data set (dataset/doc.go
// maps each to dataset.Options).
type LabelledOptions struct {
	Dir, Shape, Resize, Interp string
	Mean, Std, Classes, OnBad  string
	Workers, Batch             int
	// unlabelled lets Dir be a folder of inputs without labels.csv.
	unlabelled bool
}

func (d *LabelledOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&d.Dir, "data", "", "labelled data set for --accuracy: a directory with labels.csv (file,<task>,...) and its images or .f32 tensors")
	f.StringVar(&d.Shape, "shape", "", "item shape C,H,W (default: the model's input)")
	f.StringVar(&d.Resize, "resize", "none", "how images reach the input size: none, exact, or S (shorter side to S px, then a centre crop)")
	f.StringVar(&d.Interp, "interp", "", "resampling when resizing: bilinear (default) or bilinear-pil")
	f.StringVar(&d.Mean, "mean", "", "per-channel mean subtracted after scaling to [0,1], e.g. 0.485,0.456,0.406")
	f.StringVar(&d.Std, "std", "", "per-channel std divided by after the mean, e.g. 0.229,0.224,0.225")
	f.StringVar(&d.Classes, "classes", "", "class count per label column, e.g. 3,4 (default: max label + 1)")
	f.StringVar(&d.OnBad, "on-bad", "refuse", "bad rows in labels.csv: refuse, or skip (and list them on stderr)")
	f.IntVar(&d.Workers, "workers", 0, "image decoding goroutines (0: every CPU)")
	f.IntVar(&d.Batch, "batch", 8, "samples per engine call with --accuracy")
}

// check refuses data flags without --accuracy, and --accuracy without data.
func (d *LabelledOptions) check(accuracy bool) error {
	if accuracy && d.Dir == "" {
		return fmt.Errorf("--accuracy needs --data DIR (a labelled data set; without one, --fidelity N measures agreement on random inputs)")
	}
	if !accuracy && d.Dir != "" {
		return fmt.Errorf("--data is read by --accuracy: add --accuracy")
	}
	if d.Batch < 1 || d.Batch > 1024 {
		return fmt.Errorf("--batch %d: want 1 to 1024 samples per engine call", d.Batch)
	}
	return nil
}

// open opens the data set for a network whose input is in.
func (d *LabelledOptions) open(in model.Shape) (*dataset.Set, error) {
	o := dataset.Options{Workers: d.Workers, Unlabelled: d.unlabelled}
	var err error
	if o.OnBad, err = dataset.ParsePolicy(d.OnBad); err != nil {
		return nil, fmt.Errorf("--on-bad: %w", err)
	}
	if o.Preprocess.Resize, o.Preprocess.ShorterPx, err = dataset.ParseResize(d.Resize); err != nil {
		return nil, fmt.Errorf("--resize: %w", err)
	}
	if d.Interp != "" {
		o.Preprocess.Interpolation = dataset.Interpolation(d.Interp)
	}
	if o.Preprocess.Mean, err = parseFloats(d.Mean, "--mean"); err != nil {
		return nil, err
	}
	if o.Preprocess.Std, err = parseFloats(d.Std, "--std"); err != nil {
		return nil, err
	}
	if d.Classes != "" {
		for _, f := range strings.Split(d.Classes, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || k < 1 {
				return nil, fmt.Errorf("--classes %q: want a class count ≥ 1 per label column, e.g. 3,4", d.Classes)
			}
			o.Classes = append(o.Classes, k)
		}
	}
	o.Preprocess.Shape = shapeInts(in)
	if d.Shape != "" {
		o.Preprocess.Shape = nil
		for _, f := range strings.Split(d.Shape, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || k < 1 {
				return nil, fmt.Errorf("--shape %q: want C,H,W, e.g. 3,64,64", d.Shape)
			}
			o.Preprocess.Shape = append(o.Preprocess.Shape, k)
		}
		if want := shapeInts(in); !slices.Equal(o.Preprocess.Shape, want) {
			var dims []string
			for _, v := range want {
				dims = append(dims, strconv.Itoa(v))
			}
			return nil, fmt.Errorf("--shape %s: the model takes %s", d.Shape, strings.Join(dims, ","))
		}
	}
	set, err := dataset.Open(d.Dir, o)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	return set, nil
}

func shapeInts(s model.Shape) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

// parseEncodings reads --encodings for an accuracy measurement: base
// encodings only (zstd is lossless: its sizes come with every encoding),
// fp32 first, since fp32 tells the planner the native accuracy.
func parseEncodings(s string) ([]codec.Encoding, error) {
	encs, err := codec.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--encodings: %w", err)
	}
	out := []codec.Encoding{codec.FP32}
	for _, e := range encs {
		if e.Compressed() {
			return nil, fmt.Errorf("--encodings %s: give base encodings (fp32,fp16,int8,int4); zstd is lossless, its sizes are measured with each", e)
		}
		if e == codec.Raw {
			return nil, fmt.Errorf("--encodings %s: the raw image is not an encoding of a cut tensor", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// withZooHeads puts the zoo's heads of tasks ("8,4") on an ONNX backbone
// that has none, the backbone's weights kept and the heads' seeded random.
func withZooHeads(g *model.Graph, w *engine.Weights, tasks string, seed uint64) (*model.Graph, *engine.Weights, error) {
	classes, err := parseTasks(tasks)
	if err != nil {
		return nil, nil, err
	}
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("%s has no task heads: give --tasks (classes per head) to score", g.Name)
	}
	hg, err := model.WithHeads(g, classes)
	if err != nil {
		return nil, nil, err
	}
	hw, err := engine.RandomWeights(hg, seed)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range w.Params() {
		if err := hw.Set(p.Node, p.Param, w.Get(p.Node, p.Param)); err != nil {
			return nil, nil, err
		}
	}
	return hg, hw, nil
}

// runAccuracy measures each task's accuracy on the labelled data at every
// cut and encoding, prints it and writes --accuracy-out.
func runAccuracy(opts *ProfileOptions) (*profile.AccuracyTable, error) {
	if strings.Contains(opts.Model, ",") {
		return nil, fmt.Errorf("--accuracy measures one model, got %q", opts.Model)
	}
	encs, err := parseEncodings(opts.Encodings)
	if err != nil {
		return nil, err
	}
	// One single-threaded program per core, each on its own batches:
	// independent batches scale better than threads inside one layer.
	workers := opts.Threads
	if workers == 0 {
		workers = cores.N()
	}
	eo := opts.EngineOptions
	eo.Threads, eo.Batch, eo.Heads = 1, opts.Data.Batch, true
	eo.held = func(g *model.Graph) int64 { return int64(opts.Data.Batch) * measure.HeldBytes(g) }
	layers := opts.Granularity == "layer"
	if layers {
		eo.keep = measure.LayerCuts
	}
	var progs []*engine.Program
	defer func() {
		for _, p := range progs {
			p.Close()
		}
	}()
	for range workers {
		p, err := eo.program()
		if err != nil {
			return nil, err
		}
		progs = append(progs, p)
	}
	g := progs[0].Graph()
	set, err := opts.Data.open(g.Input)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	if sk := set.Skipped(); len(sk) > 0 {
		fmt.Fprintf(opts.IO.Err, "skipped %d bad rows of %s:\n", len(sk), opts.Data.Dir)
		for _, p := range sk {
			fmt.Fprintf(opts.IO.Err, "  %s\n", p)
		}
	}
	columns := set.Tasks()
	cols, byName, err := measure.MapTasks(g, columns, set.Classes())
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", opts.Data.Dir, err)
	}
	if !byName {
		var pairs []string
		for t, h := range g.Heads {
			pairs = append(pairs, columns[cols[t]]+"→"+h.Task)
		}
		fmt.Fprintf(opts.IO.Err, "label columns are not named after the heads: scored by order, %s\n", strings.Join(pairs, ", "))
	}
	res, err := measure.Accuracy(progs, set, measure.AccuracySettings{Encodings: encs, Columns: cols, Batch: opts.Data.Batch,
		Layers: layers, Progress: progress(opts.IO, opts.Quiet, "accuracy")})
	if err != nil {
		if de := (*measure.DataError)(nil); errors.As(err, &de) {
			return nil, fmt.Errorf("--data: %w", err)
		}
		return nil, internal(err)
	}
	tab := res.Table
	tab.Data, tab.Preprocess = opts.Data.Dir, set.Preprocess().String()
	for t := range tab.Tasks {
		tab.Tasks[t].Column = columns[cols[t]]
	}
	if opts.AccuracyOut != "" {
		if err := saveYAML(opts.IO, opts.AccuracyOut, tab, opts.Force); err != nil {
			return nil, err
		}
	}
	switch opts.Format {
	case "json":
		return tab, writeJSON(opts.IO.Out, tab)
	case "yaml":
		return tab, writeYAML(opts.IO.Out, tab)
	}
	return tab, printAccuracy(opts, tab)
}

// printAccuracy is the table people read: per cut and task, the accuracy of
// every encoding with its interval.
func printAccuracy(opts *ProfileOptions, tab *profile.AccuracyTable) error {
	w := opts.IO.Out
	fmt.Fprintf(w, "%s: top-1 accuracy on %d samples of %s (95%% Wilson intervals)\n", tab.Model, tab.Samples, tab.Data)
	for _, t := range tab.Tasks {
		fmt.Fprintf(w, "  %s (column %s): %s on the plain forward pass\n", t.Task, t.Column, pct(t.Accuracy, t.CILow, t.CIHigh))
	}
	fmt.Fprintln(w)
	var rows [][]string
	for _, e := range tab.Entries {
		size := ""
		if s, ok := tab.Size(e.Cut, e.Encoding+"+zstd"); ok {
			size = fmt.Sprintf("%s / %s / %s", human(s.MeanBytes), human(float64(s.P95Bytes)), human(float64(s.MaxBytes)))
		}
		rows = append(rows, []string{e.Cut, string(e.Encoding), e.Task, pct(e.Accuracy, e.CILow, e.CIHigh), size})
	}
	return writeTable(w, []string{"CUT", "ENCODING", "TASK", "ACCURACY [95% CI]", "+ZSTD B MEAN / P95 / MAX"}, rows)
}

func pct(a float64, lo, hi *float64) string {
	if lo == nil || hi == nil {
		return fmt.Sprintf("%.1f%%", 100*a)
	}
	return fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*a, 100**lo, 100**hi)
}

// useDataSizes puts the data set's mean sizes after zstd into a measured
// profile in place of the one input's, so that plans with "int8+zstd" rest
// on the whole data set (the p95 and max stay in the accuracy table).
func useDataSizes(out *profileOutput, res *measure.Result, sizes []profile.CutSize) {
	if len(sizes) == 0 {
		return
	}
	tb := res.Table.Backbones[out.Model]
	for i := range tb.Blocks {
		b := &tb.Blocks[i]
		for _, s := range sizes {
			if s.Cut != b.Name {
				continue
			}
			n := int64(math.Ceil(s.MeanBytes))
			b.CutBytes[string(s.Encoding)] = n
			out.Blocks[i].CutBytes[string(s.Encoding)] = int(n)
			res.CutBytes[i+1][s.Encoding] = int(n)
		}
	}
}
