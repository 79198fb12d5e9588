package cli

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/profile"
)

// ProfileOptions are the options of "mtlsplit profile".
type ProfileOptions struct {
	IO *IO
	EngineOptions
	Measure      bool
	Reps, Warmup int
	Granularity  string
	Format, Out  string
	Force, Quiet bool
	Fidelity     int
	Encodings    string
	AccuracyOut  string
	// --accuracy: measured accuracy on labelled data (see accuracy.go).
	Accuracy bool
	Data     LabelledOptions
	// Runtime is what --measure times with: the engine, or ONNX Runtime
	// timing the files of an export directory (profileort.go).
	Runtime, ORTLib string
}

// NewCmdProfile measures a network on this machine.
func NewCmdProfile(io *IO) *cobra.Command {
	// Measuring holds every cut tensor of one input besides the program.
	opts := &ProfileOptions{IO: io, EngineOptions: EngineOptions{held: measure.HeldBytes}}
	cmd := &cobra.Command{
		Use:   "profile MODEL|FILE.onnx --measure",
		Short: "Measure every block, head and the whole network on this machine with the engine",
		Long: "profile --measure times every block on its own recorded input, every head and the whole\n" +
			"backbone (warm-up, median, p90), and the real bytes of every cut per encoding. --out writes\n" +
			"the profile in the reference format, for 'plan --profile' and 'calibrate --profile'.",
		Args: exactArgs(1, "MODEL or FILE.onnx"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runProfile(opts)
		},
	}
	opts.addFlags(cmd.Flags(), "input")
	f := cmd.Flags()
	f.BoolVar(&opts.Measure, "measure", false, "run and time the network here")
	f.IntVar(&opts.Reps, "reps", 20, "timed runs per item")
	f.IntVar(&opts.Warmup, "warmup", 5, "untimed runs before timing")
	f.StringVar(&opts.Granularity, "granularity", "block", "block, or layer to also time every layer (layers fused into a conv report under it)")
	f.StringVarP(&opts.Format, "output", "o", "table", "output format: table|json|yaml")
	f.StringVar(&opts.Out, "out", "", "write the measured profile (YAML, reference format)")
	f.StringVar(&opts.Runtime, "backend", "engine", "what --measure times with: engine, or ort (ONNX Runtime) to time the files of an 'mtlsplit export' directory given as MODEL")
	f.StringVar(&opts.ORTLib, "ort-lib", "", "libonnxruntime.so for --backend ort (default: $ORT_LIB, else the one make bench-engine installs)")
	f.BoolVar(&opts.Force, "force", false, "replace --out if it exists")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	f.BoolVar(&opts.Accuracy, "accuracy", false, "measure each task's top-1 accuracy against the labels of --data at every cut and encoding (Wilson 95% intervals), and the cut sizes after zstd over the data")
	f.IntVar(&opts.Fidelity, "fidelity", 0, "fallback without labelled data: on N seeded random inputs, how often each task's prediction survives every cut and encoding (top-1 agreement with fp32, not accuracy)")
	f.StringVar(&opts.Encodings, "encodings", "fp32,fp16,int8,int4", "encodings --accuracy and --fidelity try")
	f.StringVar(&opts.AccuracyOut, "accuracy-out", "", "write the --accuracy (or --fidelity) result as an accuracy table (for plan --accuracy)")
	opts.Data.addFlags(f)
	return cmd
}

type stat struct {
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
}

type profileOutput struct {
	Model     string         `json:"model"`
	Layers    []profileLayer `json:"layers,omitempty"`
	Device    string         `json:"device"`
	Engine    string         `json:"engine"`
	Threads   int            `json:"threads"`
	Blocks    []profileBlock `json:"blocks"`
	Heads     []profileBlock `json:"heads"`
	EndToEnd  stat           `json:"end_to_end_ms"`
	InputCutB int            `json:"input_bytes"`
	// Memory is the engine's plan and the measured peak RSS growth.
	Memory *profile.TableMemory `json:"memory,omitempty"`
}

type profileLayer struct {
	Name      string `json:"name"`
	Op        string `json:"op"`
	LatencyMS stat   `json:"latency_ms"`
	FusedInto string `json:"fused_into,omitempty"`
}

type profileBlock struct {
	Name      string         `json:"name"`
	LatencyMS stat           `json:"latency_ms"`
	CutBytes  map[string]int `json:"cut_bytes,omitempty"`
}

