package measure

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/dataset"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Labelled is a data set as Accuracy reads it: dataset.Set satisfies it.
type Labelled interface {
	Len() int
	Elems() int
	Iter(batch int, progress func(done, total int)) *dataset.Iter
}

// AccuracySettings say what Accuracy measures and how.
type AccuracySettings struct {
	// Encodings are tried at every cut; fp32 is always measured (it is the
	// native accuracy the planner compares against) and comes first.
	Encodings []codec.Encoding
	// Columns[t] is the data's label column that head t is scored
	// against (see MapTasks).
	Columns []int
	// Batch is the number of samples per engine call; every Program must
	// be compiled for at least this batch. 0 means 1.
	Batch int
	// Progress, if set, is called with the samples done and the total.
	Progress func(done, total int)
	// Layers measures at every layer (LayerCuts) instead of every block
	// boundary, one sample at a time; the programs must be compiled with
	// engine.Options.Keep = LayerCuts(g). Such a program keeps every
	// layer's tensor (no conv+BN fusion), so its fp32 results may differ
	// from the fused forward pass by float rounding.
	Layers bool
}

// AccuracyResult is what Accuracy measured.
type AccuracyResult struct {
	// Table has an entry per cut (Cuts; the input left out: the raw image
	// travels as the data set holds it), encoding and task, each
	// with its sample count and Wilson 95% interval, the plain forward
	// pass accuracy per task, and the size of every cut after zstd over
	// the data set.
	Table *profile.AccuracyTable
	// Cuts name the cuts measured: block names, or with Layers every
	// layer (block outputs by their block's name, others "name#id").
	Cuts []string
	// Native[t] is head t's correct predictions on the plain forward pass.
	Native []int
	// Correct[c][e][t] counts head t's correct predictions when Cuts[c]
	// travels in Encodings[e].
	Correct [][][]int
	// Encodings are the encodings measured, fp32 first.
	Encodings []codec.Encoding
	// Bytes[c][e] are Cuts[c]'s encoded sizes per sample; with "+zstd",
	// after the lossless stage. Keys: every measured encoding and its
	// "+zstd" variant.
	Bytes []map[codec.Encoding][]int
	N     int
}

// Accuracy scores every task of the programs' graph on a labelled data set
// for every block cut (or layer, with Layers) and encoding: it runs the
// prefix once per cut, then
// for each encoding encodes and decodes the cut tensor of every sample as
// the split runtime does (engine.Encode/Decode, per sample, so int8 and
// int4 take each sample's own scale), finishes the forward pass and
// compares each head's arg max with the label. Samples are spread over the
// programs, one goroutine each (compile them with one thread each and the
// same graph and weights); the counts do not depend on how many there are.
func Accuracy(progs []*engine.Program, data Labelled, s AccuracySettings) (*AccuracyResult, error) {
	if len(progs) == 0 {
		return nil, errors.New("accuracy needs a program")
	}
	g := progs[0].Graph()
	if len(g.Heads) == 0 {
		return nil, fmt.Errorf("%s has no task heads to score", g.Name)
	}
	if len(s.Columns) != len(g.Heads) {
		return nil, fmt.Errorf("%d label columns for %d heads", len(s.Columns), len(g.Heads))
	}
	if want := int(g.Input.Elems()); data.Elems() != want {
		return nil, fmt.Errorf("data items have %d values; %s takes %v (%d)", data.Elems(), g.Name, g.Input, want)
	}
	encs := []codec.Encoding{codec.FP32}
	for _, e := range s.Encodings {
		if e.Compressed() || e == codec.Raw {
			return nil, fmt.Errorf("encoding %s: measure a base encoding (fp32, fp16, int8, int4); its zstd sizes come with it", e)
		}
		if !slices.Contains(encs, e) {
			encs = append(encs, e)
		}
	}
	batch := max(s.Batch, 1)
	n := data.Len()
	res := &AccuracyResult{Encodings: encs, N: n, Native: make([]int, len(g.Heads))}
	var layers []layerPlan
	if s.Layers {
		cuts := LayerCuts(g)
		layers = planLayers(g, cuts)
		for _, c := range cuts {
			res.Cuts = append(res.Cuts, profile.LayerCutName(g, c))
		}
	} else {
		for _, b := range g.Blocks {
			res.Cuts = append(res.Cuts, b.Name)
		}
	}
	nb := len(res.Cuts)
	res.Correct = make([][][]int, nb)
	res.Bytes = make([]map[codec.Encoding][]int, nb)
	for k := range nb {
		res.Correct[k] = make([][]int, len(encs))
		for e := range encs {
			res.Correct[k][e] = make([]int, len(g.Heads))
		}
		res.Bytes[k] = map[codec.Encoding][]int{}
		for _, e := range encs {
			res.Bytes[k][e] = make([]int, n)
			res.Bytes[k][e+"+zstd"] = make([]int, n)
		}
	}

	type job struct {
		x      []float32
		labels [][]int
		start  int
	}
	jobs := make(chan job)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	for _, p := range progs {
		w := &accWorker{p: p, g: g, encs: encs, cols: s.Columns, res: res, layers: layers}
		wg.Go(func() {
			for j := range jobs {
				if failed() {
					continue // drain: the sender stops at its next batch
				}
				if err := w.batch(j.x, j.labels, j.start); err != nil {
					fail(err)
				}
			}
			mu.Lock()
			merge(res, w)
			mu.Unlock()
		})
	}
	it := data.Iter(batch, s.Progress)
	for it.Next() {
		if failed() {
			break
		}
		// The iterator reuses its buffer: each job gets its own copy.
		jobs <- job{x: slices.Clone(it.X()), labels: it.Labels(), start: it.Start()}
	}
	close(jobs)
	it.Close()
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := it.Err(); err != nil {
		return nil, &DataError{Err: err}
	}
	res.Table = res.table(g)
	return res, nil
}

