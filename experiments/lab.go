package experiments

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/train"
)

// Lab trains and scores the recipe's models, keeping what it made under
// Dir (trained weights, the rendered test scenes, accuracy tables) so that
// one experiment reuses another's models and a rerun reuses both.
type Lab struct {
	Recipe Recipe
	// Dir holds the caches (make reproduce: results/out/repro).
	Dir string
	// Progress, if set, hears every unit of work (see Work).
	Progress *Progress

	test      *evalSet
	holdout   map[uint64]*evalSet // by seed
	scenes    *train.Scenes       // the last training set rendered
	scenesKey string
}

// Run is one trained model and its scores.
type Run struct {
	Backbone string
	Tasks    []string
	Seed     uint64
	// Params counts the network's parameters (backbone and heads).
	Params int64
	// TrainS is the wall time of the training epochs (rendering and
	// scoring left out).
	TrainS float64
	// OOD and InDist are each task's top-1 accuracy on the test split and
	// on the in-distribution hold-out.
	OOD, InDist []float64
	Graph       *model.Graph
	Weights     *engine.Weights
}

// MTL reports whether the run trained every task of its recipe at once.
func (r *Run) MTL() bool { return len(r.Tasks) > 1 }

// Kind is "MTL" or "STL".
func (r *Run) Kind() string {
	if r.MTL() {
		return "MTL"
	}
	return "STL"
}

// evalSet is a fixed set of rendered scenes: pixels as RGB bytes in planar
// order, one factor tuple per scene.
type evalSet struct {
	size    int
	pixels  []uint8
	factors []shapes3d.Factors
}

// graph builds backbone's network with one MTL-Split head per task, the
// heads named after the tasks (so that labels.csv columns score them).
func (l *Lab) graph(backbone string, tasks []string) (*model.Graph, []int, error) {
	cols, err := train.ParseTasks(strings.Join(tasks, ","))
	if err != nil {
		return nil, nil, err
	}
	g, err := model.New(backbone, l.Recipe.Size, train.TaskClasses(cols))
	if err != nil {
		return nil, nil, err
	}
	for i := range g.Heads {
		g.Heads[i].Task = tasks[i]
	}
	return g, cols, nil
}

func (l *Lab) runPath(backbone string, tasks []string, seed uint64) string {
	return filepath.Join(l.Dir, "models", fmt.Sprintf("%s_%s_s%d_%s.safetensors", backbone, joinTasks(tasks), seed, l.Recipe.fingerprint()))
}

// Run returns backbone trained on tasks with seed: from the cache if an
// earlier run of the same recipe left it, else trained and scored now.
func (l *Lab) Run(backbone string, tasks []string, seed uint64) (*Run, error) {
	g, cols, err := l.graph(backbone, tasks)
	if err != nil {
		return nil, err
	}
	path := l.runPath(backbone, tasks, seed)
	if run, err := l.load(path, g); err == nil {
		run.Backbone, run.Tasks, run.Seed = backbone, tasks, seed
		l.Progress.skip(l.trainWork(backbone) + l.evalWork(backbone))
		return run, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	run, err := l.train(g, cols, seed)
	if err != nil {
		return nil, err
	}
	run.Backbone, run.Tasks, run.Seed = backbone, tasks, seed
	meta := map[string]string{"recipe": l.Recipe.String(), "train_s": strconv.FormatFloat(run.TrainS, 'g', -1, 64),
		"ood": floats(run.OOD), "in_dist": floats(run.InDist)}
	b, err := train.EncodeSafetensors(run.Weights, meta)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return run, atomicfile.Write(path, b, true)
}

// load reads a cached run; an fs.ErrNotExist error means there is none.
func (l *Lab) load(path string, g *model.Graph) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, meta, err := train.DecodeSafetensors(b, g)
	if err != nil {
		return nil, fmt.Errorf("cached model %s: %w (delete it to retrain)", path, err)
	}
	run := &Run{Graph: g, Weights: w, Params: params(g)}
	if run.TrainS, err = strconv.ParseFloat(meta["train_s"], 64); err == nil {
		if run.OOD, err = parseFloatList(meta["ood"]); err == nil {
			run.InDist, err = parseFloatList(meta["in_dist"])
		}
	}
	if err != nil || len(run.OOD) != len(g.Heads) || len(run.InDist) != len(g.Heads) {
		return nil, fmt.Errorf("cached model %s: bad metadata (delete it to retrain)", path)
	}
	return run, nil
}

// train trains g as MTL-Split does (see cli/train.go, the same recipe) and
// scores it.
func (l *Lab) train(g *model.Graph, cols []int, seed uint64) (*Run, error) {
	r := l.Recipe
	data, err := l.trainingScenes(cols, seed)
	if err != nil {
		return nil, err
	}
	tr, err := train.New(g, train.Config{Batch: r.Batch, Seed: seed, Dropout: 0.1, Optimizer: &train.AdamW{WeightDecay: r.LR * 1e-2}})
	if err != nil {
		return nil, err
	}
	sched, err := train.NewStepLR(r.LR, r.Epochs)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6f72646572))
	unit := l.trainWork(g.Name) / float64(r.Epochs*(r.TrainN/r.Batch))
	start := time.Now()
	for e := range r.Epochs {
		tr.LR = sched.LR(e)
		if _, err := tr.Epoch(data, rng, func(int, int, train.Result) { l.Progress.add(unit) }); err != nil {
			return nil, err
		}
	}
	run := &Run{Graph: g, Params: params(g), TrainS: time.Since(start).Seconds()}
	if run.Weights, err = tr.Weights(); err != nil {
		return nil, err
	}
	if err := l.evalSets(seed); err != nil {
		return nil, err
	}
	if run.OOD, err = l.score(tr, l.test, cols); err != nil {
		return nil, err
	}
	if run.InDist, err = l.score(tr, l.holdout[seed], cols); err != nil {
		return nil, err
	}
	return run, nil
}