func runProfile(opts *ProfileOptions) error {
	if err := checkFormat(opts.Format, "table", "json", "yaml"); err != nil {
		return err
	}
	if opts.Runtime != "engine" {
		return runProfileORT(opts)
	}
	if !opts.Measure && opts.Fidelity == 0 && !opts.Accuracy {
		return fmt.Errorf("profile needs --measure, --accuracy --data DIR or --fidelity N (predicted profiles come from the catalog: see 'mtlsplit hw')")
	}
	if opts.Accuracy && opts.Fidelity != 0 {
		return fmt.Errorf("--accuracy and --fidelity both write accuracy tables: give one (--fidelity is the fallback without labelled data)")
	}
	if opts.Fidelity < 0 || (opts.AccuracyOut != "" && opts.Fidelity == 0 && !opts.Accuracy) {
		return fmt.Errorf("--fidelity N needs N ≥ 1 (and --accuracy-out needs --accuracy or --fidelity)")
	}
	if err := opts.Data.check(opts.Accuracy); err != nil {
		return err
	}
	if opts.Out != "" && !opts.Measure {
		return fmt.Errorf("--out writes the measured profile: it needs --measure")
	}
	if err := checkOutputs(opts.Force, output{"--out", opts.Out}, output{"--accuracy-out", opts.AccuracyOut}); err != nil {
		return err
	}
	if opts.Granularity != "block" && opts.Granularity != "layer" {
		return fmt.Errorf("--granularity %q: want block or layer", opts.Granularity)
	}
	var sizes []profile.CutSize // the data set's cut sizes, for --measure
	if opts.Accuracy {
		tab, err := runAccuracy(opts)
		if err != nil {
			return err
		}
		sizes = tab.Sizes
	}
	if opts.Fidelity > 0 {
		if err := runFidelity(opts); err != nil {
			return err
		}
	}
	if !opts.Measure {
		return nil
	}
	if opts.Reps < 1 || opts.Warmup < 0 {
		return fmt.Errorf("--reps must be ≥ 1 and --warmup ≥ 0")
	}
	// Several zoo models may be measured into one profile (for calibrate).
	var outs []profileOutput
	var table *profile.Table
	for _, name := range strings.Split(opts.Model, ",") {
		one := *opts
		one.Model = strings.TrimSpace(name)
		out, res, err := measureOne(&one)
		if err != nil {
			return err
		}
		useDataSizes(&out, res, sizes)
		outs = append(outs, out)
		if table == nil {
			table = res.Table
		} else {
			maps.Copy(table.Backbones, res.Table.Backbones)
		}
	}
	if opts.Out != "" {
		if err := saveYAML(opts.IO, opts.Out, table, opts.Force); err != nil {
			return err
		}
	}
	switch opts.Format {
	case "json":
		if len(outs) == 1 {
			return writeJSON(opts.IO.Out, outs[0])
		}
		return writeJSON(opts.IO.Out, outs)
	case "yaml":
		return writeYAML(opts.IO.Out, table)
	}
	for i, out := range outs {
		if i > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		if err := printProfile(opts, out); err != nil {
			return err
		}
	}
	return nil
}

// measureOne compiles and times one network.
func measureOne(opts *ProfileOptions) (profileOutput, *measure.Result, error) {
	// The peak spans the weights, compiling and every run.
	peak := measure.StartPeakRSS()
	p, err := opts.program()
	if err != nil {
		return profileOutput{}, nil, err
	}
	defer p.Close()
	rng := rand.New(rand.NewPCG(opts.Seed, 7))
	in := make([]float32, p.CutShape(0).Elems())
	for i := range in {
		in[i] = float32(rng.NormFloat64())
	}
	res, err := measure.Run(p, in, measure.Settings{Reps: opts.Reps, Warmup: opts.Warmup, Layers: opts.Granularity == "layer", Progress: progress(opts.IO, opts.Quiet, "profile "+opts.Model)})
	if err != nil {
		return profileOutput{}, nil, internal(err)
	}
	g := p.Graph()
	tb := res.Table.Backbones[g.Name]
	if tb.Memory, err = measure.PlannedMemory(p); err != nil {
		return profileOutput{}, nil, internal(err)
	}
	if n, ok := peak.Growth(); ok {
		b := profile.Bytes(n)
		tb.Memory.PeakRSSGrowthBytes = &b
	}
	res.Table.Backbones[g.Name] = tb
	out := profileOutput{Model: g.Name, Device: res.Table.Meta.DeviceName, Engine: res.Table.Meta.Engine, Threads: res.Table.Meta.Threads,
		EndToEnd: stat{tb.Latency.EndToEnd.MedianMS, tb.Latency.EndToEnd.P90MS}, InputCutB: res.CutBytes[0][codec.FP32] / 4,
		Memory: tb.Memory}
	for i, b := range tb.Blocks {
		cut := map[string]int{}
		for e, n := range res.CutBytes[i+1] {
			cut[string(e)] = n
		}
		out.Blocks = append(out.Blocks, profileBlock{Name: b.Name, LatencyMS: stat{b.Latency.MedianMS, b.Latency.P90MS}, CutBytes: cut})
	}
	for _, l := range tb.Layers {
		out.Layers = append(out.Layers, profileLayer{Name: l.Name, Op: l.Op, LatencyMS: stat{l.Latency.MedianMS, l.Latency.P90MS}, FusedInto: l.FusedInto})
	}
	for t, h := range tb.Heads {
		out.Heads = append(out.Heads, profileBlock{Name: g.Heads[t].Task, LatencyMS: stat{h.Latency.MedianMS, h.Latency.P90MS}})
	}
	return out, res, nil
}

