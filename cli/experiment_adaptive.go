package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/experiments"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// AdaptiveOptions are the options of "mtlsplit experiment adaptive".
type AdaptiveOptions struct {
	IO                  *IO
	Out, Traces, Combos string
	Tasks, Encodings    string
	Input               int
	DurationS           float64
	Tune, Force, Quiet  bool
}

// DefaultTraces are the real uplink traces the study runs by default, as
// copied into the repository from ../shared/reference/traces.
const DefaultTraces = "linkemu/testdata/*.up"

func newCmdExperimentAdaptive(io *IO) *cobra.Command {
	opts := &AdaptiveOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "adaptive",
		Short: "Trace-driven simulation: an edge following its switch table from its own bandwidth estimate, against fixed plans",
		Long: "adaptive replays real uplink traces (Mahimahi format) in virtual time: requests go back to back,\n" +
			"each uplink transfer crosses the trace's packet schedule, compute times are the cost model's. For\n" +
			"each trace and model × device → server it compares the adaptive edge (estimator + switch table with\n" +
			"hysteresis and dwell) with the best fixed plan in hindsight, the plan for the trace's mean uplink,\n" +
			"local-only and remote-only: mean/p95/p99 latency and switches per minute. It writes adaptive.csv, a\n" +
			"timeline figure per trace (PNG and SVG) and README.md. --tune also runs the policy grid and writes\n" +
			"tuning.csv (the one setting the study uses is the grid's best by the rule in README.md).",
		Example: "  mtlsplit experiment adaptive\n" +
			"  mtlsplit experiment adaptive --trace my-uplink.up --combos resnet18:rpi4:h100 --out /tmp/adaptive",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runAdaptive(opts) },
	}
	var combos []string
	for _, c := range experiments.DefaultCombos {
		combos = append(combos, c.Model+":"+c.Device+":"+c.Server)
	}
	f := cmd.Flags()
	f.StringVar(&opts.Out, "out", "results/adaptive", "directory for adaptive.csv, the figures and README.md")
	f.StringVar(&opts.Traces, "trace", DefaultTraces, "uplink traces (Mahimahi format), comma-separated; globs allowed")
	f.StringVar(&opts.Combos, "combos", strings.Join(combos, ","), "model:device:server choices, comma-separated")
	f.StringVar(&opts.Tasks, "tasks", "8,4", "classes per task head")
	f.IntVar(&opts.Input, "input", 224, "square input size in pixels")
	f.StringVar(&opts.Encodings, "encodings", "fp32,fp16,int8", "encodings allowed for the cut tensor")
	f.Float64Var(&opts.DurationS, "duration", 0, "seconds simulated per trace (0: the trace's length)")
	f.BoolVar(&opts.Tune, "tune", false, "also run the policy grid and write tuning.csv (minutes)")
	f.BoolVar(&opts.Force, "force", false, "replace files that exist")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func runAdaptive(opts *AdaptiveOptions) error {
	cat, tasks, encs, err := studyInputs(opts.Tasks, opts.Encodings)
	if err != nil {
		return err
	}
	if !(opts.DurationS >= 0) {
		return fmt.Errorf("--duration %g: want seconds ≥ 0 (0: the trace's length)", opts.DurationS)
	}
	combos, err := parseCombos(opts.Combos)
	if err != nil {
		return err
	}
	traces, err := loadTraces(opts.Traces)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range traces {
		names = append(names, t.Name)
	}
	files := experiments.AdaptiveFiles(names)
	if opts.Tune {
		files = append(files, "tuning.csv")
	}
	var outs []output
	for _, f := range files {
		outs = append(outs, output{"--out", filepath.Join(opts.Out, f)})
	}
	// A directory that does not exist yet holds nothing to refuse.
	if st, err := os.Stat(opts.Out); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("--out %s is a file: give a directory", opts.Out)
		}
		if err := checkOutputs(opts.Force, outs...); err != nil {
			return err
		}
	}
	a := experiments.DefaultAdaptive(traces)
	a.Combos, a.Tasks, a.Input, a.Encodings = combos, tasks, opts.Input, encs
	a.Duration = time.Duration(opts.DurationS * float64(time.Second))
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return err
	}
	if opts.Tune {
		grid, best, err := experiments.TunePolicy(a, cat, progress(opts.IO, opts.Quiet, "tuning"))
		if err != nil {
			return err
		}
		path := filepath.Join(opts.Out, "tuning.csv")
		if err := atomicfile.Write(path, experiments.TuneCSV(grid), opts.Force); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "wrote %s\n", path)
		if best != experiments.DefaultPolicy {
			fmt.Fprintf(opts.IO.Err, "note: the grid's best setting is now %+v, not the study's %+v: update adapt.DefaultSettings (the runtime's default too)\n", best, experiments.DefaultPolicy)
		}
	}
	rows, lines, err := a.Run(cat, progress(opts.IO, opts.Quiet, "adaptive"))
	if err != nil {
		return err
	}
	paths, err := experiments.WriteAdaptive(opts.Out, a, rows, lines, opts.Force)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(opts.IO.Out, "wrote %s\n", p)
	}
	return nil
}

// parseCombos reads model:device:server triples.
func parseCombos(s string) ([]experiments.Combo, error) {
	var out []experiments.Combo
	for _, f := range strings.Split(s, ",") {
		p := strings.Split(strings.TrimSpace(f), ":")
		if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
			return nil, fmt.Errorf("--combos %q: want model:device:server, e.g. resnet18:rpi4:h100", f)
		}
		out = append(out, experiments.Combo{Model: p[0], Device: p[1], Server: p[2]})
	}
	return out, nil
}

// loadTraces reads every trace the list names (globs expanded, in order).
func loadTraces(list string) ([]experiments.NamedTrace, error) {
	var out []experiments.NamedTrace
	for _, pat := range strings.Split(list, ",") {
		pat = strings.TrimSpace(pat)
		paths, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("--trace %q: %w", pat, err)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("--trace %q: no such file (run from the repository root for the default, or give trace files)", pat)
		}
		for _, p := range paths {
			nt, err := experiments.LoadTrace(p)
			if err != nil {
				return nil, fmt.Errorf("--trace: %w", err)
			}
			out = append(out, nt)
		}
	}
	return out, nil
}
