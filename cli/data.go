package cli

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// DataOptions are the options of "mtlsplit data shapes3d".
type DataOptions struct {
	IO           *IO
	Out, Grid    string
	Split        string
	N, Size      int
	All          bool
	Seed         uint64
	Noise        float64
	Force, Quiet bool
}

// NewCmdData groups the data set generators.
func NewCmdData(io *IO) *cobra.Command {
	cmd := &cobra.Command{Use: "data", Short: "Generate labelled data sets (image folders with labels.csv)"}
	opts := &DataOptions{IO: io}
	sh := &cobra.Command{
		Use:   "shapes3d --out DIR (--n N | --all) [--split train|test|all] [--noise P] | --grid FILE",
		Short: "3D-Shapes-like scenes (480,000, six factors) with MTL-Split's out-of-distribution colour split",
		Long: "Renders scenes like DeepMind's 3D Shapes: a room whose floor and walls take one of ten hues each,\n" +
			"one object (cube, cylinder, sphere, capsule) of ten hues at eight scales, seen from fifteen\n" +
			"orientations. The train split holds scenes with floor hue < 5 or wall hue < 5 (360,000), the test\n" +
			"split the rest (120,000), as in MTL-Split. Writes DIR/img/NNNNNN.png (named by scene index) and\n" +
			"DIR/labels.csv (file,floor_hue,wall_hue,object_hue,scale,shape,orientation); --grid draws a sample\n" +
			"sheet: one row per shape, one column per scale.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runShapes3D(opts) },
	}
	f := sh.Flags()
	f.StringVar(&opts.Out, "out", "", "directory to write (built aside and renamed into place)")
	f.IntVar(&opts.N, "n", 0, "scenes drawn from the split without replacement (seeded)")
	f.BoolVar(&opts.All, "all", false, "every scene of the split")
	f.StringVar(&opts.Split, "split", "train", "train|test|all")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of the sample and of the noise")
	f.Float64Var(&opts.Noise, "noise", 0, "salt-and-pepper probability per pixel")
	f.IntVar(&opts.Size, "size", 64, fmt.Sprintf("image side in pixels (%d..%d)", shapes3d.MinSize, shapes3d.MaxSize))
	f.StringVar(&opts.Grid, "grid", "", "also draw a PNG sample sheet to this file")
	f.BoolVar(&opts.Force, "force", false, "replace a directory or file that exists")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	cmd.AddCommand(sh)
	return cmd
}

// check reports the first flag that is wrong or missing.
func (o *DataOptions) check() (shapes3d.Split, error) {
	split, err := shapes3d.ParseSplit(o.Split)
	if err != nil {
		return 0, fmt.Errorf("--split: %w", err)
	}
	if err := shapes3d.CheckNoise(o.Noise); err != nil {
		return 0, fmt.Errorf("--noise: %w", err)
	}
	if o.Size < shapes3d.MinSize || o.Size > shapes3d.MaxSize {
		return 0, fmt.Errorf("--size %d out of range (valid: %d..%d)", o.Size, shapes3d.MinSize, shapes3d.MaxSize)
	}
	switch {
	case o.Out == "" && o.Grid == "":
		return 0, errors.New("data shapes3d needs --out DIR with --n N or --all, or --grid FILE")
	case o.Out == "" && (o.N != 0 || o.All):
		return 0, errors.New("--n and --all need --out DIR")
	case o.Out != "" && o.All && o.N != 0:
		return 0, errors.New("give --n N or --all, not both")
	case o.Out != "" && !o.All && o.N == 0:
		return 0, fmt.Errorf("--out needs --n N (1..%d for the %s split) or --all", split.Len(), split)
	case !o.All && o.Out != "" && (o.N < 1 || o.N > split.Len()):
		return 0, fmt.Errorf("--n %d out of range (valid: 1..%d for the %s split)", o.N, split.Len(), split)
	}
	return split, nil
}

func runShapes3D(opts *DataOptions) error {
	split, err := opts.check()
	if err != nil {
		return err
	}
	if opts.Grid != "" {
		if err := writeGrid(opts); err != nil {
			return err
		}
	}
	if opts.Out == "" {
		return nil
	}
	var indices []int
	if opts.All {
		indices = split.Indices()
	} else if indices, err = shapes3d.Sample(split, opts.N, opts.Seed); err != nil {
		return err
	}
	err = shapes3d.Write(opts.Out, indices, shapes3d.WriteOptions{
		Size: opts.Size, Noise: opts.Noise, Seed: opts.Seed, Force: opts.Force,
		Progress: every(len(indices)/200, progress(opts.IO, opts.Quiet, "shapes3d")),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "wrote %d %s scenes (%d×%d, noise %g, seed %d) to %s\n",
		len(indices), split, opts.Size, opts.Size, opts.Noise, opts.Seed, filepath.Join(opts.Out, "labels.csv"))
	return nil
}

// writeGrid draws the sample sheet, magnified so that a 64-pixel scene
// shows at 128 pixels.
func writeGrid(opts *DataOptions) error {
	if filepath.Ext(opts.Grid) != ".png" {
		return fmt.Errorf("--grid %s: the sample sheet is a PNG (name it *.png)", opts.Grid)
	}
	r, err := shapes3d.NewRenderer(opts.Size)
	if err != nil {
		return err
	}
	zoom := int(math.Max(1, math.Round(128/float64(opts.Size))))
	var buf bytes.Buffer
	if err := png.Encode(&buf, shapes3d.Grid(r, zoom, opts.Noise, opts.Seed)); err != nil {
		return internal(err)
	}
	if dir := filepath.Dir(opts.Grid); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(opts.Grid, buf.Bytes(), opts.Force); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "wrote %s\n", opts.Grid)
	return nil
}

// every passes on one call in step (and the last), so that a bar over
// 480,000 scenes redraws a few hundred times, not 480,000.
func every(step int, bar func(done, total int)) func(done, total int) {
	if bar == nil {
		return nil
	}
	step = max(step, 1)
	return func(done, total int) {
		if done%step == 0 || done == total {
			bar(done, total)
		}
	}
}
