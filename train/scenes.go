package train

import (
	"fmt"
	"image"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
)

// Scenes is a labelled training set of 3D Shapes scenes rendered in memory
// (no files): n scenes of a split drawn with a seed, one task per factor.
// Images are kept as RGB bytes and scaled to [0, 1] per batch, as
// torchvision's ToTensor does.
type Scenes struct {
	size   int
	tasks  []int // factor column of each task
	pixels []uint8
	labels [][]int // per task, per scene
}

// factorClasses is the number of classes of each factor, in
// shapes3d.Columns order.
var factorClasses = [6]int{shapes3d.FloorHues, shapes3d.WallHues, shapes3d.ObjectHues, shapes3d.Scales, shapes3d.Shapes, shapes3d.Orientations}

// ParseTasks reads a comma-separated list of factor names (scale,shape).
func ParseTasks(s string) ([]int, error) {
	var cols []int
	for _, name := range strings.Split(s, ",") {
		i := slices.Index(shapes3d.Columns[:], strings.TrimSpace(name))
		if i < 0 {
			return nil, fmt.Errorf("unknown task %q (valid: %s)", name, strings.Join(shapes3d.Columns[:], ", "))
		}
		if slices.Contains(cols, i) {
			return nil, fmt.Errorf("task %q given twice", name)
		}
		cols = append(cols, i)
	}
	return cols, nil
}

// NewScenes renders n scenes of split at size×size, drawn with seed; tasks
// are factor columns (see ParseTasks). With noise each scene carries
// shapes3d.PaperNoise, drawn from its seed and index (fixed per scene, where
// the paper's code draws it afresh each epoch). progress, if not nil, is
// called after each scene with the number done.
func NewScenes(size int, split shapes3d.Split, n int, seed uint64, tasks []int, noise bool, progress func(done int)) (*Scenes, error) {
	if len(tasks) == 0 {
		return nil, fmt.Errorf("scenes: no tasks")
	}
	r, err := shapes3d.NewRenderer(size)
	if err != nil {
		return nil, err
	}
	idx, err := shapes3d.Sample(split, n, seed)
	if err != nil {
		return nil, err
	}
	s := &Scenes{size: size, tasks: tasks, pixels: make([]uint8, 0, n*3*size*size), labels: make([][]int, len(tasks))}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for k, i := range idx {
		var f shapes3d.Factors
		if s.pixels, f, err = r.AppendPlanar(s.pixels, img, i, noise, seed); err != nil {
			return nil, err
		}
		v := [6]int{f.FloorHue, f.WallHue, f.ObjectHue, f.Scale, f.Shape, f.Orientation}
		for t, col := range tasks {
			s.labels[t] = append(s.labels[t], v[col])
		}
		if progress != nil {
			progress(k + 1)
		}
	}
	return s, nil
}

// Len is the number of scenes.
func (s *Scenes) Len() int { return len(s.labels[0]) }

// Classes is the number of classes of each task.
func (s *Scenes) Classes() []int { return TaskClasses(s.tasks) }

// TaskClasses is the number of classes of each task (a factor column).
func TaskClasses(tasks []int) []int {
	var out []int
	for _, c := range tasks {
		out = append(out, factorClasses[c])
	}
	return out
}

// Batch implements Data: images in [0, 1].
func (s *Scenes) Batch(order []int, x []float32, labels [][]int) error {
	per := 3 * s.size * s.size
	for b, i := range order {
		for j, v := range s.pixels[i*per : (i+1)*per] {
			x[b*per+j] = float32(v) / 255
		}
	}
	for t := range labels {
		labels[t] = labels[t][:0]
		for _, i := range order {
			labels[t] = append(labels[t], s.labels[t][i])
		}
	}
	return nil
}

// Epoch runs one pass over data in an order shuffled with rng, dropping
// the last partial batch (as PyTorch's drop_last), and returns the mean of
// the batches' results. progress, if not nil, is called after each batch.
func (t *Trainer) Epoch(data Data, rng *rand.Rand, progress func(done, total int, r Result)) (Result, error) {
	if err := t.checkData(data); err != nil {
		return Result{}, err
	}
	order := rng.Perm(data.Len())
	return t.EpochOrder(data, order, 0, progress)
}

// checkData refuses data that makes no batch or whose tasks are not the
// graph's.
func (t *Trainer) checkData(data Data) error {
	if data.Len() < t.cfg.Batch {
		return fmt.Errorf("train: %d items make no batch of %d", data.Len(), t.cfg.Batch)
	}
	var want []int
	for _, h := range t.graph.Heads {
		want = append(want, h.Classes)
	}
	if got := data.Classes(); !slices.Equal(got, want) {
		return fmt.Errorf("train %s: the data's tasks have %v classes, the model's heads %v", t.graph.Name, got, want)
	}
	return nil
}

// EpochOrder runs the batches of one pass over data in the given order
// (a permutation of its items), starting at batch from, dropping the last
// partial batch; it returns the mean result of the batches it ran.
func (t *Trainer) EpochOrder(data Data, order []int, from int, progress func(done, total int, r Result)) (Result, error) {
	batches := len(order) / t.cfg.Batch
	x := make([]float32, t.cfg.Batch*int(t.graph.Input.Elems()))
	labels := make([][]int, len(t.graph.Heads))
	var sum Result
	for b := from; b < batches; b++ {
		if err := data.Batch(order[b*t.cfg.Batch:(b+1)*t.cfg.Batch], x, labels); err != nil {
			return Result{}, err
		}
		r, err := t.Step(x, labels)
		if err != nil {
			return Result{}, err
		}
		sum.add(r)
		if progress != nil {
			progress(b+1, batches, r)
		}
	}
	return sum.scale(1 / float64(max(1, batches-from))), nil
}

// Evaluate runs every scene of data in eval mode, whole batches only, and
// returns the mean losses and accuracies.
func (t *Trainer) Evaluate(data Data) (Result, error) {
	if err := t.checkData(data); err != nil {
		return Result{}, err
	}
	batches := data.Len() / t.cfg.Batch
	x := make([]float32, t.cfg.Batch*int(t.graph.Input.Elems()))
	labels := make([][]int, len(t.graph.Heads))
	order := make([]int, t.cfg.Batch)
	var sum Result
	for b := range batches {
		for i := range order {
			order[i] = b*t.cfg.Batch + i
		}
		if err := data.Batch(order, x, labels); err != nil {
			return Result{}, err
		}
		r, _, err := t.Eval(x, labels)
		if err != nil {
			return Result{}, err
		}
		sum.add(r)
	}
	return sum.scale(1 / float64(batches)), nil
}

func (r *Result) add(o Result) {
	if r.Loss == nil {
		r.Loss, r.Accuracy = make([]float64, len(o.Loss)), make([]float64, len(o.Accuracy))
	}
	for i := range o.Loss {
		r.Loss[i] += o.Loss[i]
		r.Accuracy[i] += o.Accuracy[i]
	}
}

func (r Result) scale(k float64) Result {
	for i := range r.Loss {
		r.Loss[i] *= k
		r.Accuracy[i] *= k
	}
	return r
}
