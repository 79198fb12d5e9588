package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/internal/cputime"
	"github.com/mtlsplit/mtlsplit/model"
)

// TestResNetLearnsScenes: a few steps of resnet18 at 32×32 on shapes3d
// scenes (scale and shape) lower the training loss, MTL-Split's recipe
// with a larger learning rate so that it shows in seconds.
func TestResNetLearnsScenes(t *testing.T) {
	tasks, err := ParseTasks("scale,shape")
	if err != nil {
		t.Fatal(err)
	}
	data, err := NewScenes(32, shapes3d.Train, 64, 1234, tasks, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("resnet18", 32, data.Classes())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(g, Config{Batch: 16, Seed: 1234, Dropout: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	tr.LR = 1e-3
	rng := rand.New(rand.NewPCG(1234, 0))
	var losses []float64
	for range 3 {
		r, err := tr.Epoch(data, rng, nil)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, r.TotalLoss())
	}
	t.Logf("mean training loss per epoch (4 steps each): %.3f", losses)
	if losses[2] >= 0.9*losses[0] {
		t.Errorf("training loss went %.3f → %.3f; want a drop of at least 10%%", losses[0], losses[2])
	}
}

func TestParseTasks(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		err  string
	}{
		{"scale,shape", []int{3, 4}, ""},
		{"floor_hue, orientation", []int{0, 5}, ""},
		{"scale,colour", nil, `unknown task "colour" (valid: floor_hue, wall_hue, object_hue, scale, shape, orientation)`},
		{"shape,shape", nil, `task "shape" given twice`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseTasks(c.in)
			if fmt.Sprint(got) != fmt.Sprint(c.want) || (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
				t.Errorf("ParseTasks(%q) = %v, %v; want %v, %q", c.in, got, err, c.want, c.err)
			}
		})
	}
}

// BenchmarkStep trains every zoo model at 64×64, batch 32 (MTL-Split's
// setting), two tasks: images/s is the training throughput, images/cpu-s
// the same per second of the process's CPU time (the machine may be
// shared).
func BenchmarkStep(b *testing.B) {
	for _, name := range model.Zoo() {
		b.Run(name, func(b *testing.B) {
			const batch = 32
			g, err := model.New(name, 64, []int{8, 4})
			if err != nil {
				b.Fatal(err)
			}
			tr, err := New(g, Config{Batch: batch, Seed: 1234, Dropout: 0.1})
			if err != nil {
				b.Fatal(err)
			}
			x, labels := randomBatch(g, batch, 1)
			var r Result
			b.ResetTimer()
			cpu := cputime.Used()
			for range b.N {
				if r, err = tr.Step(x, labels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
			if cpu := cputime.Used() - cpu; cpu > 0 {
				b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "images/cpu-s")
			}
			if r.TotalLoss() <= 0 {
				b.Fatalf("loss %v", r.Loss)
			}
		})
	}
}
