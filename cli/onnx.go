package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// loadONNX reads an ONNX file into a graph — with one task head per output
// when it has several — and the engine weights from its initializers.
func loadONNX(path string) (*model.Graph, *engine.Weights, error) {
	im, err := onnx.Load(path)
	if err != nil {
		return nil, nil, err
	}
	w, err := engine.NewWeights(im.Graph)
	if err != nil {
		return nil, nil, err
	}
	for node, params := range im.Weights {
		for param, data := range params {
			if err := w.Set(node, param, data); err != nil {
				return nil, nil, err
			}
		}
	}
	return im.Graph, w, nil
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
