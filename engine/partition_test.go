package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// TestPartitionEqualsWhole splits resnet18 inside a residual block (the
// skip and the branch both cross) and checks the two halves, run as two
// programs exchanging tensors, give the whole network's logits exactly.
func TestPartitionEqualsWhole(t *testing.T) {
	g, err := model.New("resnet18", 64, []int{5, 3})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := RandomWeights(g, 4)
	// The device runs everything up to layer2.0's first conv (not its BN).
	edge := map[int]bool{0: true}
	cutAt := -1
	for _, n := range g.Nodes {
		if n.Name == "layer2.0.conv1" {
			cutAt = n.ID
		}
	}
	for _, n := range g.Nodes[1 : cutAt+1] {
		edge[n.ID] = true
	}
	var keep []int
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if edge[in] && !edge[n.ID] {
				keep = append(keep, in)
			}
		}
	}
	if len(keep) < 2 {
		t.Fatalf("cut sends %v: want the skip and the branch", keep)
	}
	opts := Options{Threads: 1, Keep: keep}
	// The same fusion as the halves (a kept tensor is not fused into the
	// next layer), so the comparison can be exact.
	whole, _ := Compile(g, w, opts)
	defer whole.Close()
	a, err := Compile(g, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := Compile(g, w, opts)
	defer b.Close()
	in := make([]float32, 3*64*64)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range in {
		in[i] = float32(rng.NormFloat64())
	}
	_, want, err := whole.RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunNodes(func(id int) bool { return edge[id] }, in); err != nil {
		t.Fatal(err)
	}
	for _, id := range keep {
		x, err := a.Tensor(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetTensor(id, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.RunNodes(func(id int) bool { return !edge[id] }, nil); err != nil {
		t.Fatal(err)
	}
	for task, h := range g.Heads {
		got, err := b.Tensor(h.Output)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want[task] {
			if got[i] != want[task][i] {
				t.Fatalf("task %d logit %d: %g, whole run %g", task, i, got[i], want[task][i])
			}
		}
	}
	// Without Keep the conv and its batch norm are one step: refused.
	c, _ := Compile(g, w, Options{Threads: 1})
	defer c.Close()
	if err := c.RunNodes(func(id int) bool { return edge[id] }, in); err == nil {
		t.Error("a step split between sides ran")
	}
}
