package measure

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/dataset"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// ownPredictions builds a zoo model with seeded random weights, writes n
// seeded images (smooth colour gradients with noise) as a data set, centres
// each head's final bias on those images (random weights tend to predict
// one class for everything; minus the mean logit, the prediction follows
// the image), and labels every image with the network's own fp32
// prediction, one column per head named as columns says. On that set the
// network is right by construction: every fp32 accuracy must be exactly 1,
// and what an encoding loses shows as the predictions it moves. It returns
// programs (one thread each) compiled for batch samples, keeping every
// layer's tensor when layers is set.
func ownPredictions(t testing.TB, name string, size int, tasks []int, n, programs, batch int, columns []string, layers bool) ([]*engine.Program, *dataset.Set) {
	t.Helper()
	g, err := model.New(name, size, tasks)
	if err != nil {
		t.Fatal(err)
	}
	w, err := engine.RandomWeights(g, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	imgs := make([]image.Image, n)
	for i := range imgs {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		var base, slope [3]float64
		for c := range 3 {
			base[c], slope[c] = rng.Float64()*255, (rng.Float64()-0.5)*8
		}
		for y := range size {
			for x := range size {
				var v [3]uint8
				for c := range 3 {
					f := base[c] + slope[c]*float64(x+y-size) + rng.NormFloat64()*20
					v[c] = uint8(min(max(f, 0), 255))
				}
				img.SetRGBA(x, y, color.RGBA{v[0], v[1], v[2], 255})
			}
		}
		imgs[i] = img
	}
	dir := filepath.Join(t.TempDir(), "data")
	labels := make([][]int, n)
	for i := range labels {
		labels[i] = make([]int, len(g.Heads))
	}
	set := writeSet(t, dir, columns, imgs, labels, size)
	logits := func() [][][]float32 { // [image][head][class]
		p, err := engine.Compile(g, w, engine.Options{Threads: 1, Backend: engine.BestBackend()})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		x := make([]float32, set.Elems())
		out := make([][][]float32, n)
		for i := range n {
			if err := set.Batch(i, 1, x); err != nil {
				t.Fatal(err)
			}
			if _, out[i], err = p.RunAll(x); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	before := logits()
	for h, head := range g.Heads {
		node := head.Task + ".3" // the head's last Linear (model.AddHead)
		bias := append([]float32(nil), w.Get(node, "bias")...)
		for c := range bias {
			mean := 0.0
			for i := range n {
				mean += float64(before[i][h][c])
			}
			bias[c] -= float32(mean / float64(n))
		}
		if err := w.Set(node, "bias", bias); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range logits() {
		for h := range l {
			labels[i][h] = Top1(l[h])
		}
	}
	set = writeSet(t, dir, columns, imgs, labels, size)
	var progs []*engine.Program
	for range programs {
		o := engine.Options{Threads: 1, Batch: batch, Backend: engine.BestBackend()}
		if layers {
			o.Keep = LayerCuts(g)
		}
		p, err := engine.Compile(g, w, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		progs = append(progs, p)
	}
	return progs, set
}

// writeSet writes images and labels as a data set and opens it.
func writeSet(t testing.TB, dir string, columns []string, imgs []image.Image, labels [][]int, size int) *dataset.Set {
	t.Helper()
	w, err := dataset.NewWriter(dir, columns, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		if err := w.Add(fmt.Sprintf("img/%04d.png", i), img, labels[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	set, err := dataset.Open(dir, dataset.Options{Preprocess: dataset.Preprocess{Shape: []int{3, size, size}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

// TestAccuracyOwnPredictions is the done-when: on labels that are
// the fp32 network's own predictions, fp32 at every cut equals the plain
// forward pass (1.0, bit for bit the same predictions), and int4 at the
// earliest cuts is measurably lower than fp32 at the latest. The counts do
// not depend on the number of programs or the batch.
func TestAccuracyOwnPredictions(t *testing.T) {
	const n = 32
	progs, set := ownPredictions(t, "mobilenet_v3_small", 32, []int{10, 6}, n, 2, 4, []string{"task1", "task2"}, false)
	encs := []codec.Encoding{codec.FP16, codec.Int8, codec.Int4}
	res, err := Accuracy(progs, set, AccuracySettings{Encodings: encs, Columns: []int{0, 1}, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	g := progs[0].Graph()
	tab := res.Table
	if len(tab.Entries) != len(g.Blocks)*4*2 || tab.Samples != n || tab.Method != profile.MethodLabelled {
		t.Fatalf("%d entries, %d samples, method %q", len(tab.Entries), tab.Samples, tab.Method)
	}
	for t2, task := range tab.Tasks {
		if task.Accuracy != 1 || res.Native[t2] != n {
			t.Errorf("%s: plain forward pass accuracy %g on its own predictions", task.Task, task.Accuracy)
		}
	}
	for _, e := range tab.Entries {
		if e.Encoding == codec.FP32 && e.Accuracy != 1 {
			t.Errorf("fp32 at %s: %s accuracy %g, the forward pass gives 1", e.Cut, e.Task, e.Accuracy)
		}
		if e.Samples != n || *e.CILow > e.Accuracy || *e.CIHigh < e.Accuracy {
			t.Errorf("%s %s %s: accuracy %g, n %d, interval [%g, %g]", e.Cut, e.Encoding, e.Task, e.Accuracy, e.Samples, *e.CILow, *e.CIHigh)
		}
	}
	// The table loads back (strict decoding) and checks against the graph.
	back := roundTrip(t, tab)
	if err := back.Check(g); err != nil {
		t.Fatal(err)
	}
	first, last := g.Blocks[0].Name, g.Blocks[len(g.Blocks)-1].Name
	for _, task := range []string{"task1", "task2"} {
		int4, _ := back.Accuracy(task, first, codec.Int4)
		fp32, _ := back.Accuracy(task, last, codec.FP32)
		t.Logf("%s: int4 at %s %.3f, fp32 at %s %.3f", task, first, int4, last, fp32)
		if !(int4 < fp32-0.1) {
			t.Errorf("%s: int4 at %s gives %g, not measurably below fp32 at %s (%g)", task, first, int4, last, fp32)
		}
	}
	// One program and another batch size count the same.
	one, err := Accuracy(progs[:1], set, AccuracySettings{Encodings: []codec.Encoding{codec.Int4}, Columns: []int{0, 1}, Batch: 3})
	if err == nil {
		for k := range res.Correct {
			for e, enc := range one.Encodings { // fp32 and int4
				r := res.Correct[k][slices.Index(res.Encodings, enc)]
				for h := range r {
					if one.Correct[k][e][h] != r[h] {
						t.Errorf("cut %d %s head %d: %d right with one program, %d with two", k+1, enc, h, one.Correct[k][e][h], r[h])
					}
				}
			}
		}
	} else {
		t.Fatal(err)
	}
	// Sizes after zstd: one per cut and encoding, mean ≤ p95 ≤ max, and
	// never more than zstd's frame overhead above the encoding itself.
	if len(tab.Sizes) != len(g.Blocks)*4 {
		t.Fatalf("%d sizes", len(tab.Sizes))
	}
	for _, s := range tab.Sizes {
		base := s.Encoding.Base().Bytes(profile.Cuts(g)[cutIndex(g, s.Cut)].Shape.Elems())
		if !(s.MeanBytes > 0 && s.MeanBytes <= float64(s.MaxBytes) && s.P95Bytes <= s.MaxBytes && s.MaxBytes <= base+64) {
			t.Errorf("%s %s: mean %g p95 %d max %d (encoded %d)", s.Cut, s.Encoding, s.MeanBytes, s.P95Bytes, s.MaxBytes, base)
		}
	}
}

// cutIndex is the index of a block cut by name in profile.Cuts.
func cutIndex(g *model.Graph, cut string) int {
	for i, c := range profile.Cuts(g) {
		if c.Name == cut {
			return i
		}
	}
	return -1
}

func roundTrip(t *testing.T, tab *profile.AccuracyTable) *profile.AccuracyTable {
	t.Helper()
	raw, err := yaml.Marshal(tab)
	if err != nil {
		t.Fatal(err)
	}
	back, err := profile.ParseAccuracy(raw)
	if err != nil {
		t.Fatalf("written table does not load: %v\n%s", err, raw)
	}
	return back
}

func TestWilson(t *testing.T) {
	for _, c := range []struct {
		name   string
		k, n   int
		lo, hi float64
	}{
		// Reference values: the closed form (Wilson 1927) evaluated in Python
		// with z = 1.959964; 90/100 is the textbook [0.8256, 0.9448].
		{"all right of 10", 10, 10, 0.722467, 1},
		{"none right of 10", 0, 10, 0, 0.277533},
		{"half of 100", 50, 100, 0.403832, 0.596168},
		{"90 of 100", 90, 100, 0.825634, 0.944771},
		{"no samples", 0, 0, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := Wilson(c.k, c.n)
			if math.Abs(lo-c.lo) > 1e-6 || math.Abs(hi-c.hi) > 1e-6 {
				t.Errorf("Wilson(%d, %d) = [%.6f, %.6f], want [%.6f, %.6f]", c.k, c.n, lo, hi, c.lo, c.hi)
			}
		})
	}
}

func TestSizeStats(t *testing.T) {
	// 20 sizes 1…20: mean 10.5, nearest-rank p95 the 19th, max 20.
	var v []int
	for i := 20; i >= 1; i-- {
		v = append(v, i)
	}
	s := SizeStats("layer1", "int8+zstd", v)
	if s.MeanBytes != 10.5 || s.P95Bytes != 19 || s.MaxBytes != 20 {
		t.Errorf("%+v", s)
	}
}

func TestMapTasks(t *testing.T) {
	g, err := model.New("resnet18", 32, []int{4, 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		columns []string
		classes []int
		cols    []int
		byName  bool
		err     string
	}{
		{"by name, reordered", []string{"task2", "task1"}, []int{3, 4}, []int{1, 0}, true, ""},
		// A data set labels more than the model predicts (3D Shapes has six
		// factors): the heads' columns are found by name, the rest left.
		{"by name, extra columns", []string{"floor", "task2", "scale", "task1"}, []int{10, 3, 8, 4}, []int{3, 1}, true, ""},
		{"by order", []string{"shape", "colour"}, []int{4, 2}, []int{0, 1}, false, ""},
		{"too few columns", []string{"shape"}, []int{4}, nil, false, "the data has 1 label columns (shape) but resnet18 has 2 task heads (task1,task2)"},
		{"too many columns", []string{"a", "b", "c"}, []int{1, 1, 1}, nil, false, "3 label columns"},
		{"half named", []string{"task2", "colour"}, []int{3, 3}, nil, false, `label column "task2" names head 2`},
		{"class out of range", []string{"shape", "colour"}, []int{4, 5}, nil, false, `label column "colour" has 5 classes but head task2 has 3 outputs`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cols, byName, err := MapTasks(g, c.columns, c.classes)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want %q on one line", err, c.err)
				}
				return
			}
			if err != nil || byName != c.byName || len(cols) != len(c.cols) || cols[0] != c.cols[0] || cols[1] != c.cols[1] {
				t.Errorf("cols %v by name %v err %v, want %v %v", cols, byName, err, c.cols, c.byName)
			}
		})
	}
}

// TestFidelityConstant: a reference whose prediction never changes is
// reported.
func TestFidelityConstant(t *testing.T) {
	p := program(t)
	in := inputs(1)
	_, constant, err := Fidelity(p, 3, func(_ int, x []float32) { copy(x, in[0]) }, []codec.Encoding{codec.Int8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(constant) != 2 {
		t.Errorf("the same input three times: constant tasks %v, want both", constant)
	}
}

// BenchmarkAccuracy is profile --accuracy's throughput: one or two
// single-threaded programs (the two cores), batches of 8, every cut, fp32,
// fp16, int8 and int4 with their zstd sizes, PNG decoding included.
func BenchmarkAccuracy(b *testing.B) {
	const n = 16
	for _, name := range []string{"resnet18", "mobilenet_v3_small"} {
		for _, programs := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/64px/%dprograms", name, programs), func(b *testing.B) {
				progs, set := ownPredictions(b, name, 64, []int{8, 4}, n, programs, 8, []string{"task1", "task2"}, false)
				s := AccuracySettings{Encodings: []codec.Encoding{codec.FP16, codec.Int8, codec.Int4}, Columns: []int{0, 1}, Batch: 8}
				var res *AccuracyResult
				b.ResetTimer()
				for b.Loop() {
					var err error
					if res, err = Accuracy(progs, set, s); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
				if res.Native[0] != n {
					b.Fatalf("fp32 forward pass right on %d of %d own predictions", res.Native[0], n)
				}
			})
		}
	}
}
