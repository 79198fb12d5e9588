package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/model"
)

// InferOptions are the options of "mtlsplit infer".
type InferOptions struct {
	IO *IO
	EngineOptions
	In, Out, OutDir string
	Force           bool
}

// NewCmdInfer runs a whole network on one input.
func NewCmdInfer(io *IO) *cobra.Command {
	// infer runs the backbone only: a zoo model gets no heads to hold.
	opts := &InferOptions{IO: io, EngineOptions: EngineOptions{Backbone: true}}
	cmd := &cobra.Command{
		Use:   "infer MODEL|FILE.onnx --input x.f32 (--out y.f32 | --out-dir DIR)",
		Short: "Run a whole network on one input with the engine",
		Long: "infer reads raw little-endian float32 values (C order, batch 1, the model's input shape),\n" +
			"runs the network and writes its outputs the same way. Zoo models use seeded random weights\n" +
			"and run their backbone; ONNX files run with their own weights, and a file with several\n" +
			"outputs (one task each) writes one file per task: --out a.f32,b.f32 in the file's output\n" +
			"order, or --out-dir DIR for DIR/<task>.f32.",
		Args: exactArgs(1, "MODEL or FILE.onnx"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runInfer(opts)
		},
	}
	// Here --input is the input file; a zoo model's size is --size.
	opts.addFlags(cmd.Flags(), "size")
	cmd.Flags().StringVar(&opts.In, "input", "", "input file (raw little-endian float32, C order, batch 1)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "output file (raw float32); one per output, comma-separated, for a model with several")
	cmd.Flags().StringVar(&opts.OutDir, "out-dir", "", "directory to write every output to, as <task>.f32 (<output>.f32 for a model without tasks)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace output files that exist")
	return cmd
}

func runInfer(opts *InferOptions) error {
	if opts.In == "" || (opts.Out == "") == (opts.OutDir == "") {
		return fmt.Errorf("infer needs --input FILE and either --out FILE or --out-dir DIR")
	}
	if opts.Out != "" {
		// Refused before the network is built when it can be.
		if err := checkOutputs(opts.Force, outFiles(opts.Out)...); err != nil {
			return err
		}
	}
	p, err := opts.program()
	if err != nil {
		return err
	}
	defer p.Close()
	g := p.Graph()
	names, shapes := inferOutputs(g)
	files, err := opts.files(g, names)
	if err != nil {
		return err
	}
	in, err := readF32(opts.In, p.CutShape(0).Elems())
	if err != nil {
		return err
	}
	var outs [][]float32
	if len(g.Heads) == 0 {
		out, err := p.Run(in)
		if err != nil {
			return internal(err)
		}
		outs = [][]float32{out}
	} else if _, outs, err = p.RunAll(in); err != nil {
		return internal(err)
	}
	for i, f := range files {
		if err := atomicfile.Write(f.path, f32Bytes(outs[i]), opts.Force); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "wrote %s: %s %v float32\n", f.path, names[i], shapes[i])
	}
	return nil
}

// inferOutputs names the network's outputs and gives their shapes: one per
// task head, or the backbone's output ("output") when there are none.
func inferOutputs(g *model.Graph) (names []string, shapes []model.Shape) {
	if len(g.Heads) == 0 {
		return []string{"output"}, []model.Shape{g.Nodes[g.Backbone()].OutShape}
	}
	for _, h := range g.Heads {
		names = append(names, h.Task)
		shapes = append(shapes, g.Nodes[h.Output].OutShape)
	}
	return names, shapes
}

// outFiles splits --out into one output per file.
func outFiles(out string) []output {
	var files []output
	for _, f := range strings.Split(out, ",") {
		files = append(files, output{"--out", strings.TrimSpace(f)})
	}
	return files
}

// files are the files infer writes, one per output, checked before the run.
func (opts *InferOptions) files(g *model.Graph, names []string) ([]output, error) {
	if opts.Out != "" {
		files := outFiles(opts.Out)
		if len(files) != len(names) {
			return nil, fmt.Errorf("%s has %d outputs (%s) and --out %q names %d: give one file per output, comma-separated in that order, or --out-dir DIR",
				g.Name, len(names), strings.Join(names, ", "), opts.Out, len(files))
		}
		for _, f := range files {
			if f.path == "" {
				return nil, fmt.Errorf("--out %q has an empty file name", opts.Out)
			}
		}
		return files, nil
	}
	if st, err := os.Stat(opts.OutDir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("--out-dir %s is a file: give a directory to write into", opts.OutDir)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("--out-dir: %w", err)
	}
	var files []output
	for _, n := range names {
		files = append(files, output{"--out-dir", filepath.Join(opts.OutDir, fileName(n)+".f32")})
	}
	// Two task names that make one file name are refused here.
	return files, checkOutputs(opts.Force, files...)
}

// fileName makes a task name safe as a file name: anything but letters,
// digits, '-', '_' and '.' becomes '_', and it never starts with a dot.
func fileName(task string) string {
	b := []byte(task)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		return "_" + string(b)
	}
	return string(b)
}
