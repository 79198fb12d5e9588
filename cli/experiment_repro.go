package cli

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mtlsplit/mtlsplit/experiments"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/profile"
)

// ReproOptions are the options of the paper-reproduction experiments
// (stl-vs-mtl, accuracy-bytes, bandwidth, dads, all).
type ReproOptions struct {
	IO                 *IO
	Out, Cache, Recipe string
	Backbones, Seeds   string
	TrainN, TestN      int
	HoldoutN, AccN     int
	Epochs, Size       int
	LR                 float64
	Force, Quiet       bool
}

// reproStages are the experiments, in the order all runs them.
var reproStages = []string{"stl-vs-mtl", "accuracy-bytes", "bandwidth", "dads"}

// addReproCommands registers the reproduction experiments under cmd.
func addReproCommands(cmd *cobra.Command, io *IO) {
	short := map[string]string{
		"stl-vs-mtl":     "Train STL and MTL models per backbone and compare per-task accuracy (OOD split and in-distribution)",
		"accuracy-bytes": "Per-task accuracy of the trained MTL models against bytes sent, every cut × encoding, with the Pareto front",
		"bandwidth":      "The accuracy-aware planner against local-only, remote-only and MTL-Split's cut across 0.1-1000 Mbps",
		"dads":           "ResNet18 on a Raspberry Pi 3 and an 8-core server over CAT1/3G/4G/WiFi, next to DADS's published figures",
		"all":            "Every experiment above, with one progress display (make reproduce)",
	}
	for _, name := range append(append([]string(nil), reproStages...), "all") {
		opts := &ReproOptions{IO: io}
		sc := &cobra.Command{
			Use:   name,
			Short: short[name],
			Long: short[name] + ".\nWrites CSV, PNG and SVG into OUT/" + name + "/ (all: one directory per experiment) and the experiment's\n" +
				"section of OUT/README.md. Trained models, rendered scenes and accuracy tables are cached in --cache and reused\n" +
				"when the recipe is the same. --recipe reduced is what make reproduce runs; --recipe paper is MTL-Split's protocol.",
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error { return runRepro(opts, name) },
		}
		f := sc.Flags()
		f.StringVar(&opts.Out, "out", "results", "results directory: files go to OUT/"+name+"/, the summary to OUT/README.md")
		f.StringVar(&opts.Cache, "cache", "results/out/repro", "directory for trained models, rendered scenes and accuracy tables")
		f.StringVar(&opts.Recipe, "recipe", "reduced", "reduced (make reproduce) | paper (MTL-Split's protocol, make reproduce-full)")
		f.StringVar(&opts.Backbones, "backbones", "", "override the recipe's backbones, comma-separated")
		f.StringVar(&opts.Seeds, "seeds", "", "override the recipe's seeds, comma-separated")
		f.IntVar(&opts.TrainN, "n", 0, "override the training scenes per seed")
		f.IntVar(&opts.TestN, "test-n", 0, "override the OOD test scenes")
		f.IntVar(&opts.HoldoutN, "holdout-n", 0, "override the in-distribution hold-out scenes")
		f.IntVar(&opts.AccN, "accuracy-n", 0, "override the test scenes scored at every cut × encoding")
		f.IntVar(&opts.Epochs, "epochs", 0, "override the epochs")
		f.IntVar(&opts.Size, "size", 0, "override the image side in pixels")
		f.Float64Var(&opts.LR, "lr", 0, "override the initial learning rate")
		f.BoolVar(&opts.Force, "force", false, "replace result files that exist")
		f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress display")
		cmd.AddCommand(sc)
	}
}

// recipe is the chosen recipe with the flags' overrides.
func (o *ReproOptions) recipe() (experiments.Recipe, error) {
	var r experiments.Recipe
	switch o.Recipe {
	case "reduced":
		r = experiments.ReducedRecipe()
	case "paper":
		r = experiments.PaperRecipe()
	default:
		return r, fmt.Errorf("--recipe %q: want reduced or paper", o.Recipe)
	}
	if o.Backbones != "" {
		r.Backbones = list(o.Backbones, nil)
	}
	if o.Seeds != "" {
		r.Seeds = nil
		for _, s := range strings.Split(o.Seeds, ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return r, fmt.Errorf("--seeds %q: want comma-separated non-negative integers", o.Seeds)
			}
			r.Seeds = append(r.Seeds, v)
		}
	}
	for _, ov := range []struct {
		v   int
		dst *int
	}{{o.TrainN, &r.TrainN}, {o.TestN, &r.TestN}, {o.HoldoutN, &r.HoldoutN}, {o.AccN, &r.AccuracyN}, {o.Epochs, &r.Epochs}, {o.Size, &r.Size}} {
		if ov.v < 0 {
			return r, fmt.Errorf("negative sizes are not allowed (got %d)", ov.v)
		}
		if ov.v > 0 {
			*ov.dst = ov.v
		}
	}
	if o.LR < 0 {
		return r, fmt.Errorf("--lr %g must be positive", o.LR)
	}
	if o.LR > 0 {
		r.LR = o.LR
	}
	if r.AccuracyN > r.TestN {
		r.AccuracyN = r.TestN
	}
	return r, r.Validate()
}