// accWorker scores batches on one program; its counts are merged at the end.
type accWorker struct {
	p      *engine.Program
	g      *model.Graph
	encs   []codec.Encoding
	cols   []int
	res    *AccuracyResult // only Bytes is written, at this worker's samples
	layers []layerPlan     // with AccuracySettings.Layers
	native []int
	right  [][][]int
	acts   [][]float32
	x      []float32
	buf, z []byte
}

func (w *accWorker) batch(x []float32, labels [][]int, start int) error {
	nb, nh := len(w.res.Cuts), len(w.g.Heads)
	if w.right == nil {
		w.native = make([]int, nh)
		w.right = make([][][]int, nb)
		for k := range w.right {
			w.right[k] = make([][]int, len(w.encs))
			for e := range w.right[k] {
				w.right[k][e] = make([]int, nh)
			}
		}
		w.acts = make([][]float32, nb+1)
	}
	if w.layers != nil {
		per := len(x) / len(labels)
		for s := range labels {
			if err := w.sample(x[s*per:(s+1)*per], labels[s], start+s); err != nil {
				return err
			}
		}
		return nil
	}
	// The prefix, once per cut: acts[k] is the tensor at cut k.
	w.acts[0] = x
	for k := range nb {
		out, err := w.p.RunRange(k, k+1, w.acts[k])
		if err != nil {
			return err
		}
		w.acts[k+1] = out
	}
	if err := w.score(w.acts[nb], labels, w.native); err != nil {
		return err
	}
	for k := 1; k <= nb; k++ {
		act := w.acts[k]
		per := len(act) / len(labels)
		w.x = slices.Grow(w.x[:0], len(act))[:len(act)]
		for ei, e := range w.encs {
			for s := range labels {
				if err := w.roundTrip(e, act[s*per:(s+1)*per], w.x[s*per:(s+1)*per], k-1, start+s); err != nil {
					return err
				}
			}
			backbone := w.x
			if k < nb {
				var err error
				if backbone, err = w.p.RunRange(k, nb, w.x); err != nil {
					return err
				}
			}
			if err := w.score(backbone, labels, w.right[k-1][ei]); err != nil {
				return err
			}
		}
	}
	return nil
}

// roundTrip encodes one sample's tensor at cut c as the split runtime
// sends it, records its size before and after zstd, and decodes it into
// dst.
func (w *accWorker) roundTrip(e codec.Encoding, src, dst []float32, c, sample int) error {
	var err error
	if w.buf, err = engine.Encode(w.buf[:0], e, src); err != nil {
		return fmt.Errorf("cut %s, %s, sample %d: %w", w.res.Cuts[c], e, sample, err)
	}
	if w.z, err = engine.Compress(w.z[:0], w.buf); err != nil {
		return err
	}
	w.res.Bytes[c][e][sample] = len(w.buf)
	w.res.Bytes[c][e+"+zstd"][sample] = len(w.z)
	return engine.Decode(dst, e, w.buf)
}

// score runs every head on a batch of backbone outputs and counts, per
// head, the samples whose arg max is the label.
func (w *accWorker) score(backbone []float32, labels [][]int, right []int) error {
	for t, h := range w.g.Heads {
		logits, err := w.p.RunHead(t, backbone)
		if err != nil {
			return err
		}
		for s, l := range labels {
			if Top1(logits[s*h.Classes:(s+1)*h.Classes]) == l[w.cols[t]] {
				right[t]++
			}
		}
	}
	return nil
}

func merge(res *AccuracyResult, w *accWorker) {
	if w.right == nil { // this worker got no batch
		return
	}
	for t, c := range w.native {
		res.Native[t] += c
	}
	for k := range w.right {
		for e := range w.right[k] {
			for t, c := range w.right[k][e] {
				res.Correct[k][e][t] += c
			}
		}
	}
}

