package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// InferOptions are the options of "mtlsplit infer".
type InferOptions struct {
	IO *IO
	EngineOptions
	In, Out string
	Force   bool
}

// NewCmdInfer runs a whole network on one input.
func NewCmdInfer(io *IO) *cobra.Command {
	// infer runs the backbone only: a zoo model gets no heads to hold.
	opts := &InferOptions{IO: io, EngineOptions: EngineOptions{Backbone: true}}
	cmd := &cobra.Command{
		Use:   "infer MODEL|FILE.onnx --input x.f32 --out y.f32",
		Short: "Run a whole network on one input with the engine",
		Long: "infer reads raw little-endian float32 values (C order, batch 1, the model's input shape),\n" +
			"runs the backbone and writes its output the same way. Zoo models use seeded random weights;\n" +
			"ONNX files their own.",
		Args: exactArgs(1, "MODEL or FILE.onnx"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runInfer(opts)
		},
	}
	// Here --input is the input file; a zoo model's size is --size.
	opts.addFlags(cmd.Flags(), "size")
	cmd.Flags().StringVar(&opts.In, "input", "", "input file (raw little-endian float32, C order, batch 1)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "output file (raw float32)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace --out if it exists")
	return cmd
}

func runInfer(opts *InferOptions) error {
	if opts.In == "" || opts.Out == "" {
		return fmt.Errorf("infer needs --input FILE and --out FILE")
	}
	if err := checkOutputs(opts.Force, output{"--out", opts.Out}); err != nil {
		return err
	}
	p, err := opts.program()
	if err != nil {
		return err
	}
	defer p.Close()
	in, err := readF32(opts.In, p.CutShape(0).Elems())
	if err != nil {
		return err
	}
	out, err := p.Run(in)
	if err != nil {
		return internal(err)
	}
	if err := atomicfile.Write(opts.Out, f32Bytes(out), opts.Force); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Err, "wrote %s: %v float32\n", opts.Out, p.CutShape(p.Cuts()))
	return nil
}
