package cli

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/results"
)

// SweepOptions are the options of "mtlsplit sweep".
type SweepOptions struct {
	IO *IO
	ProblemOptions
	FromMbps, ToMbps float64
	Plot             string
	Format           string
	Force            bool
}

// NewCmdSweep computes the exact switch table over a bandwidth range.
func NewCmdSweep(io *IO) *cobra.Command {
	opts := &SweepOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "sweep MODEL",
		Short: "Find the exact uplink bandwidths at which the optimal split changes",
		Long: "sweep computes the lower envelope of every candidate's cost as a function of the uplink\n" +
			"bandwidth. Each candidate costs a + b/bandwidth (or a maximum of such terms), so the\n" +
			"breakpoints are exact, not sampled.",
		Example: "  mtlsplit sweep resnet18 --device jetson-nano --server h100 --plot sweep.png\n" +
			"  mtlsplit sweep efficientnet_b0 --encodings fp32,fp16,int8,int4 --from 0.1 --to 1000 -o json",
		Args: exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runSweep(opts)
		},
	}
	opts.addFlags(cmd.Flags())
	cmd.Flags().Float64Var(&opts.FromMbps, "from", 0.1, "lowest uplink bandwidth (Mbps)")
	cmd.Flags().Float64Var(&opts.ToMbps, "to", 1000, "highest uplink bandwidth (Mbps)")
	cmd.Flags().StringVar(&opts.Plot, "plot", "", "draw cost vs bandwidth to this file (.png, .svg or .pdf; .png also writes .svg)")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|json|csv")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace plot files that exist")
	return cmd
}

// sweepOutput is the JSON form of a sweep.
type sweepOutput struct {
	Model           string        `json:"model"`
	Edge            string        `json:"edge"`
	Server          string        `json:"server"`
	Network         string        `json:"network"`
	Objective       string        `json:"objective"`
	FromMbps        float64       `json:"from_mbps"`
	ToMbps          float64       `json:"to_mbps"`
	Segments        []plan.Switch `json:"segments"`
	BreakpointsMbps []float64     `json:"breakpoints_mbps"`
	Solver          string        `json:"solver"`
	Solves          int           `json:"solves"`
	Notes           []string      `json:"notes,omitempty"`
}

