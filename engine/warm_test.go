package engine

import (
	"fmt"
	"sync"
	"testing"
)

// TestWarm: Warm leaves every output bit for bit as it was, finds weights
// in every convolution and linear step whatever kernel runs it, stops when
// told, and races with nothing (run with -race: Warm and Run at once).
func TestWarm(t *testing.T) {
	models := []struct {
		name  string
		size  int
		tasks []int
	}{
		{"resnet18", 64, []int{8, 4}}, // Winograd and im2col convolutions
		{"vgg16", 32, []int{3}},       // large linear layers
		{"mobilenet_v3_small", 57, []int{2}},
	}
	for _, backend := range Backends() {
		for _, m := range models {
			t.Run(fmt.Sprintf("%s/%s", backend, m.name), func(t *testing.T) {
				p := compileRandom(t, m.name, m.size, m.tasks, Options{Threads: 2, Backend: backend})
				for i, s := range p.steps {
					switch s.(type) {
					case *convStep, *linearStep:
						n := 0
						for _, w := range stepWeights(s) {
							n += len(w)
						}
						if n == 0 {
							t.Errorf("step %d (%s): Warm finds no weights", i, p.graph.Nodes[p.stepNodes[i][0]].Name)
						}
					}
				}
				x := randomInput(int(p.CutShape(0).Elems()), 7)
				before, err := p.Run(x)
				if err != nil {
					t.Fatal(err)
				}
				if !p.Warm(nil, nil) {
					t.Fatal("Warm without stop did not finish")
				}
				var wg sync.WaitGroup
				wg.Go(func() {
					for range 3 {
						p.Warm(nil, nil)
					}
				})
				for range 3 {
					after, err := p.Run(x)
					if err != nil {
						t.Fatal(err)
					}
					if !sameBits(before, after) {
						t.Fatal("Run after Warm differs from the run before it")
					}
				}
				wg.Wait()
				calls := 0
				if p.Warm(nil, func() bool { calls++; return calls > 1 }) {
					t.Error("Warm finished though stop asked it to stop")
				}
				if calls != 2 {
					t.Errorf("stop called %d times; want 2 (Warm returns at the first true)", calls)
				}
				if !p.Warm(func(int) bool { return false }, func() bool { t.Error("stop called with no step selected"); return true }) {
					t.Error("Warm with no step selected did not finish")
				}
				p.Close()
				if !p.Warm(nil, nil) {
					t.Error("Warm on a closed Program did not finish")
				}
			})
		}
	}
}
