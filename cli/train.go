package cli

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
	"github.com/mtlsplit/mtlsplit/train"
)

// TrainOptions are the options of "mtlsplit train".
type TrainOptions struct {
	IO           *IO
	Model, Tasks string
	Out          string
	N, TestN     int
	Size, Batch  int
	Epochs       int
	LR           float64
	Seed         uint64
	Force, Quiet bool
}

// NewCmdTrain trains a zoo model on 3D Shapes scenes rendered in memory.
func NewCmdTrain(io *IO) *cobra.Command {
	opts := &TrainOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "train MODEL --tasks scale,shape --n N --epochs E --out FILE.safetensors|FILE.onnx",
		Short: "Train a multi-task model on 3D Shapes scenes (MTL-Split's recipe)",
		Long: "train renders N scenes of the train split in memory (seeded), builds MODEL's backbone with one\n" +
			"MTL-Split head per task (a 3D Shapes factor: floor_hue, wall_hue, object_hue, scale, shape,\n" +
			"orientation) and trains it from scratch as MTL-Split does: the sum of the tasks' cross-entropies,\n" +
			"AdamW (weight decay lr·1e-2), the learning rate ×0.1 halfway, dropout 0.1 in the heads. Each epoch\n" +
			"prints the mean training loss and accuracy per task (and, with --test-n, accuracy on scenes of the\n" +
			"test split, whose floor and wall colours training never shows). --out FILE.safetensors writes the\n" +
			"weights with PyTorch's state_dict names; --out FILE.onnx writes the trained model as ONNX (opset 13)\n" +
			"with one output per task, named after it, which plan, inspect, infer and PyTorch load. Every zoo\n" +
			"model trains (efficientnet_b0 without stochastic depth).",
		Args: exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			return runTrain(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Tasks, "tasks", "scale,shape", "one head per 3D Shapes factor, comma-separated")
	f.IntVar(&opts.N, "n", 0, "training scenes drawn from the train split (seeded)")
	f.IntVar(&opts.TestN, "test-n", 0, "test-split scenes to evaluate after each epoch (0: none)")
	f.IntVar(&opts.Epochs, "epochs", 10, "passes over the training scenes")
	f.IntVar(&opts.Size, "size", 64, "image side in pixels")
	f.IntVar(&opts.Batch, "batch", train.DefaultBatch, "samples per step (the last partial batch is dropped)")
	f.Float64Var(&opts.LR, "lr", 1e-4, "initial learning rate")
	f.Uint64Var(&opts.Seed, "seed", 1234, "seed of the scenes, the initial weights, the order and dropout")
	f.StringVar(&opts.Out, "out", "", "file to write: *.safetensors (the weights) or *.onnx (the model, one output per task)")
	f.BoolVar(&opts.Force, "force", false, "replace --out if it exists")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// check reports the first flag that is wrong or missing.
func (o *TrainOptions) check() ([]int, error) {
	tasks, err := train.ParseTasks(o.Tasks)
	if err != nil {
		return nil, fmt.Errorf("--tasks: %w", err)
	}
	switch {
	case o.Out == "":
		return nil, errors.New("train needs --out FILE.safetensors or --out FILE.onnx")
	case filepath.Ext(o.Out) != ".safetensors" && filepath.Ext(o.Out) != ".onnx":
		return nil, fmt.Errorf("--out %s: name it *.safetensors (the weights) or *.onnx (the model with one output per task)", o.Out)
	case o.Batch < 1:
		return nil, fmt.Errorf("--batch %d must be at least 1", o.Batch)
	case o.N < o.Batch || o.N > shapes3d.Train.Len():
		return nil, fmt.Errorf("--n %d out of range (valid: --batch %d..%d)", o.N, o.Batch, shapes3d.Train.Len())
	case o.TestN != 0 && (o.TestN < o.Batch || o.TestN > shapes3d.Test.Len()):
		return nil, fmt.Errorf("--test-n %d out of range (valid: 0, or --batch %d..%d)", o.TestN, o.Batch, shapes3d.Test.Len())
	case o.Epochs < 1:
		return nil, fmt.Errorf("--epochs %d must be at least 1", o.Epochs)
	case !(o.LR > 0):
		return nil, fmt.Errorf("--lr %g must be positive", o.LR)
	case o.Size < shapes3d.MinSize || o.Size > shapes3d.MaxSize:
		return nil, fmt.Errorf("--size %d out of range (valid: %d..%d)", o.Size, shapes3d.MinSize, shapes3d.MaxSize)
	}
	return tasks, nil
}

func runTrain(opts *TrainOptions) error {
	tasks, err := opts.check()
	if err != nil {
		return err
	}
	// The model first: a network that cannot train fails before any
	// scene is rendered.
	g, err := model.New(opts.Model, opts.Size, train.TaskClasses(tasks))
	if err != nil {
		return err
	}
	tr, err := train.New(g, train.Config{Batch: opts.Batch, Seed: opts.Seed, Dropout: 0.1,
		Optimizer: &train.AdamW{WeightDecay: opts.LR * 1e-2}})
	if err != nil {
		return err
	}
	bar := func(label string) func(done, total int) { return progress(opts.IO, opts.Quiet, label) }
	scenes := func(split shapes3d.Split, n int) (*train.Scenes, error) {
		draw := every(n/100, bar("render "+split.String()))
		var report func(int)
		if draw != nil {
			report = func(done int) { draw(done, n) }
		}
		return train.NewScenes(opts.Size, split, n, opts.Seed, tasks, report)
	}
	data, err := scenes(shapes3d.Train, opts.N)
	if err != nil {
		return err
	}
	var test *train.Scenes
	if opts.TestN > 0 {
		if test, err = scenes(shapes3d.Test, opts.TestN); err != nil {
			return err
		}
	}
	sched, err := train.NewStepLR(opts.LR, opts.Epochs)
	if err != nil {
		return err
	}
	names := strings.Split(opts.Tasks, ",")
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6f72646572))
	for e := range opts.Epochs {
		tr.LR = sched.LR(e)
		draw := bar(fmt.Sprintf("epoch %d/%d", e+1, opts.Epochs))
		var step func(done, total int, r train.Result)
		if draw != nil {
			step = func(done, total int, _ train.Result) { draw(done, total) }
		}
		r, err := tr.Epoch(data, rng, step)
		if err != nil {
			return internal(err)
		}
		line := fmt.Sprintf("epoch %d/%d  lr %.0e  loss %.4f  accuracy %s", e+1, opts.Epochs, tr.LR, r.TotalLoss(), accuracies(names, r))
		if test != nil {
			te, err := tr.Evaluate(test)
			if err != nil {
				return internal(err)
			}
			line += "  test " + accuracies(names, te)
		}
		fmt.Fprintln(opts.IO.Out, line)
	}
	w, err := tr.Weights()
	if err != nil {
		return internal(err)
	}
	classes := make([]string, len(g.Heads))
	for i, h := range g.Heads {
		classes[i] = strconv.Itoa(h.Classes)
	}
	meta := map[string]string{
		"model": opts.Model, "input_size": strconv.Itoa(opts.Size), "tasks": opts.Tasks,
		"classes": strings.Join(classes, ","), "graph_hash": g.Hash(),
	}
	var b []byte
	what := fmt.Sprintf("%d tensors", len(w.Params()))
	if filepath.Ext(opts.Out) == ".onnx" {
		outputs := make([]string, len(tasks))
		for i, c := range tasks {
			outputs[i] = shapes3d.Columns[c]
		}
		b, err = onnx.Encode(g, w, onnx.ExportOptions{Tasks: outputs, Metadata: meta})
		what = fmt.Sprintf("ONNX opset %d, outputs %s", onnx.ExportOpset, strings.Join(outputs, ","))
		if len(outputs) == 1 {
			// The importer reads a one-output file as a backbone: the
			// head is there, but not as a task of its own.
			what += "; with one output, plan and inspect read it as a backbone without heads"
		}
	} else {
		b, err = train.EncodeSafetensors(w, meta)
	}
	if err != nil {
		return internal(err)
	}
	if err := atomicfile.Write(opts.Out, b, opts.Force); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "wrote %s (%s, %s)\n", opts.Out, opts.Model, what)
	return nil
}

func accuracies(names []string, r train.Result) string {
	var parts []string
	for i, a := range r.Accuracy {
		parts = append(parts, fmt.Sprintf("%s %.3f", strings.TrimSpace(names[i]), a))
	}
	return strings.Join(parts, " ")
}
