package experiments

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/dataset"
	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/internal/cores"
	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/profile"
)

// accuracyEncodings are the cut tensor's encodings scored at every cut.
var accuracyEncodings = []codec.Encoding{codec.FP32, codec.FP16, codec.Int8, codec.Int4}

// factorClasses is each 3D Shapes factor's class count, in label order.
var factorClasses = []int{shapes3d.FloorHues, shapes3d.WallHues, shapes3d.ObjectHues, shapes3d.Scales, shapes3d.Shapes, shapes3d.Orientations}

// testDir writes the accuracy scenes (the first AccuracyN of the test
// sample: the same draw, so a subset of the test scenes) as the labelled
// layout the accuracy profiler reads, once.
func (l *Lab) testDir() (string, error) {
	r := l.Recipe
	dir := filepath.Join(l.Dir, "scenes", fmt.Sprintf("test_%dpx_n%d_s%d", r.Size, r.accuracyN(), r.EvalSeed))
	if _, err := os.Stat(filepath.Join(dir, "labels.csv")); err == nil {
		return dir, nil
	}
	idx, err := shapes3d.Sample(shapes3d.Test, r.accuracyN(), r.EvalSeed)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	return dir, shapes3d.Write(dir, idx, shapes3d.WriteOptions{Size: r.Size, Seed: r.EvalSeed, Force: true})
}

// Accuracy is run's accuracy table, measured as 'mtlsplit profile
// --accuracy' measures it (measure.Accuracy on the labelled test scenes,
// every block cut × fp32/fp16/int8/int4), or read from the cache.
func (l *Lab) Accuracy(run *Run) (*profile.AccuracyTable, error) {
	path := filepath.Join(l.Dir, "accuracy", fmt.Sprintf("%s_%s_s%d_%s.yaml", run.Backbone, joinTasks(run.Tasks), run.Seed, l.Recipe.fingerprint()))
	work := l.accuracyWork(run.Backbone, len(run.Graph.Blocks))
	if tab, err := profile.LoadAccuracy(path); err == nil {
		l.Progress.skip(work)
		return tab, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dir, err := l.testDir()
	if err != nil {
		return nil, err
	}
	g := run.Graph
	set, err := dataset.Open(dir, dataset.Options{Classes: factorClasses,
		Preprocess: dataset.Preprocess{Shape: []int{3, l.Recipe.Size, l.Recipe.Size}}})
	if err != nil {
		return nil, err
	}
	defer set.Close()
	cols, _, err := measure.MapTasks(g, set.Tasks(), set.Classes())
	if err != nil {
		return nil, err
	}
	const batch = 8
	var progs []*engine.Program
	defer func() {
		for _, p := range progs {
			p.Close()
		}
	}()
	for range cores.N() {
		p, err := engine.Compile(g, run.Weights, engine.Options{Threads: 1, Batch: batch, Backend: engine.BestBackend()})
		if err != nil {
			return nil, err
		}
		progs = append(progs, p)
	}
	last := 0
	res, err := measure.Accuracy(progs, set, measure.AccuracySettings{Encodings: accuracyEncodings, Columns: cols, Batch: batch,
		Progress: func(done, total int) {
			l.Progress.add(work * float64(done-last) / float64(total))
			last = done
		}})
	if err != nil {
		return nil, err
	}
	tab := res.Table
	tab.Data, tab.Preprocess = dir, set.Preprocess().String()
	for t := range tab.Tasks {
		tab.Tasks[t].Column = set.Tasks()[cols[t]]
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(tab); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, buf.Bytes(), true); err != nil {
		return nil, err
	}
	// Reload: the planner reads the table's index, which parsing builds.
	return profile.LoadAccuracy(path)
}
