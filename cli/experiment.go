package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/experiments"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/optimizer"
)

// ExperimentOptions are the options of "mtlsplit experiment scenarios".
type ExperimentOptions struct {
	IO                        *IO
	Models, Devices, Networks string
	Server, Tasks, Encodings  string
	Stack                     string
	Objective, Out            string
	Input                     int
	Force, Quiet              bool
}

// NewCmdExperiment groups the reproducible studies.
func NewCmdExperiment(io *IO) *cobra.Command {
	cmd := &cobra.Command{Use: "experiment", Short: "Run reproducible studies and write CSV, figures and a summary"}
	opts := &ExperimentOptions{IO: io}
	sc := &cobra.Command{
		Use:   "scenarios",
		Short: "Every model × edge device × network: the searched split against MTL-Split's fixed split",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runScenarios(opts) },
	}
	// The defaults are the study the README shows (a test holds them to it).
	d := experiments.DefaultScenarios(nil)
	var tasks, encs []string
	for _, k := range d.Tasks {
		tasks = append(tasks, strconv.Itoa(k))
	}
	for _, e := range d.Encodings {
		encs = append(encs, string(e))
	}
	f := sc.Flags()
	f.StringVar(&opts.Models, "models", "all", "models, comma-separated, or all")
	f.StringVar(&opts.Devices, "devices", "all", "edge devices, comma-separated, or all")
	f.StringVar(&opts.Networks, "networks", "all", "networks, comma-separated, or all")
	f.StringVar(&opts.Server, "server", d.Server, "server id")
	f.StringVar(&opts.Stack, "stack", "", "inference stack every device runs (see 'mtlsplit hw stacks'); with --devices all, the devices that have it")
	f.StringVar(&opts.Tasks, "tasks", strings.Join(tasks, ","), "classes per task head")
	f.IntVar(&opts.Input, "input", d.Input, "square input size in pixels")
	f.StringVar(&opts.Encodings, "encodings", strings.Join(encs, ","), "encodings allowed for the cut tensor")
	f.StringVar(&opts.Objective, "objective", string(d.Objective), "latency|energy|weighted")
	f.StringVar(&opts.Out, "out", "results/out/scenarios", "directory for scenarios.csv, the figures and summary.md")
	f.BoolVar(&opts.Force, "force", false, "replace files that exist")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	cmd.AddCommand(sc, newCmdExperimentAdaptive(io))
	addReproCommands(cmd, io)
	return cmd
}

// studyInputs are what every catalog study starts from: the catalog, and
// the --tasks and --encodings flags parsed.
func studyInputs(tasksFlag, encodingsFlag string) (*hwprofiles.Catalog, []int, []codec.Encoding, error) {
	cat, err := hwprofiles.Default()
	if err != nil {
		return nil, nil, nil, internal(err)
	}
	tasks, err := parseTasks(tasksFlag)
	if err != nil {
		return nil, nil, nil, err
	}
	encs, err := codec.Parse(encodingsFlag)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--encodings: %w", err)
	}
	return cat, tasks, encs, nil
}

func runScenarios(opts *ExperimentOptions) error {
	cat, tasks, encs, err := studyInputs(opts.Tasks, opts.Encodings)
	if err != nil {
		return err
	}
	all := cat.DeviceIDs()
	if opts.Stack != "" && opts.Devices == "all" {
		all = nil
		for _, id := range cat.DeviceIDs() {
			if slices.Contains(cat.StacksOf(id), opts.Stack) {
				all = append(all, id)
			}
		}
		if len(all) == 0 {
			return fmt.Errorf("--stack %q: no device in the catalog runs it (see 'mtlsplit hw stacks')", opts.Stack)
		}
	}
	devices := list(opts.Devices, all)
	if err := checkOutDir(opts.Out, opts.Force, devices); err != nil {
		return err
	}
	s := experiments.Scenarios{
		Models: list(opts.Models, model.Zoo()), Devices: devices,
		Networks: list(opts.Networks, cat.NetworkIDs()), Server: opts.Server, Stack: opts.Stack, Tasks: tasks, Input: opts.Input,
		Encodings: encs, Objective: optimizer.Objective(opts.Objective),
	}
	rows, err := s.Run(cat, progress(opts.IO, opts.Quiet, "scenarios"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return err
	}
	paths, err := experiments.WriteScenarios(opts.Out, rows, opts.Force)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(opts.IO.Out, "wrote %s\n", p)
	}
	summary, err := os.ReadFile(paths[len(paths)-1])
	if err != nil {
		return internal(err)
	}
	fmt.Fprintf(opts.IO.Out, "\n%s", summary)
	return nil
}

// checkOutDir refuses, before hours of solving, an --out that is a file or
// that holds files of an earlier run (without --force); a directory that
// does not exist yet is made.
func checkOutDir(dir string, force bool, devices []string) error {
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return nil
	case !st.IsDir():
		return fmt.Errorf("--out %s is a file: give a directory for scenarios.csv, the figures and summary.md", dir)
	}
	outs := []output{{"--out", filepath.Join(dir, "scenarios.csv")}, {"--out", filepath.Join(dir, "summary.md")}}
	for _, d := range devices {
		for _, ext := range []string{".png", ".svg"} {
			outs = append(outs, output{"--out", filepath.Join(dir, "speedup_"+d+ext)})
		}
	}
	return checkOutputs(force, outs...)
}

func list(s string, all []string) []string {
	if s == "all" {
		return all
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// counter returns a running count on stderr when it is a terminal (for work
// of unknown length), and nil when it is not.
func counter(io *IO, label string) func(n int) {
	f, ok := io.Err.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(n int) { fmt.Fprintf(f, "\r%s: %d", label, n) }
}

// endCounter ends a counter's line, if there was one.
func endCounter(io *IO, c func(int)) {
	if c != nil {
		fmt.Fprintln(io.Err)
	}
}

// progress returns a progress bar on stderr when it is a terminal, and
// nothing (nil) when it is not or quiet is set.
func progress(io *IO, quiet bool, label string) func(done, total int) {
	f, ok := io.Err.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(done, total int) {
		const width = 30
		n := width * done / total
		fmt.Fprintf(f, "\r%s [%s%s] %d/%d", label, strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
		if done == total {
			fmt.Fprintln(f)
		}
	}
}
