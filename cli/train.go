package cli

import (
	"errors"
	"fmt"
	stdio "io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

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
	Data, Test   string // labelled folders (--data, --test-data); empty: rendered scenes
	Out          string
	Checkpoint   string
	Resume       string
	N, TestN     int
	Size, Batch  int
	Epochs       int
	LR           float64
	Seed         uint64
	Force, Quiet bool
	given        func(flag string) bool
}

// NewCmdTrain trains a zoo model (or an ONNX file's) on 3D Shapes scenes
// rendered in memory or on a labelled folder.
func NewCmdTrain(io *IO) *cobra.Command {
	opts := &TrainOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "train MODEL|FILE.onnx (--n N | --data DIR) --tasks a,b --epochs E --out FILE.safetensors|FILE.onnx",
		Short: "Train a multi-task model on 3D Shapes scenes or a labelled folder (MTL-Split's recipe)",
		Long: "train builds MODEL's backbone with one MTL-Split head per task and trains it from scratch as\n" +
			"MTL-Split does: the sum of the tasks' cross-entropies, AdamW (weight decay lr·1e-2), the learning\n" +
			"rate ×0.1 halfway, dropout 0.1 in the heads, efficientnet_b0's stochastic depth (torchvision's,\n" +
			"up to 0.2). The data is either N scenes of the 3D Shapes train split rendered in memory (--n;\n" +
			"tasks are factors: floor_hue, wall_hue, object_hue, scale, shape, orientation) or a labelled\n" +
			"folder (--data DIR: labels.csv with file,<task>,... and images of the input size; --tasks names\n" +
			"label columns, each task's class count is its max label + 1). One task trains one network per\n" +
			"task (STL). FILE.onnx continues from an ONNX file's weights: one with one output per task keeps\n" +
			"its heads (their sizes must match the data's), one with a single output gets new heads.\n" +
			"Each epoch prints the mean training loss and accuracy per task (and, with --test-n or --test-data,\n" +
			"test accuracy). --checkpoint FILE saves the whole state after every epoch; --resume FILE continues\n" +
			"it bit for bit. --out FILE.safetensors writes the weights with PyTorch's state_dict names; --out\n" +
			"FILE.onnx the trained model as ONNX (opset 13) with one output per task, named after it.",
		Args: exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			opts.given = changed(cmd.Flags())
			return runTrain(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Tasks, "tasks", "scale,shape", "one head per task: 3D Shapes factors, or label columns of --data; comma-separated")
	f.StringVar(&opts.Data, "data", "", "labelled folder to train on (labels.csv + images), instead of rendered scenes")
	f.StringVar(&opts.Test, "test-data", "", "labelled folder to evaluate after each epoch (with --data)")
	f.IntVar(&opts.N, "n", 0, "training scenes drawn from the train split (seeded)")
	f.IntVar(&opts.TestN, "test-n", 0, "test-split scenes to evaluate after each epoch (0: none)")
	f.IntVar(&opts.Epochs, "epochs", 10, "passes over the training data")
	f.IntVar(&opts.Size, "size", 64, "image side in pixels")
	f.IntVar(&opts.Batch, "batch", train.DefaultBatch, "samples per step (the last partial batch is dropped)")
	f.Float64Var(&opts.LR, "lr", 1e-4, "initial learning rate")
	f.Uint64Var(&opts.Seed, "seed", 1234, "seed of the scenes, the initial weights, the order, dropout and stochastic depth")
	f.StringVar(&opts.Out, "out", "", "file to write: *.safetensors (the weights) or *.onnx (the model, one output per task)")
	f.StringVar(&opts.Checkpoint, "checkpoint", "", "file to save the training state to after every epoch (replaced each time)")
	f.StringVar(&opts.Resume, "resume", "", "checkpoint to continue from (same model, data, --tasks, --batch, --seed)")
	f.BoolVar(&opts.Force, "force", false, "replace --out if it exists")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// check reports the first flag that is wrong or missing.
func (o *TrainOptions) check() error {
	if o.given == nil {
		o.given = changed(nil)
	}
	switch {
	case o.Out == "":
		return errors.New("train needs --out FILE.safetensors or --out FILE.onnx")
	case filepath.Ext(o.Out) != ".safetensors" && filepath.Ext(o.Out) != ".onnx":
		return fmt.Errorf("--out %s: name it *.safetensors (the weights) or *.onnx (the model with one output per task)", o.Out)
	case o.Batch < 1:
		return fmt.Errorf("--batch %d must be at least 1", o.Batch)
	case o.Epochs < 1:
		return fmt.Errorf("--epochs %d must be at least 1", o.Epochs)
	case !(o.LR > 0):
		return fmt.Errorf("--lr %g must be positive", o.LR)
	case o.Checkpoint != "" && o.Checkpoint == o.Out:
		return fmt.Errorf("--checkpoint %s is also --out: give them different files", o.Checkpoint)
	}
	if o.Data != "" {
		switch {
		case o.N != 0 || o.TestN != 0:
			return errors.New("--n and --test-n render 3D Shapes scenes; with --data the folder is the training data (use --test-data DIR to evaluate)")
		}
		return nil
	}
	switch {
	case o.Test != "":
		return errors.New("--test-data evaluates a model trained on --data DIR; with rendered scenes use --test-n N")
	case o.N < o.Batch || o.N > shapes3d.Train.Len():
		return fmt.Errorf("--n %d out of range (valid: --batch %d..%d), or train on a folder with --data DIR", o.N, o.Batch, shapes3d.Train.Len())
	case o.TestN != 0 && (o.TestN < o.Batch || o.TestN > shapes3d.Test.Len()):
		return fmt.Errorf("--test-n %d out of range (valid: 0, or --batch %d..%d)", o.TestN, o.Batch, shapes3d.Test.Len())
	case o.Size < shapes3d.MinSize || o.Size > shapes3d.MaxSize:
		return fmt.Errorf("--size %d out of range (valid: %d..%d)", o.Size, shapes3d.MinSize, shapes3d.MaxSize)
	}
	return nil
}

// trainData is what a run trains and tests on.
type trainData struct {
	train, test train.Data
	classes     []int
	close       func()
}

// openFolders opens --data (and --test-data) for a network whose input is
// in, reading the task columns --tasks names.
func (o *TrainOptions) openFolders(in model.Shape, names []string) (*trainData, error) {
	open := func(flag, dir string) (*train.Labelled, func(), error) {
		set, err := (&LabelledOptions{Dir: dir, Resize: "none", OnBad: "refuse"}).open(in)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s", flag, strings.TrimPrefix(err.Error(), "--data: "))
		}
		l, err := train.NewLabelled(set, names)
		if err != nil {
			set.Close()
			return nil, nil, fmt.Errorf("--tasks %s: %w in %s", o.Tasks, err, dir)
		}
		return l, func() { set.Close() }, nil
	}
	l, closeTrain, err := open("--data", o.Data)
	if err != nil {
		return nil, err
	}
	d := &trainData{train: l, classes: l.Classes(), close: closeTrain}
	if o.Test != "" {
		tl, closeTest, err := open("--test-data", o.Test)
		if err != nil {
			closeTrain()
			return nil, err
		}
		d.close = func() { closeTrain(); closeTest() }
		if got := tl.Classes(); !slices.Equal(got, d.classes) {
			d.close()
			return nil, fmt.Errorf("--test-data %s: its tasks have %s classes, --data's %s: the test labels must use the training set's classes", o.Test, joinInts(got), joinInts(d.classes))
		}
		d.test = tl
	}
	return d, nil
}