// trainingScenes renders seed's training scenes, keeping the last set: the
// runs of one seed share it (MTL and STL see the same scenes).
func (l *Lab) trainingScenes(cols []int, seed uint64) (*train.Scenes, error) {
	key := fmt.Sprint(cols, seed)
	if l.scenesKey == key {
		return l.scenes, nil
	}
	l.scenes = nil // let the old set go before rendering the next
	s, err := train.NewScenes(l.Recipe.Size, shapes3d.Train, l.Recipe.TrainN, seed, cols, l.Recipe.Noise, nil)
	if err != nil {
		return nil, err
	}
	l.scenes, l.scenesKey = s, key
	return s, nil
}

// holdoutIndices draws seed's in-distribution hold-out: train-split scenes
// that seed's training sample does not hold. Each seed has its own (from
// the same distribution), so that training may take nearly the whole split.
func (r Recipe) holdoutIndices(seed uint64) ([]int, error) {
	used, err := shapes3d.Sample(shapes3d.Train, r.TrainN, seed)
	if err != nil {
		return nil, err
	}
	var free []int
	for _, i := range shapes3d.Train.Indices() {
		if _, found := slices.BinarySearch(used, i); !found {
			free = append(free, i)
		}
	}
	if len(free) < r.HoldoutN {
		return nil, fmt.Errorf("recipe: %d hold-out scenes, but only %d train-split scenes are left beside %d training scenes", r.HoldoutN, len(free), r.TrainN)
	}
	rng := rand.New(rand.NewPCG(r.EvalSeed, seed))
	rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	out := free[:r.HoldoutN:r.HoldoutN]
	slices.Sort(out)
	return out, nil
}

// evalSets renders the test scenes once and seed's hold-out once.
func (l *Lab) evalSets(seed uint64) error {
	r := l.Recipe
	if l.test == nil {
		test, err := shapes3d.Sample(shapes3d.Test, r.TestN, r.EvalSeed)
		if err != nil {
			return err
		}
		if l.test, err = renderSet(r, test); err != nil {
			return err
		}
	}
	if l.holdout == nil {
		l.holdout = map[uint64]*evalSet{}
	}
	if l.holdout[seed] == nil {
		hold, err := r.holdoutIndices(seed)
		if err != nil {
			return err
		}
		if l.holdout[seed], err = renderSet(r, hold); err != nil {
			return err
		}
	}
	return nil
}

// renderSet renders the scenes of indices at the recipe's size, with the
// recipe's noise drawn from EvalSeed and each scene's index (the paper
// scores noisy inputs too).
func renderSet(r Recipe, indices []int) (*evalSet, error) {
	size := r.Size
	rd, err := shapes3d.NewRenderer(size)
	if err != nil {
		return nil, err
	}
	s := &evalSet{size: size, pixels: make([]uint8, 0, len(indices)*3*size*size)}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for _, i := range indices {
		var f shapes3d.Factors
		if s.pixels, f, err = rd.AppendPlanar(s.pixels, img, i, r.Noise, r.EvalSeed); err != nil {
			return nil, err
		}
		s.factors = append(s.factors, f)
	}
	return s, nil
}

// factor is the class index of factor column col.
func factor(f shapes3d.Factors, col int) int {
	return [6]int{f.FloorHue, f.WallHue, f.ObjectHue, f.Scale, f.Shape, f.Orientation}[col]
}

// score is each task's top-1 accuracy on every scene of s, in eval mode;
// the last partial batch is padded with the first scenes and its padding
// not counted.
func (l *Lab) score(tr *train.Trainer, s *evalSet, cols []int) ([]float64, error) {
	b, n, per := tr.Batch(), len(s.factors), 3*s.size*s.size
	x := make([]float32, b*per)
	labels := make([][]int, len(cols))
	correct := make([]int, len(cols))
	unit := l.evalWork(tr.Graph().Name) * float64(b) / float64(l.Recipe.TestN+l.Recipe.HoldoutN)
	for start := 0; start < n; start += b {
		for t := range labels {
			labels[t] = labels[t][:0]
		}
		for k := range b {
			i := (start + k) % n
			for j, v := range s.pixels[i*per : (i+1)*per] {
				x[k*per+j] = float32(v) / 255
			}
			for t, c := range cols {
				labels[t] = append(labels[t], factor(s.factors[i], c))
			}
		}
		_, logits, err := tr.Eval(x, labels)
		if err != nil {
			return nil, err
		}
		for t, lg := range logits {
			k := len(lg) / b
			for j := range min(b, n-start) {
				if measure.Top1(lg[j*k:(j+1)*k]) == labels[t][j] {
					correct[t]++
				}
			}
		}
		l.Progress.add(unit)
	}
	out := make([]float64, len(cols))
	for t := range out {
		out[t] = float64(correct[t]) / float64(n)
	}
	return out, nil
}

// params counts the network's parameters, heads included.
func params(g *model.Graph) int64 {
	n := g.BackboneParams()
	for _, h := range g.Heads {
		n += h.Params
	}
	return n
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func parseFloatList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