// printProfile is the table people read.
func printProfile(opts *ProfileOptions, out profileOutput) error {
	w := opts.IO.Out
	fmt.Fprintf(w, "%s on %s (%s, %d threads), %d reps after %d warm-up\n\n", out.Model, out.Device, out.Engine, out.Threads, opts.Reps, opts.Warmup)
	var rows [][]string
	var sum float64
	for _, b := range out.Blocks {
		sum += b.LatencyMS.Median
		rows = append(rows, []string{b.Name, fmt.Sprintf("%.3f", b.LatencyMS.Median), fmt.Sprintf("%.3f", b.LatencyMS.P90),
			human(float64(b.CutBytes["fp32"])), human(float64(b.CutBytes["int8"])), human(float64(b.CutBytes["int8+zstd"]))})
	}
	for _, h := range out.Heads {
		rows = append(rows, []string{h.Name + " (head)", fmt.Sprintf("%.3f", h.LatencyMS.Median), fmt.Sprintf("%.3f", h.LatencyMS.P90), "", "", ""})
	}
	if err := writeTable(w, []string{"BLOCK", "MEDIAN ms", "P90 ms", "CUT FP32 B", "CUT INT8 B", "INT8+ZSTD B"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nend to end: median %.3f ms, p90 %.3f ms (blocks add to %.3f ms)\n", out.EndToEnd.Median, out.EndToEnd.P90, sum)
	if m := out.Memory; m != nil {
		fmt.Fprintf(w, "memory planned: %s (params %s, weights %s, activations %s, scratch %s)", engine.HumanBytes(int64(m.TotalBytes)),
			engine.HumanBytes(int64(m.ParamsBytes)), engine.HumanBytes(int64(m.WeightsBytes)), engine.HumanBytes(int64(m.ActivationsBytes)), engine.HumanBytes(int64(m.ScratchBytes)))
		if m.PeakRSSGrowthBytes != nil {
			fmt.Fprintf(w, "; measured peak RSS growth %s", engine.HumanBytes(int64(*m.PeakRSSGrowthBytes)))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// runFidelity measures top-1 agreement per cut and encoding and prints or
// writes it as an accuracy table.
func runFidelity(opts *ProfileOptions) error {
	encs, err := parseEncodings(opts.Encodings)
	if err != nil {
		return err
	}
	p, err := opts.program()
	if err != nil {
		return err
	}
	defer p.Close()
	rng := rand.New(rand.NewPCG(opts.Seed, 11))
	input := func(_ int, x []float32) { // called in order: one seeded stream
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
	}
	tab, constant, err := measure.Fidelity(p, opts.Fidelity, input, encs, progress(opts.IO, opts.Quiet, "fidelity"))
	if err != nil {
		return internal(err)
	}
	if len(constant) > 0 {
		fmt.Fprintf(opts.IO.Err, "warning: fidelity: the fp32 prediction of %s was the same class on all %d inputs, so agreement proves nothing there; measure accuracy on labelled data with --accuracy --data DIR\n",
			strings.Join(constant, ", "), opts.Fidelity)
	}
	if opts.AccuracyOut != "" {
		return saveYAML(opts.IO, opts.AccuracyOut, tab, opts.Force)
	}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, tab.Entries)
	}
	var rows [][]string
	for _, e := range tab.Entries {
		rows = append(rows, []string{e.Cut, string(e.Encoding), e.Task, fmt.Sprintf("%.3f", e.Accuracy)})
	}
	fmt.Fprintf(opts.IO.Out, "%s: top-1 agreement with fp32 over %d random inputs (not accuracy: see --accuracy)\n\n", p.Graph().Name, opts.Fidelity)
	return writeTable(opts.IO.Out, []string{"CUT", "ENCODING", "TASK", "AGREEMENT"}, rows)
}