// trainGraph builds the network to train: a zoo model, or an ONNX file's
// graph with its weights (to load after the trainer's initialisation).
func (o *TrainOptions) trainGraph(im *onnx.Imported, classes []int) (*model.Graph, map[string]map[string][]float32, error) {
	if im == nil {
		g, err := model.New(o.Model, o.Size, classes)
		return g, nil, err
	}
	g := im.Graph
	if len(g.Heads) == 0 {
		h, err := model.WithHeads(g, classes)
		return h, im.Weights, err
	}
	have := make([]int, len(g.Heads))
	for i, h := range g.Heads {
		have[i] = h.Classes
	}
	if !slices.Equal(have, classes) {
		return nil, nil, fmt.Errorf("%s has %d outputs of %s classes (%s); --tasks %s have %s classes: train it on tasks of those sizes, or start from a one-output backbone",
			o.Model, len(have), joinInts(have), describeTasks(g), o.Tasks, joinInts(classes))
	}
	return g, im.Weights, nil
}

func runTrain(opts *TrainOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	names := strings.Split(opts.Tasks, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	var im *onnx.Imported
	in := model.Shape{3, opts.Size, opts.Size}
	if filepath.Ext(opts.Model) == ".onnx" {
		var err error
		if im, err = (onnxFlags{size: opts.Size, sizeFlag: "size", given: opts.given}).load(opts.Model); err != nil {
			return err
		}
		in = im.Graph.Input
	}
	var data *trainData
	var cols []int // factor columns of rendered scenes
	if opts.Data != "" {
		var err error
		if data, err = opts.openFolders(in, names); err != nil {
			return err
		}
		defer data.close()
	} else {
		var err error
		if cols, err = train.ParseTasks(opts.Tasks); err != nil {
			return fmt.Errorf("--tasks: %w", err)
		}
		data = &trainData{classes: train.TaskClasses(cols)}
	}
	// The model first: a network that cannot train fails before any
	// scene is rendered.
	g, init, err := opts.trainGraph(im, data.classes)
	if err != nil {
		return err
	}
	tr, err := train.New(g, train.Config{Batch: opts.Batch, Seed: opts.Seed, Dropout: 0.1,
		Optimizer: &train.AdamW{WeightDecay: opts.LR * 1e-2}})
	if err != nil {
		return err
	}
	if init != nil {
		if err := loadInitial(tr, init); err != nil {
			return fmt.Errorf("%s: %w", opts.Model, err)
		}
	}
	bar := func(label string) func(done, total int) { return progress(opts.IO, opts.Quiet, label) }
	if opts.Data == "" {
		scenes := func(split shapes3d.Split, n int) (*train.Scenes, error) {
			draw := every(n/100, bar("render "+split.String()))
			var report func(int)
			if draw != nil {
				report = func(done int) { draw(done, n) }
			}
			return train.NewScenes(g.InputSize, split, n, opts.Seed, cols, false, report)
		}
		if data.train, err = scenes(shapes3d.Train, opts.N); err != nil {
			return err
		}
		if opts.TestN > 0 {
			if data.test, err = scenes(shapes3d.Test, opts.TestN); err != nil {
				return err
			}
		}
	}
	if data.train.Len() < opts.Batch {
		return fmt.Errorf("--data %s has %d items, fewer than --batch %d", opts.Data, data.train.Len(), opts.Batch)
	}
	if data.test != nil && data.test.Len() < opts.Batch {
		return fmt.Errorf("--test-data %s has %d items, fewer than --batch %d", opts.Test, data.test.Len(), opts.Batch)
	}
	sched, err := train.NewStepLR(opts.LR, opts.Epochs)
	if err != nil {
		return err
	}
	run, err := train.NewRun(tr, data.train, sched, opts.Epochs, opts.Seed)
	if err != nil {
		return err
	}
	if opts.Resume != "" {
		b, err := os.ReadFile(opts.Resume)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if err := run.Resume(b); err != nil {
			return fmt.Errorf("--resume %s: %w", opts.Resume, err)
		}
		fmt.Fprintf(opts.IO.Out, "resumed %s after epoch %d/%d\n", opts.Resume, run.Epoch, opts.Epochs)
	}
	status := trainStatus(opts.IO, opts.Quiet, names, opts.Batch, opts.Epochs)
	for !run.Done() {
		e := run.Epoch
		var step func(done, total int, r train.Result)
		if status != nil {
			step = func(done, total int, r train.Result) { status(e, done, total, r) }
		}
		r, err := run.Next(step)
		if err != nil {
			return internal(err)
		}
		line := fmt.Sprintf("epoch %d/%d  lr %.0e  loss %.4f  accuracy %s", e+1, opts.Epochs, tr.LR, r.TotalLoss(), accuracies(names, r))
		if data.test != nil {
			te, err := tr.Evaluate(data.test)
			if err != nil {
				return internal(err)
			}
			line += "  test " + accuracies(names, te)
		}
		fmt.Fprintln(opts.IO.Out, line)
		if opts.Checkpoint != "" {
			b, err := run.Checkpoint()
			if err != nil {
				return internal(err)
			}
			if err := atomicfile.Write(opts.Checkpoint, b, true); err != nil {
				return err
			}
		}
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
		"model": opts.Model, "input_size": strconv.Itoa(g.InputSize), "tasks": strings.Join(names, ","),
		"classes": strings.Join(classes, ","), "graph_hash": g.Hash(),
	}
	var b []byte
	what := fmt.Sprintf("%d tensors", len(w.Params()))
	if filepath.Ext(opts.Out) == ".onnx" {
		b, err = onnx.Encode(g, w, onnx.ExportOptions{Tasks: names, Metadata: meta})
		what = fmt.Sprintf("ONNX opset %d, outputs %s", onnx.ExportOpset, strings.Join(names, ","))
		if len(names) == 1 {
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

// loadInitial replaces the trainer's initial weights with those an ONNX
// file has (all of them for a file with heads, the backbone's for one
// without).
func loadInitial(tr *train.Trainer, init map[string]map[string][]float32) error {
	w, err := tr.Weights()
	if err != nil {
		return err
	}
	for node, params := range init {
		for param, data := range params {
			if err := w.Set(node, param, data); err != nil {
				return err
			}
		}
	}
	return tr.SetWeights(w)
}

// trainStatus draws one status line on a terminal while training runs:
// epoch, batches, the loss and per-task accuracy averaged over the epoch so
// far, images per second and the time left for the whole run; nil when
// quiet or not on a terminal.
func trainStatus(io *IO, quiet bool, names []string, batch, epochs int) func(epoch, done, total int, r train.Result) {
	f, ok := io.Err.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return statusLine(f, names, batch, epochs, time.Now)
}

// statusLine is trainStatus's line drawn on w, timed by now.
func statusLine(w stdio.Writer, names []string, batch, epochs int, now func() time.Time) func(epoch, done, total int, r train.Result) {
	start, steps := now(), 0
	var sum train.Result // of the epoch so far
	last := time.Time{}
	return func(epoch, done, total int, r train.Result) {
		if done == 1 || len(sum.Loss) != len(r.Loss) {
			sum = train.Result{Loss: make([]float64, len(r.Loss)), Accuracy: make([]float64, len(r.Accuracy))}
		}
		for i := range r.Loss {
			sum.Loss[i] += r.Loss[i]
			sum.Accuracy[i] += r.Accuracy[i]
		}
		steps++
		if now().Sub(last) < 200*time.Millisecond && done != total {
			return
		}
		last = now()
		n := float64(done)
		mean := train.Result{Loss: make([]float64, len(sum.Loss)), Accuracy: make([]float64, len(sum.Accuracy))}
		for i := range sum.Loss {
			mean.Loss[i], mean.Accuracy[i] = sum.Loss[i]/n, sum.Accuracy[i]/n
		}
		elapsed := now().Sub(start).Seconds()
		left := (epochs-epoch-1)*total + total - done
		eta := time.Duration(elapsed / float64(steps) * float64(left) * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(w, "\r\033[Kepoch %d/%d %d/%d  loss %.4f  accuracy %s  %.0f img/s  ETA %s", epoch+1, epochs, done, total,
			mean.TotalLoss(), accuracies(names, mean), float64(steps*batch)/elapsed, eta)
		if done == total {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

func accuracies(names []string, r train.Result) string {
	var parts []string
	for i, a := range r.Accuracy {
		parts = append(parts, fmt.Sprintf("%s %.3f", strings.TrimSpace(names[i]), a))
	}
	return strings.Join(parts, " ")
}
