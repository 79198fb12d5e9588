package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mtlsplit/mtlsplit/dataset"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// RunDataOptions are the flags of "mtlsplit run --data DIR": a data set
// answered input by input through the plan.
type RunDataOptions struct {
	Set         LabelledOptions
	Out         string
	Force       bool
	Concurrency int
	Limit       int
	Timeout     time.Duration
}

func (o *RunDataOptions) addFlags(f *pflag.FlagSet) {
	o.Set.addFlags(f)
	f.Lookup("data").Usage = "answer every input of a data set: a directory with labels.csv (file,<task>,...) and its images or .f32 tensors, or a directory of images without labels; one JSON line per input, then a summary"
	f.Lookup("batch").Hidden = true // samples per engine call: profile's, not run's
	f.StringVar(&o.Out, "out", "", "with --data: write the JSON lines to this file (default: stdout, the summary then on stderr)")
	f.BoolVar(&o.Force, "force", false, "with --out: replace a file that exists")
	f.IntVar(&o.Concurrency, "concurrency", 1, "with --data: edges at once, each with its own engine program and connection")
	f.IntVar(&o.Limit, "limit", 0, "with --data: answer only the first N inputs (0: all)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "with --data: bound on each connection attempt and each request to the server; past it the device answers alone when the plan says it can")
}

// check refuses the --data flags without --data, and bad values with it.
func (o *RunDataOptions) check(flags *pflag.FlagSet, input string) error {
	if o.Set.Dir == "" {
		for _, name := range []string{"out", "force", "concurrency", "limit", "timeout", "shape", "resize", "interp", "mean", "std", "classes", "on-bad", "workers"} {
			if flags != nil && flags.Changed(name) {
				return fmt.Errorf("--%s is read with --data DIR: add --data", name)
			}
		}
		return nil
	}
	switch {
	case flags != nil && flags.Changed("n"):
		return fmt.Errorf("--n times one input; --data answers each input of %s once: leave --n out (--limit N answers the first N)", o.Set.Dir)
	case input != "":
		return fmt.Errorf("--input %s with --data %s: give one (--data answers every input of the set)", input, o.Set.Dir)
	case o.Concurrency < 1 || o.Concurrency > 256:
		return fmt.Errorf("--concurrency %d: want 1 to 256 edges", o.Concurrency)
	case o.Limit < 0:
		return fmt.Errorf("--limit %d: want 0 (all inputs) or more", o.Limit)
	case o.Timeout < 0:
		return fmt.Errorf("--timeout %v: want 0 (no bound) or a positive duration such as 5s", o.Timeout)
	}
	return checkOutputs(o.Force, output{"--out", o.Out})
}

// runLine is one input's JSON line. Its field names are read by other
// tools (calibrate --runtime): keep them.
type runLine struct {
	Input     string                `json:"input"`
	Tasks     map[string]taskAnswer `json:"tasks,omitempty"`
	Labels    map[string]int        `json:"labels,omitempty"`
	Cut       string                `json:"cut"`
	Bytes     int                   `json:"bytes"`
	Measured  *splitrun.Parts       `json:"measured,omitempty"`
	Predicted *splitrun.Parts       `json:"predicted,omitempty"`
	Fallback  bool                  `json:"fallback"`
	// EdgeIdleMS and ServerIdleMS are how long the device and the server's
	// worker idled before this input's compute (absent: unknown), which
	// calibrate --runtime fits the idle-gap terms to.
	EdgeIdleMS   *float64 `json:"edge_idle_ms,omitempty"`
	ServerIdleMS *float64 `json:"server_idle_ms,omitempty"`
	// EdgeWarmMS and ServerWarmMS are how long each side spent re-reading
	// its weights while the transfer was under way (splitrun's warming:
	// off the critical path, so in no stage's time; absent: none).
	EdgeWarmMS   float64 `json:"edge_warm_ms,omitempty"`
	ServerWarmMS float64 `json:"server_warm_ms,omitempty"`
	// Row is the switch-table row an adaptive edge ran (run --adaptive;
	// cut is then its cut, and predicted is the plan's only for the row
	// of its choice: the plan predicts other rows only as a whole), and
	// EstimateMbps the uplink estimate it chose the row by.
	Row          *int    `json:"row,omitempty"`
	EstimateMbps float64 `json:"estimate_mbps,omitempty"`
	// Reason says why the server did not answer (with fallback or error).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

type taskAnswer struct {
	Class  int       `json:"class"`
	Logits []float32 `json:"logits"`
}

// taskAccuracy is one task's top-1 accuracy over the answered inputs.
type taskAccuracy struct {
	Task     string  `json:"task"`
	Column   string  `json:"column"`
	Correct  int     `json:"correct"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	CILow    float64 `json:"ci_low"`
	CIHigh   float64 `json:"ci_high"`
}

// dataSummary is what a run over a data set found.
type dataSummary struct {
	Model    string `json:"model"`
	Cut      string `json:"cut"`
	Encoding string `json:"encoding"`
	Server   string `json:"server"`
	Inputs   int    `json:"inputs"`
	// Answered counts inputs with results (Fallbacks of them by the
	// device alone); Failed those without.
	Answered  int `json:"answered"`
	Fallbacks int `json:"fallbacks"`
	Failed    int `json:"failed"`
	// FallbackReason is why the server did not answer the first fallback.
	FallbackReason string `json:"fallback_reason,omitempty"`
	// Split is the medians of the inputs the split answered, against the
	// plan's prediction.
	Split       splitrun.Summary `json:"split"`
	TotalP50MS  float64          `json:"total_p50_ms"`
	TotalP95MS  float64          `json:"total_p95_ms"`
	TotalP99MS  float64          `json:"total_p99_ms"`
	WallS       float64          `json:"wall_s"`
	PerSecond   float64          `json:"throughput_per_s"`
	Concurrency int              `json:"concurrency"`
	Accuracy    []taskAccuracy   `json:"accuracy,omitempty"`
	// Adaptive is what adaptive edges did (run --adaptive).
	Adaptive *adaptiveSummary `json:"adaptive,omitempty"`
}

// runData answers every input of --data through the deployment: K edges
// (prog is the first's program, newEdge dresses each), the server at addr.
func runData(opts *DeployOptions, d *splitrun.Deployment, prog *engine.Program, addr string, newEdge func(*engine.Program) *splitrun.Edge) error {
	o := &opts.Data
	set, err := openRunSet(o, d, opts.flags)
	if err != nil {
		return err
	}
	defer set.Close()
	if sk := set.Skipped(); len(sk) > 0 {
		fmt.Fprintf(opts.IO.Err, "skipped %d bad rows of %s:\n", len(sk), o.Set.Dir)
		for _, p := range sk {
			fmt.Fprintf(opts.IO.Err, "  %s\n", p)
		}
	}
	g := d.Graph
	var cols []int // label column of each head; nil without labels
	if columns := set.Tasks(); len(columns) > 0 {
		var byName bool
		if cols, byName, err = measure.MapTasks(g, columns, set.Classes()); err != nil {
			return fmt.Errorf("--data %s: %w", o.Set.Dir, err)
		}
		if !byName {
			var pairs []string
			for t, h := range g.Heads {
				pairs = append(pairs, columns[cols[t]]+"→"+h.Task)
			}
			fmt.Fprintf(opts.IO.Err, "label columns are not named after the heads: scored by order, %s\n", strings.Join(pairs, ", "))
		}
	}
	n := set.Len()
	if o.Limit > 0 {
		n = min(n, o.Limit)
	}
	progs := []*engine.Program{prog}
	defer func() {
		for _, p := range progs[1:] {
			p.Close()
		}
	}()
	eo := engine.Options{Threads: opts.Threads, Backend: engine.BestBackend()}
	for len(progs) < o.Concurrency {
		p, err := d.Compile(opts.Seed, eo)
		if err != nil {
			return internal(err)
		}
		progs = append(progs, p)
	}
	r := &splitrun.Runner{D: d, Progs: progs, Addr: addr, Seed: opts.Seed, Timeout: o.Timeout, Local: canRunLocally(d.Plan),
		NewEdge: newEdge}

	var lines io.Writer = opts.IO.Out
	summaryTo := opts.IO.Out
	var file *os.File
	if o.Out != "" {
		if file, err = os.Create(o.Out); err != nil {
			return err
		}
		defer file.Close()
		lines = file
	} else {
		summaryTo = opts.IO.Err
	}
	bw := bufio.NewWriter(lines)
	enc := json.NewEncoder(bw)
	acc := make([]taskAccuracy, len(g.Heads))
	var split []splitrun.Timing
	var totals []float64
	s := dataSummary{Model: g.Name, Cut: d.Plan.Choice.Cut, Encoding: d.Plan.Choice.Encoding, Server: addrOr(addr), Inputs: n, Concurrency: len(progs)}
	if !d.Sends() {
		s.Server = addrOr("")
	}
	bar := progress(opts.IO, opts.Quiet, "run")
	start := time.Now()
	choice := choiceRows(d)
	err = r.Run(n, func(i int, dst []float32) error { return set.Batch(i, 1, dst) }, func(a splitrun.Answer) error {
		it := set.Item(a.Index)
		line := answerLine(d.Plan, g.Heads, it, cols, a, choice)
		if a.Err == nil {
			s.Answered++
			totals = append(totals, a.Timing.TotalMS)
			if a.Fallback {
				s.Fallbacks++
				if s.FallbackReason == "" {
					s.FallbackReason = a.Reason
				}
			} else {
				split = append(split, a.Timing)
			}
			for t := range cols {
				acc[t].N++
				if line.Tasks[g.Heads[t].Task].Class == it.Labels[cols[t]] {
					acc[t].Correct++
				}
			}
		} else {
			s.Failed++
		}
		if bar != nil {
			bar(a.Index+1, n)
		}
		return internal(enc.Encode(line))
	})
	s.WallS = time.Since(start).Seconds()
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return internal(err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			return internal(err)
		}
		fmt.Fprintf(opts.IO.Err, "wrote %d lines to %s\n", n, o.Out)
	}
	s.Split = splitrun.Summarize(d.Plan, split)
	s.Adaptive = summarizeAdaptive(d.Plan, split)
	s.TotalP50MS, s.TotalP95MS, s.TotalP99MS = nearestRank(totals, 0.50), nearestRank(totals, 0.95), nearestRank(totals, 0.99)
	if s.WallS > 0 {
		s.PerSecond = float64(s.Answered) / s.WallS
	}
	if cols != nil {
		columns := set.Tasks()
		for t := range acc {
			a := &acc[t]
			a.Task, a.Column = g.Heads[t].Task, columns[cols[t]]
			if a.N > 0 {
				a.Accuracy = float64(a.Correct) / float64(a.N)
			}
			a.CILow, a.CIHigh = measure.Wilson(a.Correct, a.N)
		}
		s.Accuracy = acc
	}
	if opts.Format == "json" {
		err = writeJSON(summaryTo, s)
	} else {
		err = printDataSummary(summaryTo, d, opts, s)
	}
	if err != nil {
		return err
	}
	if s.Failed > 0 {
		return internal(fmt.Errorf("%d of %d inputs have no answer (see their \"error\" lines)", s.Failed, n))
	}
	return nil
}

// openRunSet opens --data for the deployment's input: labelled, or a
// folder of images without labels. A plan that records how its inputs
// were prepared (model.source.preprocess) prepares them so by default, and
// refuses flags that prepare them otherwise: its accuracies, and the
// model's, hold for those inputs only.
func openRunSet(o *RunDataOptions, d *splitrun.Deployment, flags *pflag.FlagSet) (*dataset.Set, error) {
	o.Set.unlabelled = true
	var recorded string
	if s := d.Plan.Model.Source; s != nil {
		recorded = s.Preprocess
	}
	if pre, err := dataset.ParsePreprocess(recorded); err == nil && !preprocessFlagsGiven(flags) {
		o.Set.Resize, o.Set.Interp = string(pre.Resize), string(pre.Interpolation)
		if pre.Resize == dataset.ResizeShorter {
			o.Set.Resize = strconv.Itoa(pre.ShorterPx)
		}
		o.Set.Mean, o.Set.Std = joinFloats(pre.Mean), joinFloats(pre.Std)
	}
	set, err := o.Set.open(d.Graph.Input)
	if err != nil {
		return nil, err
	}
	if got := set.Preprocess().String(); recorded != "" && got != recorded {
		set.Close()
		return nil, fmt.Errorf("--data %s: the plan's accuracies were measured on inputs prepared as %q (model.source.preprocess), these flags prepare %q: give --resize, --interp, --mean and --std to match, or leave them out", o.Set.Dir, recorded, got)
	}
	return set, nil
}

// preprocessFlagsGiven reports whether any flag saying how inputs are
// prepared is on the command line.
func preprocessFlagsGiven(flags *pflag.FlagSet) bool {
	for _, name := range []string{"resize", "interp", "mean", "std"} {
		if flags != nil && flags.Changed(name) {
			return true
		}
	}
	return false
}

func joinFloats(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'g', -1, 64))
	}
	return strings.Join(s, ",")
}

// canRunLocally reports whether the plan says the device can run the
// whole model: its local-only baseline meets the plan's constraints
// (edge memory among them).
func canRunLocally(p *plan.Plan) bool {
	lo := p.Baselines.LocalOnly
	return lo.Feasible && lo.Violates == ""
}

// choiceRows marks the switch-table rows that place as the plan's choice
// does (for them the plan's prediction holds).
func choiceRows(d *splitrun.Deployment) map[int]bool {
	same := map[int]bool{}
	for i, row := range d.Plan.SwitchTable {
		if pl, err := d.Plan.RowPlacement(row); err == nil && pl.Equal(d.Placement) {
			same[i] = true
		}
	}
	return same
}

// answerLine is the JSON line of answer a to item it; choice marks the
// switch-table rows that are the plan's choice.
func answerLine(p *plan.Plan, heads []model.Head, it dataset.Item, cols []int, a splitrun.Answer, choice map[int]bool) runLine {
	l := runLine{Input: it.File, Cut: p.Choice.Cut, Fallback: a.Fallback, Reason: a.Reason}
	if a.Err != nil {
		l.Error = a.Err.Error()
		return l
	}
	pred := p.Predicted
	if a.Fallback {
		l.Cut, pred = p.Baselines.LocalOnly.Cut, p.Baselines.LocalOnly.Predicted
	}
	l.Bytes = a.Timing.Bytes
	l.Measured = &splitrun.Parts{TotalMS: a.Timing.TotalMS, EdgeMS: a.Timing.EdgeMS, NetworkMS: a.Timing.NetworkMS, ServerMS: a.Timing.ServerMS}
	l.Predicted = &splitrun.Parts{TotalMS: pred.TotalMS, EdgeMS: pred.EdgeMS, NetworkMS: pred.NetworkMS, ServerMS: pred.ServerMS}
	if v := a.Timing.EdgeIdleMS; v >= 0 {
		l.EdgeIdleMS = &v
	}
	if v := a.Timing.ServerIdleMS; v >= 0 {
		l.ServerIdleMS = &v
	}
	l.EdgeWarmMS, l.ServerWarmMS = a.Timing.EdgeWarmMS, a.Timing.ServerWarmMS
	if c := a.Timing.Choice; c != nil && !a.Fallback {
		row := c.Row
		l.Row, l.EstimateMbps, l.Cut = &row, c.EstimateMbps, p.SwitchTable[row].Cut
		if !choice[row] {
			l.Predicted = nil
		}
	}
	l.Tasks = map[string]taskAnswer{}
	for t, h := range heads {
		l.Tasks[h.Task] = taskAnswer{Class: argmax(a.Timing.Logits[t]), Logits: a.Timing.Logits[t]}
	}
	if cols != nil {
		l.Labels = map[string]int{}
		for t, h := range heads {
			l.Labels[h.Task] = it.Labels[cols[t]]
		}
	}
	return l
}

// argmax is the first index of the largest value (-1 for none).
func argmax(v []float32) int {
	best := -1
	for i, x := range v {
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}

// nearestRank is the q-quantile of v by the nearest-rank method (0 when
// v is empty).
func nearestRank(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// printDataSummary is the summary people read.
func printDataSummary(w io.Writer, d *splitrun.Deployment, opts *DeployOptions, s dataSummary) error {
	fmt.Fprintf(w, "%s: cut after %s, %s, server %s; %d inputs on %d edges: %d answered (%d by the device alone), %d failed\n",
		s.Model, s.Cut, s.Encoding, s.Server, s.Inputs, s.Concurrency, s.Answered, s.Fallbacks, s.Failed)
	fmt.Fprintf(w, "total latency p50 %s ms, p95 %s ms, p99 %s ms; %.2f inputs/s over %.2f s\n", ms(s.TotalP50MS), ms(s.TotalP95MS), ms(s.TotalP99MS), s.PerSecond, s.WallS)
	if s.Fallbacks > 0 {
		fmt.Fprintf(w, "the device answered %d inputs alone (fallback, the plan's local-only baseline), the first because %s\n", s.Fallbacks, s.FallbackReason)
	}
	fmt.Fprintln(w)
	if s.Split.N > 0 {
		fmt.Fprintf(w, "the %d inputs the split answered, medians:\n", s.Split.N)
		if err := writeTable(w, []string{"", "MEASURED ms", "PREDICTED ms", "ERROR"}, stageRows(s.Split)); err != nil {
			return err
		}
		fmt.Fprintf(w, "the plan predicted for edge %s and server %s\n", d.Plan.Tiers[0].Device, d.Plan.Uplink().Device)
	}
	if err := printAdaptive(w, s.Adaptive); err != nil {
		return err
	}
	if len(s.Accuracy) > 0 {
		fmt.Fprintln(w)
		var rows [][]string
		for _, a := range s.Accuracy {
			lo, hi := a.CILow, a.CIHigh
			rows = append(rows, []string{a.Task, a.Column, fmt.Sprintf("%d/%d", a.Correct, a.N), pct(a.Accuracy, &lo, &hi)})
		}
		if err := writeTable(w, []string{"TASK", "LABEL COLUMN", "CORRECT", "ACCURACY [95% Wilson CI]"}, rows); err != nil {
			return err
		}
	}
	return nil
}

// stageRows sets each part of a summary's medians against the plan.
func stageRows(s splitrun.Summary) [][]string {
	pct := func(m, p float64) string {
		if p == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.0f%%", 100*(m-p)/p)
	}
	return [][]string{
		{"total", ms(s.Measured.TotalMS), ms(s.Predicted.TotalMS), pct(s.Measured.TotalMS, s.Predicted.TotalMS)},
		{"edge", ms(s.Measured.EdgeMS), ms(s.Predicted.EdgeMS), pct(s.Measured.EdgeMS, s.Predicted.EdgeMS)},
		{"network", ms(s.Measured.NetworkMS), ms(s.Predicted.NetworkMS), pct(s.Measured.NetworkMS, s.Predicted.NetworkMS)},
		{"server", ms(s.Measured.ServerMS), ms(s.Predicted.ServerMS), pct(s.Measured.ServerMS, s.Predicted.ServerMS)},
		{"bytes", fmt.Sprint(s.Bytes), fmt.Sprint(s.PredictedBytes), pct(float64(s.Bytes), float64(s.PredictedBytes))},
	}
}