// table writes the counts as an accuracy table.
func (r *AccuracyResult) table(g *model.Graph) *profile.AccuracyTable {
	tab := &profile.AccuracyTable{Version: 1, Model: g.Name, Method: profile.MethodLabelled, Samples: r.N, Interval: IntervalName}
	for t, h := range g.Heads {
		lo, hi := Wilson(r.Native[t], r.N)
		tab.Tasks = append(tab.Tasks, profile.AccuracyTask{Task: h.Task, Classes: h.Classes,
			Accuracy: frac(r.Native[t], r.N), Samples: r.N, CILow: round6(lo), CIHigh: round6(hi)})
	}
	for k := range r.Correct {
		cut := r.Cuts[k]
		for ei, e := range r.Encodings {
			for t, h := range g.Heads {
				c := r.Correct[k][ei][t]
				lo, hi := Wilson(c, r.N)
				tab.Entries = append(tab.Entries, profile.AccuracyEntry{Task: h.Task, Cut: cut, Encoding: e,
					Accuracy: frac(c, r.N), Samples: r.N, CILow: round6(lo), CIHigh: round6(hi)})
			}
		}
		for _, e := range r.Encodings {
			z := e + "+zstd"
			tab.Sizes = append(tab.Sizes, SizeStats(cut, z, r.Bytes[k][z]))
		}
	}
	return tab
}

// DataError is a data set item that could not be read (a file corrupt
// past its header, a value that is not finite): bad input, unlike the
// engine's failures.
type DataError struct{ Err error }

func (e *DataError) Error() string { return e.Err.Error() }
func (e *DataError) Unwrap() error { return e.Err }

// IntervalName names the interval Accuracy records.
const IntervalName = "wilson-95"

// z95 is the standard normal quantile of 0.975.
const z95 = 1.959963984540054

// Wilson is the Wilson score interval at 95% for k successes in n trials:
// unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not empty at
// k = 0 or k = n, which is where a good encoding's accuracy sits.
func Wilson(k, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p, nf, z2 := float64(k)/float64(n), float64(n), z95*z95
	den := 1 + z2/nf
	mid := (p + z2/(2*nf)) / den
	half := z95 / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, mid-half), min(1, mid+half)
}

// SizeStats summarizes per-sample sizes: mean, nearest-rank p95, max.
func SizeStats(cut string, e codec.Encoding, sizes []int) profile.CutSize {
	c := profile.CutSize{Cut: cut, Encoding: e}
	if len(sizes) == 0 {
		return c
	}
	sorted := slices.Clone(sizes)
	slices.Sort(sorted)
	sum := 0.0
	for _, v := range sorted {
		sum += float64(v)
	}
	c.MeanBytes = math.Round(sum/float64(len(sorted))*10) / 10
	c.P95Bytes = int64(sorted[int(math.Ceil(0.95*float64(len(sorted))))-1])
	c.MaxBytes = int64(sorted[len(sorted)-1])
	return c
}

func frac(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// round6 keeps six decimals: the written table stays readable and the
// interval still holds the accuracy (its ends move outwards by < 1e-6 at
// most, which validation allows).
func round6(v float64) *float64 {
	r := math.Round(v*1e6) / 1e6
	return &r
}

// MapTasks says which label column each head of g is scored against, given
// the data set's task columns and class counts. The rule: when every head's
// task name is a column, by name (other columns, such as factors the model
// does not predict, are left alone); otherwise, when no column is named like
// a head and the counts agree, by order (column i → head i); anything else
// is refused. So is a column whose classes do not fit its head. Errors are
// bad input, one line.
func MapTasks(g *model.Graph, columns []string, classes []int) (cols []int, byName bool, err error) {
	var heads []string
	for _, h := range g.Heads {
		heads = append(heads, h.Task)
	}
	cols = make([]int, len(heads))
	byName = true
	for t, h := range heads {
		if cols[t] = slices.Index(columns, h); cols[t] < 0 {
			byName = false
		}
	}
	if !byName {
		if len(columns) != len(heads) {
			return nil, false, fmt.Errorf("the data has %d label columns (%s) but %s has %d task heads (%s): name a column after each head, or give one column per head",
				len(columns), join(columns), g.Name, len(heads), join(heads))
		}
		for i, c := range columns {
			if j := slices.Index(heads, c); j >= 0 {
				return nil, false, fmt.Errorf("label column %q names head %d of %s but the other columns (%s) do not match its heads (%s): name every column after a head, or none",
					c, j+1, g.Name, join(columns), join(heads))
			}
			cols[i] = i
		}
	}
	for t, h := range g.Heads {
		if k := classes[cols[t]]; k > h.Classes {
			return nil, false, fmt.Errorf("label column %q has %d classes but head %s has %d outputs: labels must be below %d",
				columns[cols[t]], k, h.Task, h.Classes, h.Classes)
		}
	}
	return cols, byName, nil
}

func join(v []string) string { return strings.Join(v, ",") }
