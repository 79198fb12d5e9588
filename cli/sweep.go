package cli

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
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
			"breakpoints are exact, not sampled. With --stack, the edge latency is that stack's prediction\n" +
			"with an expected error e: each segment gets a band (its edge ms × (1 ± e)) in the table,\n" +
			"the JSON and CSV, and the plot shades it around the optimum.",
		Example: "  mtlsplit sweep resnet18 --device jetson-nano --server h100 --plot sweep.png\n" +
			"  mtlsplit sweep resnet18 --device rpi4 --stack ncnn --server h100 --plot band.png\n" +
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
	Model           string         `json:"model"`
	Edge            string         `json:"edge"`
	Server          string         `json:"server"`
	Network         string         `json:"network"`
	Objective       string         `json:"objective"`
	FromMbps        float64        `json:"from_mbps"`
	ToMbps          float64        `json:"to_mbps"`
	Segments        []sweepSegment `json:"segments"`
	BreakpointsMbps []float64      `json:"breakpoints_mbps"`
	Solver          string         `json:"solver"`
	Solves          int            `json:"solves"`
	Notes           []string       `json:"notes,omitempty"`
}

// sweepSegment is a row of the switch table, with its latency band when
// the edge device's latency is predicted for a stack.
type sweepSegment struct {
	plan.Switch
	Band *latencyBand `json:"latency_band,omitempty"`
}

// latencyBand is where a segment's latency is expected to lie when the
// edge compute is a stack's prediction with a known error: the edge part
// scaled by 1 ± the error, the network and server parts as predicted. It
// shifts the whole latency, as edge compute is on every task's path.
type latencyBand struct {
	Stack            string  `json:"stack"`
	ExpectedErrorPct float64 `json:"expected_error_pct"`
	EdgeMS           float64 `json:"edge_ms"`
	PlusMinusMS      float64 `json:"plus_minus_ms"`
	LowerFrom        float64 `json:"lower_from"`
	UpperFrom        float64 `json:"upper_from"`
	LowerTo          float64 `json:"lower_to"`
	UpperTo          float64 `json:"upper_to"`
}

