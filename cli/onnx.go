package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// onnxFlags are what the user asked of an ONNX file: the image size for a
// dynamic input (the flag named sizeFlag) and the tasks, each taken only
// when its flag was given — a file's own input size and outputs are what
// they are, and a flag may restate them but not contradict them.
type onnxFlags struct {
	size     int
	sizeFlag string // "input", or "size" where --input is a file
	tasks    []int
	given    func(flag string) bool
}

// changed reports whether a flag of fs was set on the command line; none
// was when fs is nil (options built by a test).
func changed(fs *pflag.FlagSet) func(string) bool {
	return func(flag string) bool { return fs != nil && fs.Changed(flag) }
}

// load imports the file at the size the flags give a dynamic input.
func (f onnxFlags) load(path string) (*onnx.Imported, error) {
	size := 0
	if f.given(f.sizeFlag) {
		if f.size < 1 || f.size > model.MaxInputSize {
			return nil, fmt.Errorf("--%s %d: an image side of 1 to %d px", f.sizeFlag, f.size, model.MaxInputSize)
		}
		size = f.size
	}
	im, err := onnx.LoadAt(path, size)
	if errors.Is(err, onnx.ErrDynamicSize) {
		return nil, fmt.Errorf("%w: give it with --%s N", err, f.sizeFlag)
	}
	if err != nil {
		return nil, err
	}
	if size > 0 && im.Graph.InputSize != size {
		return nil, fmt.Errorf("--%s %d contradicts %s, whose input is fixed at %v: leave --%s out", f.sizeFlag, size, path, im.Graph.Input, f.sizeFlag)
	}
	return im, nil
}

// onnxGraph imports an ONNX file with its task heads (onnxTasks) to plan,
// and returns its output names.
func onnxGraph(path string, f onnxFlags) (*model.Graph, []string, error) {
	im, err := f.load(path)
	if err != nil {
		return nil, nil, err
	}
	if n := len(im.Graph.Heads); n > maxTasks {
		return nil, nil, fmt.Errorf("%s has %d outputs, one task each: at most %d tasks can be planned (the search tries all 2^tasks placements of the heads)", path, n, maxTasks)
	}
	g, err := onnxTasks(path, im.Graph, f.tasks, f.given("tasks"))
	return g, im.Outputs, err
}

// loadONNX reads an ONNX file to run: its graph — with one task head per
// output when it has several, none when it has one — and the engine
// weights from its initializers.
func loadONNX(path string, f onnxFlags) (*model.Graph, *engine.Weights, error) {
	im, err := f.load(path)
	if err != nil {
		return nil, nil, err
	}
	g := im.Graph
	if len(g.Heads) > 0 {
		if _, err := onnxTasks(path, g, f.tasks, f.given("tasks")); err != nil {
			return nil, nil, err
		}
	}
	w, err := engine.NewWeights(g)
	if err != nil {
		return nil, nil, err
	}
	if err := w.SetAll(im.Weights); err != nil {
		return nil, nil, err
	}
	return g, w, nil
}

// onnxTasks gives an imported graph its task heads. A file with several
// outputs brings its own, one task per output, and --tasks, when given,
// must name the same number of tasks with the same number of values each;
// a file with one output gets one MTL-Split head per entry of tasks.
func onnxTasks(path string, g *model.Graph, tasks []int, given bool) (*model.Graph, error) {
	if len(g.Heads) == 0 {
		return model.WithHeads(g, tasks)
	}
	have := make([]int, len(g.Heads))
	for i, h := range g.Heads {
		have[i] = h.Classes
	}
	if given && !slices.Equal(tasks, have) {
		return nil, fmt.Errorf("--tasks %s contradicts %s, whose %d outputs are its tasks (%s): leave --tasks out or pass --tasks %s",
			joinInts(tasks), path, len(g.Heads), describeTasks(g), joinInts(have))
	}
	return g, nil
}

// describeTasks lists a graph's tasks with their output sizes: "hue (8
// values), shape (4 values)".
func describeTasks(g *model.Graph) string {
	parts := make([]string, len(g.Heads))
	for i, h := range g.Heads {
		parts[i] = fmt.Sprintf("%s (%d values)", h.Task, h.Classes)
	}
	return strings.Join(parts, ", ")
}

func joinInts(xs []int) string {
	if len(xs) == 0 {
		return `""`
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ",")
}
