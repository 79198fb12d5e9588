package train

import (
	"math"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/model"
)

// newRun is a fresh efficientnet_b0 run (dropout, stochastic depth and
// batch norm all draw or keep state) on 32 scenes at 32×32, batch 16.
func newRun(t *testing.T, data *Scenes, epochs int) *Run {
	t.Helper()
	g, err := model.New("efficientnet_b0", 32, data.Classes())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(g, Config{Batch: 16, Seed: 7, Dropout: 0.1, Optimizer: &AdamW{WeightDecay: 1e-6}})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := NewStepLR(1e-3, epochs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRun(tr, data, sched, epochs, 7)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResumeIsBitIdentical: two epochs straight, and one epoch, a
// checkpoint, a new trainer resumed from it and the second epoch, end with
// the same weights, running statistics and optimizer moments, bit for bit.
func TestResumeIsBitIdentical(t *testing.T) {
	data, err := NewScenes(32, shapes3d.Train, 32, 3, []int{3, 4}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	straight := newRun(t, data, 2)
	for !straight.Done() {
		if _, err := straight.Next(nil); err != nil {
			t.Fatal(err)
		}
	}
	first := newRun(t, data, 2)
	if _, err := first.Next(nil); err != nil {
		t.Fatal(err)
	}
	ck, err := first.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	resumed := newRun(t, data, 2)
	if err := resumed.Resume(ck); err != nil {
		t.Fatal(err)
	}
	if resumed.Epoch != 1 {
		t.Fatalf("resumed at epoch %d, want 1", resumed.Epoch)
	}
	if _, err := resumed.Next(nil); err != nil {
		t.Fatal(err)
	}
	a, b := straight.T, resumed.T
	differ := 0
	for i, p := range a.params {
		if !sameBits(p.data, b.params[i].data) {
			differ++
			t.Errorf("%s differs after resuming", p.info.Key())
		}
	}
	for name, st := range a.stats {
		if !sameBits(st.mean, b.stats[name].mean) || !sameBits(st.variance, b.stats[name].variance) {
			t.Errorf("running statistics of %s differ after resuming", name)
		}
	}
	oa, ob := a.cfg.Optimizer.(*AdamW), b.cfg.Optimizer.(*AdamW)
	if oa.step != 4 || ob.step != oa.step {
		t.Errorf("optimizer steps %d and %d, want 4", oa.step, ob.step)
	}
	for i := range oa.m {
		if !sameBits(oa.m[i], ob.m[i]) || !sameBits(oa.v[i], ob.v[i]) {
			t.Errorf("moments of %s differ after resuming", a.params[i].info.Key())
		}
	}
	// The weights moved: the comparison is not of two untouched models.
	if c := newRun(t, data, 2); sameBits(c.T.params[0].data, a.params[0].data) {
		t.Error("training left the first tensor unchanged")
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestResumeRefuses: a checkpoint resumes only its own model and data.
func TestResumeRefuses(t *testing.T) {
	data, err := NewScenes(32, shapes3d.Train, 32, 3, []int{3, 4}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(t, data, 2)
	ck, err := r.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewScenes(32, shapes3d.Train, 48, 3, []int{3, 4}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("mobilenet_v3_small", 32, data.Classes())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(g, Config{Batch: 16, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	mobile, err := NewRun(tr, data, StepLR{Base: 1e-3}, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  *Run
		b    []byte
		want string
	}{
		{"garbage", newRun(t, data, 2), []byte("not a checkpoint"), "not a training checkpoint"},
		{"other model", mobile, ck, "another model"},
		{"other data", func() *Run { r := newRun(t, data, 2); r.Data = other; return r }(), ck, "data has 32 items, this data 48"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run.Resume(c.b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Resume: %v; want %q", err, c.want)
			}
		})
	}
}
