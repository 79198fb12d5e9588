package engine

import (
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

func TestLayerTimesCoverEveryLayer(t *testing.T) {
	g, err := model.New("resnet18", 64, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := RandomWeights(g, 1)
	p, err := Compile(g, w, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	lt, err := p.LayerTimes(make([]float32, 3*64*64), 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, l := range lt {
		if !(l.MedianMS >= 0) || l.P90MS < l.MedianMS || len(l.Nodes) == 0 {
			t.Errorf("step %+v", l)
		}
		for _, n := range l.Nodes {
			if seen[n] {
				t.Errorf("node %d in two steps", n)
			}
			seen[n] = true
		}
	}
	// Every conv, pool, add and linear leads or joins a step.
	for _, n := range g.Nodes {
		switch n.Op {
		case model.OpConv2d, model.OpMaxPool2d, model.OpAdd, model.OpLinear:
			if !seen[n.ID] {
				t.Errorf("%s (%s) not timed", n.Name, n.Op)
			}
		}
	}
}