// sweepBands is each segment's latency band (nil for an infeasible one),
// or nil when the edge tier has no expected error or the objective is not
// latency (then a note says why there is none).
func sweepBands(p *optimizer.Problem, segs []optimizer.Segment) ([]*latencyBand, []string, error) {
	edge := p.Tiers[0]
	if !(edge.ExpectedErrorPct > 0) {
		return nil, nil, nil
	}
	if p.Objective != optimizer.Latency {
		return nil, []string{fmt.Sprintf("--stack %s: its ±%.0f%% band is on latency; none for the %s objective", edge.Stack, edge.ExpectedErrorPct, p.Objective)}, nil
	}
	e := edge.ExpectedErrorPct / 100
	bands := make([]*latencyBand, len(segs))
	for i, s := range segs {
		if !s.Feasible {
			continue
		}
		// Edge compute does not depend on the uplink: one evaluation serves
		// the whole segment.
		ev, err := p.Evaluate(s.Placement, s.FromMbps)
		if err != nil {
			return nil, nil, internal(fmt.Errorf("segment %g–%g Mbps: %w", s.FromMbps, s.ToMbps, err))
		}
		pm := e * ev.Cost.EdgeMS
		bands[i] = &latencyBand{Stack: edge.Stack, ExpectedErrorPct: edge.ExpectedErrorPct, EdgeMS: ev.Cost.EdgeMS, PlusMinusMS: pm,
			LowerFrom: s.ObjectiveFrom - pm, UpperFrom: s.ObjectiveFrom + pm, LowerTo: s.ObjectiveTo - pm, UpperTo: s.ObjectiveTo + pm}
	}
	return bands, nil, nil
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
	bands, notes, err := sweepBands(p, segs)
	if err != nil {
		return err
	}
	out.Notes = append(out.Notes, notes...)
	for i, s := range segs {
		row := sweepSegment{Switch: p.Switch(s)}
		if bands != nil {
			row.Band = bands[i]
		}
		out.Segments = append(out.Segments, row)
		if i > 0 {
			out.BreakpointsMbps = append(out.BreakpointsMbps, s.FromMbps)
		}
	}
	if opts.Plot != "" {
		if err := plotSweep(opts, p, segs, bands, out.BreakpointsMbps); err != nil {
			return err
		}
	}
	switch opts.Format {
	case "json":
		return writeJSON(opts.IO.Out, out)
	case "csv":
		var rows [][]string
		for _, s := range out.Segments {
			row := []string{fmt.Sprint(s.FromMbps), fmt.Sprint(s.ToMbps), fmt.Sprint(s.Feasible), s.Cut, s.Encoding,
				headsString(s.Heads), fmt.Sprint(s.ObjectiveFrom), fmt.Sprint(s.ObjectiveTo)}
			if bands != nil {
				row = append(row, "", "")
				if s.Band != nil {
					row[len(row)-2], row[len(row)-1] = fmt.Sprint(s.Band.EdgeMS), fmt.Sprint(s.Band.PlusMinusMS)
				}
			}
			rows = append(rows, row)
		}
		header := []string{"from_mbps", "to_mbps", "feasible", "cut", "encoding", "heads", "objective_from", "objective_to"}
		if bands != nil {
			header = append(header, "edge_ms", "plus_minus_ms")
		}
		return writeCSV(opts.IO.Out, header, rows)
	}
	w := opts.IO.Out
	edge := out.Edge
	if bands != nil {
		edge = fmt.Sprintf("%s (%s, ±%.0f%%)", edge, p.Tiers[0].Stack, p.Tiers[0].ExpectedErrorPct)
	}
	fmt.Fprintf(w, "%s: edge %s, server %s, network %s, objective %s, uplink %s – %s Mbps: %d segments (%s, %d solve(s))\n\n",
		out.Model, edge, out.Server, out.Network, out.Objective, mbps(opts.FromMbps), mbps(opts.ToMbps), len(segs), out.Solver, sw.Solves)
	unit := objectiveUnit(p.Objective)
	var rows [][]string
	for _, s := range out.Segments {
		choice := "infeasible"
		if s.Feasible {
			choice = describeChoice(s.Cut, s.Encoding, s.Heads, -1)
		}
		row := []string{mbps(s.FromMbps), mbps(s.ToMbps), fmt.Sprintf("%.4g – %.4g", s.ObjectiveFrom, s.ObjectiveTo), choice}
		if bands != nil {
			band := "-"
			if s.Band != nil {
				band = fmt.Sprintf("%.4g ± %.3g", s.Band.EdgeMS, s.Band.PlusMinusMS)
			}
			row = slices.Insert(row, 3, band)
		}
		rows = append(rows, row)
	}
	header := []string{"FROM Mbps", "TO Mbps", strings.ToUpper(string(p.Objective)) + " " + unit, "OPTIMAL CHOICE"}
	if bands != nil {
		header = slices.Insert(header, 3, "EDGE ms ± ERR")
	}
	if err := writeTable(w, header, rows); err != nil {
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
// With bands, the optimum is shaded between its lower and upper latency.
func plotSweep(opts *SweepOptions, p *optimizer.Problem, segs []optimizer.Segment, bands []*latencyBand, breaks []float64) error {
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
		y, lo, hi := math.NaN(), math.NaN(), math.NaN()
		for i, s := range segs {
			if s.FromMbps <= x && x <= s.ToMbps {
				y = s.ObjectiveAt(x)
				if bands != nil && bands[i] != nil {
					lo, hi = y-bands[i].PlusMinusMS, y+bands[i].PlusMinusMS
				}
				break
			}
		}
		opt.X, opt.Y = append(opt.X, x), append(opt.Y, y)
		if bands != nil {
			opt.Lower, opt.Upper = append(opt.Lower, lo), append(opt.Upper, hi)
		}
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
