package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/plan"
)

// PlanOptions are the options of "mtlsplit plan".
type PlanOptions struct {
	IO *IO
	ProblemOptions
	Format    string
	Out       string
	ExportLP  string
	ExportMPS string
	Force     bool
	Seed      uint64
}

// NewCmdPlan finds the optimal split and prints or writes the plan.
func NewCmdPlan(io *IO) *cobra.Command {
	opts := &PlanOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "plan MODEL",
		Short: "Find the optimal split and write the deployment plan",
		Example: "  mtlsplit plan resnet18 --device jetson-nano --server h100 --network 4g\n" +
			"  mtlsplit plan mobilenet_v3_small --tasks 10,5,2 --encodings fp32,fp16,int8 --uplink-mbps 2 -o json\n" +
			"  mtlsplit plan vgg16 --objective energy --deadline-ms 200 --out plan.yaml",
		Args: exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runPlan(opts)
		},
	}
	opts.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|yaml|json")
	cmd.Flags().StringVar(&opts.Out, "out", "", "also write the plan as YAML to this file")
	cmd.Flags().StringVar(&opts.ExportLP, "export-lp", "", "write the integer program as CPLEX LP text (readable by glpsol --lp)")
	cmd.Flags().StringVar(&opts.ExportMPS, "export-mps", "", "write the integer program as free MPS text")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace --out and exported files if they exist")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "seed of the random weights the plan records (a zoo model's; the heads added to a one-output ONNX file), which serve and run use")
	return cmd
}

func runPlan(opts *PlanOptions) error {
	if err := checkFormat(opts.Format, "table", "yaml", "json"); err != nil {
		return err
	}
	if err := checkOutputs(opts.Force, output{"--out", opts.Out}, output{"--export-lp", opts.ExportLP}, output{"--export-mps", opts.ExportMPS}); err != nil {
		return err
	}
	opts.planFile = opts.Out
	p, info, err := opts.problem()
	if err != nil {
		return err
	}
	opts.progress = counter(opts.IO, "MILPs solved")
	method, gr, err := opts.method()
	if err != nil {
		return err
	}
	if err := exportModel(opts, p, gr); err != nil {
		return err
	}
	start := opts.IO.Now()
	r, err := optimizer.Solve(p, nil, method)
	endCounter(opts.IO, opts.progress)
	if err != nil {
		return err
	}
	info.SolveMS = float64(opts.IO.Now().Sub(start).Microseconds()) / 1e3
	info.Granularity = gr
	info.CreatedAt = opts.IO.Now().UTC().Format(time.RFC3339)
	info.Source = seeded(info.Source, opts.Seed)
	if p.Accuracy != nil {
		// The accuracies hold for inputs prepared this way only.
		info.Source.Preprocess = p.Accuracy.Preprocess
	}
	pl := p.Plan(r, info)
	if opts.Out != "" {
		if err := pl.Write(opts.Out, opts.Force); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "wrote %s\n", opts.Out)
	}
	switch opts.Format {
	case "json":
		return writeJSON(opts.IO.Out, pl)
	case "yaml":
		return writeYAML(opts.IO.Out, pl)
	}
	return printPlan(opts.IO.Out, pl)
}

// seeded records the seed where the plan's weights are random: a zoo
// model's (src nil), or the heads added to an ONNX file with one output.
func seeded(src *plan.Source, seed uint64) *plan.Source {
	switch {
	case src == nil:
		return &plan.Source{Kind: plan.SourceZoo, Seed: &seed}
	case len(src.Outputs) == 1:
		src.Seed = &seed
	}
	return src
}

