package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/export"
	"github.com/mtlsplit/mtlsplit/plan"
)

// ExportOptions are the options of "mtlsplit export".
type ExportOptions struct {
	Deploy  DeployOptions
	Out     string
	Force   bool
	Check   bool
	Samples int
	// ORTLib is ONNX Runtime's library for --check ("": export.FindORT).
	ORTLib string
}

// NewCmdExport writes a plan's split as ONNX files and a Triton repository.
func NewCmdExport(io *IO) *cobra.Command {
	opts := &ExportOptions{Deploy: DeployOptions{IO: io}}
	cmd := &cobra.Command{
		Use:   "export --plan plan.yaml --out DIR [--check] [--force]",
		Short: "Write a plan's split as edge.onnx, server.onnx, a manifest and a Triton model repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Deploy.seedGiven = cmd.Flags().Changed("seed")
			return runExport(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Deploy.Plan, "plan", "", "deployment plan (YAML)")
	f.StringVar(&opts.Deploy.Model, "model", "", modelFlagHelp)
	f.Uint64Var(&opts.Deploy.Seed, "seed", 1, "seed of the random weights, for a plan that records none")
	f.StringVar(&opts.Out, "out", "", "output directory")
	f.BoolVar(&opts.Force, "force", false, "replace the export's files in an existing --out")
	f.BoolVar(&opts.Check, "check", false, "check on sample inputs that the files chained give the full model's results (engine, and ONNX Runtime when found)")
	f.IntVar(&opts.Samples, "samples", 4, "sample inputs for --check")
	f.StringVar(&opts.ORTLib, "ort-lib", "", "libonnxruntime.so for --check (default: $ORT_LIB, else the one make bench-engine installs)")
	return cmd
}

func runExport(opts *ExportOptions) error {
	if opts.Out == "" {
		return fmt.Errorf("--out DIR is required (where edge.onnx, server.onnx, %s and triton/ go)", export.ManifestFile)
	}
	if opts.Samples < 1 || opts.Samples > 1000 {
		return fmt.Errorf("--samples %d: want 1 to 1000", opts.Samples)
	}
	if err := export.CheckOut(opts.Out, opts.Force); err != nil {
		return err
	}
	if opts.ORTLib != "" {
		if _, err := os.Stat(opts.ORTLib); err != nil {
			return fmt.Errorf("--ort-lib %s: %w (the library ships in the npm package onnxruntime-node; make bench-engine fetches it)", opts.ORTLib, err)
		}
	}
	d, err := opts.Deploy.deployment()
	if err != nil {
		return err
	}
	id := export.Identity{PlanFile: filepath.Base(opts.Deploy.Plan)}
	if id.PlanSHA256, err = plan.FileSHA256(opts.Deploy.Plan); err != nil {
		return err
	}
	if file := d.Plan.File(opts.Deploy.Plan, opts.Deploy.Model); file != "" {
		if id.ModelSHA256, err = plan.FileSHA256(file); err != nil {
			return err
		}
	}
	b, err := export.Build(d, opts.Deploy.Seed, id)
	if err != nil {
		return internal(err)
	}
	w := opts.Deploy.IO.Err
	if opts.Check {
		lib := opts.ORTLib
		if lib == "" {
			lib = export.FindORT()
		}
		rep, err := b.Check(opts.Samples, lib)
		if rep != nil {
			writeCheck(opts.Deploy.IO, rep)
		}
		if errors.Is(err, export.ErrORTLoad) {
			return err
		}
		if err != nil {
			return internal(fmt.Errorf("check: %w", err))
		}
	}
	if err := b.Write(opts.Out, opts.Force); err != nil {
		return err
	}
	for _, p := range b.Paths() {
		fmt.Fprintf(w, "wrote %s (%d bytes)\n", filepath.Join(opts.Out, p), len(b.Files[p]))
	}
	return nil
}

func writeCheck(io *IO, rep *export.CheckReport) {
	w := io.Out
	fmt.Fprintf(w, "check on %d seeded inputs: max |difference| per output (half: the file against the plan's model on the same inputs; end-to-end: files chained with the wire's encodings against the full fp32 model; quantization: the engine's own split)\n", rep.Samples)
	fmt.Fprintf(w, "%-8s %-14s %-28s %12s %12s %12s %10s\n", "RUNTIME", "FILE", "OUTPUT", "HALF", "END-TO-END", "QUANTIZATION", "SCALE")
	row := func(rt string, ds []export.OutputDiff) {
		for _, d := range ds {
			e2e, q := "-", "-"
			if d.Result {
				e2e, q = fmt.Sprintf("%.3g", d.EndToEnd), fmt.Sprintf("%.3g", d.Quantization)
			}
			fmt.Fprintf(w, "%-8s %-14s %-28s %12.3g %12s %12s %10.3g\n", rt, d.File, d.Output, d.Half, e2e, q, d.Scale)
		}
	}
	row("engine", rep.Engine)
	row("ort", rep.ORT)
	if rep.ORT != nil {
		fmt.Fprintf(w, "ort: the %d samples as one batch (as Triton batches them) differ from each alone by at most %.3g\n", rep.Samples, rep.ORTBatchMaxAbs)
	}
	if rep.ORTSkipped != "" {
		fmt.Fprintf(w, "ort: skipped: %s\n", rep.ORTSkipped)
	}
}
