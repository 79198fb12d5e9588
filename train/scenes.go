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
// are factor columns (see ParseTasks). progress, if not nil, is called
// after each scene with the number done.
func NewScenes(size int, split shapes3d.Split, n int, seed uint64, tasks []int, progress func(done int)) (*Scenes, error) {
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
		f, err := shapes3d.FromIndex(i)
		if err != nil {
			return nil, err
		}
		r.RenderInto(img, f)
		for c := range 3 { // planar RGB, as the network reads it
			for p := range size * size {
				s.pixels = append(s.pixels, img.Pix[4*p+c])
			}
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

// Batch fills x (len(order) images, NCHW in [0, 1]) and labels (per task)
// with the scenes order lists.
func (s *Scenes) Batch(order []int, x []float32, labels [][]int) {
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
}

// Epoch runs one pass over data in an order shuffled with rng, dropping
// the last partial batch (as PyTorch's drop_last), and returns the mean of
// the batches' results. progress, if not nil, is called after each batch.
func (t *Trainer) Epoch(data *Scenes, rng *rand.Rand, progress func(done, total int, r Result)) (Result, error) {
	batches := data.Len() / t.cfg.Batch
	if batches == 0 {
		return Result{}, fmt.Errorf("train: %d scenes make no batch of %d", data.Len(), t.cfg.Batch)
	}
	order := rng.Perm(data.Len())
	x := make([]float32, t.cfg.Batch*3*data.size*data.size)
	labels := make([][]int, len(data.tasks))
	var sum Result
	for b := range batches {
		data.Batch(order[b*t.cfg.Batch:(b+1)*t.cfg.Batch], x, labels)
		r, err := t.Step(x, labels)
		if err != nil {
			return Result{}, err
		}
		sum.add(r)
		if progress != nil {
			progress(b+1, batches, r)
		}
	}
	return sum.scale(1 / float64(batches)), nil
}

// Evaluate runs every scene of data in eval mode, whole batches only, and
// returns the mean losses and accuracies.
func (t *Trainer) Evaluate(data *Scenes) (Result, error) {
	batches := data.Len() / t.cfg.Batch
	if batches == 0 {
		return Result{}, fmt.Errorf("train: %d scenes make no batch of %d", data.Len(), t.cfg.Batch)
	}
	x := make([]float32, t.cfg.Batch*3*data.size*data.size)
	labels := make([][]int, len(data.tasks))
	order := make([]int, t.cfg.Batch)
	var sum Result
	for b := range batches {
		for i := range order {
			order[i] = b*t.cfg.Batch + i
		}
		data.Batch(order, x, labels)
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