// printPlan is the table people read.
func printPlan(w io.Writer, pl *plan.Plan) error {
	var tasks []string
	for _, t := range pl.Model.Tasks {
		tasks = append(tasks, fmt.Sprintf("%s:%d", t.Name, t.Classes))
	}
	up := pl.Uplink()
	fmt.Fprintf(w, "%s at %d px, tasks %s — edge %s, server %s, network %s (%.4g Mbps up, %.4g ms RTT), objective %s\n\n",
		pl.Model.Name, pl.Model.InputSize, strings.Join(tasks, " "), pl.Tiers[0].Device, up.Device, up.Network,
		up.UplinkMbps, up.RTTMS, pl.Objective)
	if len(pl.Tiers) > 2 {
		var hops []string
		for _, t := range pl.Tiers {
			if t.Network != "" {
				hops = append(hops, "—"+t.Network+"→")
			}
			hops = append(hops, t.Name+" ("+t.Device+")")
		}
		fmt.Fprintf(w, "tiers: %s\n\n", strings.Join(hops, " "))
	}
	c := pl.Choice
	fmt.Fprintf(w, "choice: %s\n", describeChoice(c.Cut, c.Encoding, c.Heads, pl.Predicted.Bytes))
	if len(c.EdgeBlocks) > 0 {
		fmt.Fprintf(w, "  edge runs   %s\n", span(c.EdgeBlocks))
	}
	if len(c.ServerBlocks) > 0 {
		fmt.Fprintf(w, "  server runs %s\n", span(c.ServerBlocks))
	}
	if acc := accuracyLine(pl); acc != "" {
		fmt.Fprintf(w, "  accuracy    %s\n", acc)
	}
	fmt.Fprintln(w)
	header := []string{"", "TOTAL ms", "EDGE ms", "NETWORK ms", "SERVER ms", "BYTES", "ENERGY mJ", "MIN ACC", "CHOICE"}
	row := func(name string, o plan.Option) []string {
		pr := o.Predicted
		note := shortChoice(o.Cut, o.Encoding, o.Heads)
		if !o.Feasible {
			note += " [violates " + o.Violates + "]"
		}
		return []string{name, ms(pr.TotalMS), ms(pr.EdgeMS), ms(pr.NetworkMS), ms(pr.ServerMS), human(float64(pr.Bytes)),
			fmt.Sprintf("%.1f", pr.EdgeEnergyMJ), minAccuracy(pr), note}
	}
	best := plan.Option{Cut: c.Cut, Encoding: c.Encoding, Heads: c.Heads, Feasible: true, Predicted: pl.Predicted}
	b := pl.Baselines
	rows := [][]string{row("optimum", best), row("local-only", b.LocalOnly), row("remote-only", b.RemoteOnly), row("mtl-split", b.MTLSplit)}
	if err := writeTable(w, header, rows); err != nil {
		return err
	}
	if len(pl.Pareto) > 1 {
		fmt.Fprintf(w, "\nPareto set (latency, bytes, lowest task accuracy), %d choices:\n", len(pl.Pareto))
		var prow [][]string
		for _, o := range pl.Pareto {
			prow = append(prow, []string{ms(o.Predicted.TotalMS), human(float64(o.Predicted.Bytes)), minAccuracy(o.Predicted), shortChoice(o.Cut, o.Encoding, o.Heads)})
		}
		if err := writeTable(w, []string{"  TOTAL ms", "BYTES", "MIN ACC", "CHOICE"}, prow); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nspeed-up: %.2fx vs local-only, %.2fx vs remote-only, %.2fx vs MTL-Split's fixed split\n",
		b.LocalOnly.Predicted.TotalMS/pl.Predicted.TotalMS, b.RemoteOnly.Predicted.TotalMS/pl.Predicted.TotalMS,
		b.MTLSplit.Predicted.TotalMS/pl.Predicted.TotalMS)
	fmt.Fprintf(w, "stays optimal for uplink %s – %s Mbps", mbps(pl.ValidUplinkMbps[0]), mbps(pl.ValidUplinkMbps[1]))
	if pl.Below != nil {
		fmt.Fprintf(w, "; below: %s", describeSwitch(*pl.Below))
	}
	if pl.Above != nil {
		fmt.Fprintf(w, "; above: %s", describeSwitch(*pl.Above))
	}
	proven := "proven optimal"
	if !pl.Solver.Optimal {
		proven = "NOT proven optimal (" + pl.Solver.Status + ")"
	}
	fmt.Fprintf(w, "\nsolver %s (%s cuts): %s, objective %.6g, %d solve(s) in %.2f ms; latency edge %s, server %s\n",
		pl.Solver.Name, pl.Solver.Granularity, proven, pl.Solver.Objective, pl.Solver.Solves, pl.Solver.SolveMS, pl.Tiers[0].LatencySource, pl.Uplink().LatencySource)
	if len(pl.CutTensors) > 1 || len(pl.Choice.EdgeLayers) > 0 {
		for _, t := range pl.CutTensors {
			fmt.Fprintf(w, "  sends %s as %s (%s B)\n", t.Name, t.Encoding, human(float64(t.Bytes)))
		}
	}
	for _, n := range pl.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func describeChoice(cut, enc string, heads map[string]string, bytes int64) string {
	var s string
	switch {
	case enc == "none":
		s = "run everything on the edge (after " + cut + ")"
	case cut == "input":
		s = "send the raw image"
	default:
		s = "cut after " + cut + ", send " + enc
	}
	if bytes > 0 {
		s += fmt.Sprintf(" (%s B)", human(float64(bytes)))
	}
	var names []string
	for t := range heads {
		names = append(names, t)
	}
	sort.Strings(names)
	var hs []string
	for _, t := range names {
		hs = append(hs, t+"@"+heads[t])
	}
	return s + "; heads " + strings.Join(hs, " ")
}

// shortChoice is a compact label: "layer3 int8 → heads SE" (E edge,
// S server, in task order).
func shortChoice(cut, enc string, heads map[string]string) string {
	var hs strings.Builder
	for _, t := range sortedKeys(heads) {
		hs.WriteString(strings.ToUpper(heads[t][:1]))
	}
	if enc == "none" {
		return "all on edge"
	}
	return cut + " " + enc + " → heads " + hs.String()
}

func describeSwitch(s plan.Switch) string {
	if !s.Feasible {
		return "infeasible"
	}
	return describeChoice(s.Cut, s.Encoding, s.Heads, -1)
}

func span(blocks []string) string {
	if len(blocks) == 1 {
		return blocks[0]
	}
	return fmt.Sprintf("%s … %s (%d blocks)", blocks[0], blocks[len(blocks)-1], len(blocks))
}

func minAccuracy(pr plan.Predicted) string {
	m := -1.0
	for _, a := range pr.Accuracy {
		if a != nil && (m < 0 || *a < m) {
			m = *a
		}
	}
	if m < 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", m)
}

func ms(v float64) string { return fmt.Sprintf("%.2f", v) }

func mbps(v float64) string { return fmt.Sprintf("%.4g", v) }

// exportModel writes the integer program of p as LP and/or MPS text.
func exportModel(opts *PlanOptions, p *optimizer.Problem, gr optimizer.Granularity) error {
	if opts.ExportLP == "" && opts.ExportMPS == "" {
		return nil
	}
	m, err := optimizer.ILP{Granularity: gr}.Model(p)
	if err != nil {
		return err
	}
	for _, e := range []struct {
		path  string
		write func(io.Writer) error
	}{{opts.ExportLP, m.WriteLP}, {opts.ExportMPS, m.WriteMPS}} {
		if e.path == "" {
			continue
		}
		var buf bytes.Buffer
		if err := e.write(&buf); err != nil {
			return internal(err)
		}
		if err := atomicfile.Write(e.path, buf.Bytes(), opts.Force); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "wrote %s\n", e.path)
	}
	return nil
}

// accuracyLine is each task's measured accuracy with its 95% interval,
// where the plan has them ("" when it has none).
func accuracyLine(pl *plan.Plan) string {
	var parts []string
	for _, t := range pl.Model.Tasks {
		a := pl.Predicted.Accuracy[t.Name]
		if a == nil {
			continue
		}
		part := fmt.Sprintf("%s %.1f%%", t.Name, 100**a)
		if ci, ok := pl.Predicted.AccuracyCI[t.Name]; ok {
			part += fmt.Sprintf(" [%.1f, %.1f]", 100*ci[0], 100*ci[1])
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