func runRepro(opts *ReproOptions, name string) error {
	r, err := opts.recipe()
	if err != nil {
		return err
	}
	cat, err := hwprofiles.Default()
	if err != nil {
		return internal(err)
	}
	now := opts.IO.Now
	if now == nil {
		now = time.Now
	}
	stages := []string{name}
	if name == "all" {
		stages = reproStages
	}
	lab := &experiments.Lab{Recipe: r, Dir: opts.Cache, Progress: &experiments.Progress{Draw: progressLine(opts.IO, opts.Quiet)}}
	lab.Progress.Total = reproWork(lab, stages)
	host := fmt.Sprintf("%s (%d CPUs)", measure.CPUName(), runtime.NumCPU())
	timings := map[string]float64{}
	start := now()
	var runs, mtl []*experiments.Run
	var tabs []*profile.AccuracyTable
	var written []string
	for _, st := range stages {
		t0 := now()
		var paths []string
		switch st {
		case "stl-vs-mtl":
			if runs, err = lab.Runs(); err == nil {
				paths, err = experiments.WriteSTLvsMTL(opts.Out, runs, r, host, now().Sub(t0).Seconds(), opts.Force)
			}
		case "accuracy-bytes", "bandwidth":
			if mtl, tabs, err = mtlTables(lab, mtl, tabs); err != nil {
				break
			}
			if st == "accuracy-bytes" {
				paths, err = experiments.WriteAccuracyBytes(opts.Out, experiments.AccuracyBytes(mtl, tabs), r, host, now().Sub(t0).Seconds(), opts.Force)
				break
			}
			lab.Progress.Begin("bandwidth sweep")
			bw := experiments.DefaultBandwidth()
			var rows []experiments.BandwidthRow
			if rows, err = bw.Run(cat, mtl, tabs); err == nil {
				paths, err = experiments.WriteBandwidth(opts.Out, bw, rows, r, opts.Force)
			}
		case "dads":
			lab.Progress.Begin("dads")
			paths, err = runDADS(cat, opts.Out, opts.Force)
		}
		if err != nil {
			return err
		}
		timings[st] = now().Sub(t0).Seconds()
		written = append(written, paths...)
	}
	lab.Progress.Begin("done")
	// Listed at the end, so that they do not break the progress line.
	for _, p := range written {
		fmt.Fprintf(opts.IO.Out, "wrote %s\n", p)
	}
	if name == "all" {
		if err := experiments.UpdateReadme(opts.Out, "reproduce", experiments.ReproduceSection(r, host, now().Sub(start).Seconds(), timings, lab.Progress)); err != nil {
			return err
		}
	}
	fmt.Fprintf(opts.IO.Out, "%s took %.1f min; summary in %s/README.md\n", name, now().Sub(start).Minutes(), opts.Out)
	return nil
}

// mtlTables trains (or reads) the MTL models and measures their accuracy
// tables once for both experiments that need them.
func mtlTables(lab *experiments.Lab, mtl []*experiments.Run, tabs []*profile.AccuracyTable) ([]*experiments.Run, []*profile.AccuracyTable, error) {
	if mtl != nil {
		return mtl, tabs, nil
	}
	mtl, err := lab.MTLRuns()
	if err != nil {
		return nil, nil, err
	}
	for _, run := range mtl {
		lab.Progress.Begin(fmt.Sprintf("accuracy %s seed %d", run.Backbone, run.Seed))
		tab, err := lab.Accuracy(run)
		if err != nil {
			return nil, nil, fmt.Errorf("accuracy of %s seed %d: %w", run.Backbone, run.Seed, err)
		}
		tabs = append(tabs, tab)
	}
	return mtl, tabs, nil
}

func runDADS(cat *hwprofiles.Catalog, out string, force bool) ([]string, error) {
	d := experiments.DefaultDADS()
	rows, err := d.Run(cat)
	if err != nil {
		return nil, err
	}
	cal, err := experiments.CalibratedDADS(cat, d)
	if err != nil {
		return nil, err
	}
	calRows, err := cal.Run(cat)
	if err != nil {
		return nil, err
	}
	return experiments.WriteDADS(out, d, rows, cal, calRows, force)
}

// reproWork is the expected work of the stages (see experiments.Progress).
func reproWork(lab *experiments.Lab, stages []string) float64 {
	var w float64
	acc := false
	for _, st := range stages {
		switch st {
		case "stl-vs-mtl":
			w += lab.TrainWork(false)
		case "accuracy-bytes", "bandwidth":
			if !acc {
				if !slices.Contains(stages, "stl-vs-mtl") {
					w += lab.TrainWork(true)
				}
				w += lab.AccuracyWork()
				acc = true
			}
		}
	}
	return w
}

// progressLine draws the one progress display: stage, bar, percent, ETA;
// nil when stderr is not a terminal or quiet is set.
func progressLine(io *IO, quiet bool) func(p *experiments.Progress) {
	f, ok := io.Err.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	last := time.Time{}
	return func(p *experiments.Progress) {
		if time.Since(last) < 200*time.Millisecond && p.Stage != "done" {
			return
		}
		last = time.Now()
		frac := 0.0
		if p.Total > 0 {
			frac = p.Done / p.Total
		}
		const width = 30
		n := int(width * frac)
		eta := "--"
		if d := p.ETA(); d > 0 {
			eta = d.Round(time.Second).String()
		}
		stage := p.Stage
		if len(stage) > 48 {
			stage = stage[:48]
		}
		fmt.Fprintf(f, "\r\033[K[%s%s] %3.0f%%  %s  elapsed %s  ETA %s", strings.Repeat("#", n), strings.Repeat(" ", width-n), 100*frac,
			stage, p.Elapsed().Round(time.Second), eta)
		if p.Stage == "done" {
			fmt.Fprintln(f)
		}
	}
}