func runSweep(opts *SweepOptions) error {
	if err := checkFormat(opts.Format, "table", "json", "csv"); err != nil {
		return err
	}
	var plots []output
	for _, path := range plotPaths(opts.Plot) {
		plots = append(plots, output{"--plot", path})
	}
	if err := checkOutputs(opts.Force, plots...); err != nil {
		return err
	}
	p, _, err := opts.problem()
	if err != nil {
		return err
	}
	opts.progress = counter(opts.IO, "MILPs solved")
	method, _, err := opts.method()
	if err != nil {
		return err
	}
	segs, sw, err := optimizer.SweepWith(p, opts.FromMbps, opts.ToMbps, method)
	endCounter(opts.IO, opts.progress)
	if err != nil {
		return err
	}
	out := sweepOutput{Model: p.Graph.Name, Edge: p.Tiers[0].Name, Server: p.Tiers[1].Name, Network: p.Links[0].Name,
		Objective: string(p.Objective), FromMbps: opts.FromMbps, ToMbps: opts.ToMbps, BreakpointsMbps: []float64{},
		Solver: method.Name(), Solves: sw.Solves, Notes: sw.Notes}
	for i, s := range segs {
		out.Segments = append(out.Segments, p.Switch(s))
		if i > 0 {
			out.BreakpointsMbps = append(out.BreakpointsMbps, s.FromMbps)
		}
	}
	if opts.Plot != "" {
		if err := plotSweep(opts, p, segs, out.BreakpointsMbps); err != nil {
			return err
		}
	}
	switch opts.Format {
	case "json":
		return writeJSON(opts.IO.Out, out)
	case "csv":
		var rows [][]string
		for _, s := range out.Segments {
			rows = append(rows, []string{fmt.Sprint(s.FromMbps), fmt.Sprint(s.ToMbps), fmt.Sprint(s.Feasible), s.Cut, s.Encoding,
				headsString(s.Heads), fmt.Sprint(s.ObjectiveFrom), fmt.Sprint(s.ObjectiveTo)})
		}
		return writeCSV(opts.IO.Out, []string{"from_mbps", "to_mbps", "feasible", "cut", "encoding", "heads", "objective_from", "objective_to"}, rows)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s: edge %s, server %s, network %s, objective %s, uplink %s – %s Mbps: %d segments (%s, %d solve(s))\n\n",
		out.Model, out.Edge, out.Server, out.Network, out.Objective, mbps(opts.FromMbps), mbps(opts.ToMbps), len(segs), out.Solver, sw.Solves)
	unit := objectiveUnit(p.Objective)
	var rows [][]string
	for _, s := range out.Segments {
		choice := "infeasible"
		if s.Feasible {
			choice = describeChoice(s.Cut, s.Encoding, s.Heads, -1)
		}
		rows = append(rows, []string{mbps(s.FromMbps), mbps(s.ToMbps), fmt.Sprintf("%.4g – %.4g", s.ObjectiveFrom, s.ObjectiveTo), choice})
	}
	if err := writeTable(w, []string{"FROM Mbps", "TO Mbps", strings.ToUpper(string(p.Objective)) + " " + unit, "OPTIMAL CHOICE"}, rows); err != nil {
		return err
	}
	for _, n := range sw.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func objectiveUnit(o optimizer.Objective) string {
	if o == optimizer.Energy {
		return "mJ"
	}
	return "ms"
}

func headsString(h map[string]string) string {
	var parts []string
	for _, t := range sortedKeys(h) {
		parts = append(parts, t+"="+h[t])
	}
	return strings.Join(parts, " ")
}

// plotSweep draws the optimum and the three baselines against bandwidth,
// breakpoints marked; a .png also gets an .svg beside it.
func plotSweep(opts *SweepOptions, p *optimizer.Problem, segs []optimizer.Segment, breaks []float64) error {
	xs := results.LogSpace(opts.FromMbps, opts.ToMbps, 400)
	xs = append(xs, breaks...)
	sortFloats(xs)
	unit := objectiveUnit(p.Objective)
	opt := results.Series{Name: "optimum (mtlsplit)"}
	local := results.Series{Name: "local-only", Dashed: true}
	remote := results.Series{Name: "remote-only", Dashed: true}
	mtl := results.Series{Name: "MTL-Split (fixed, fp32)", Dashed: true}
	for _, x := range xs {
		b := p.BaselinesAt(x)
		for _, s := range []struct {
			series *results.Series
			e      optimizer.Evaluated
		}{{&local, b.LocalOnly}, {&remote, b.RemoteOnly}, {&mtl, b.MTLSplit}} {
			s.series.X = append(s.series.X, x)
			s.series.Y = append(s.series.Y, feasibleValue(s.e))
		}
		y := math.NaN()
		for _, s := range segs {
			if s.FromMbps <= x && x <= s.ToMbps {
				y = s.ObjectiveAt(x)
				break
			}
		}
		opt.X, opt.Y = append(opt.X, x), append(opt.Y, y)
	}
	fig := results.Figure{
		Title:  fmt.Sprintf("%s: %s → %s, %s vs uplink (%d breakpoints)", p.Graph.Name, p.Tiers[0].Name, p.Tiers[1].Name, p.Objective, len(breaks)),
		XLabel: "uplink bandwidth (Mbps)", YLabel: fmt.Sprintf("%s (%s)", p.Objective, unit),
		LogX: true, LogY: true, Series: []results.Series{opt, local, remote, mtl}, Markers: breaks,
	}
	for _, path := range plotPaths(opts.Plot) {
		if err := fig.Save(path, opts.Force); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "wrote %s\n", path)
	}
	return nil
}

// plotPaths are the files --plot writes: the file, and beside a .png an
// .svg of the same figure.
func plotPaths(plot string) []string {
	if plot == "" {
		return nil
	}
	paths := []string{plot}
	if strings.EqualFold(filepath.Ext(plot), ".png") {
		paths = append(paths, strings.TrimSuffix(plot, filepath.Ext(plot))+".svg")
	}
	return paths
}

// feasibleValue is the objective of a baseline, NaN where it breaks a
// constraint (so the curve has a gap there).
func feasibleValue(e optimizer.Evaluated) float64 {
	if !e.Feasible {
		return math.NaN()
	}
	return e.Cost.Objective
}
