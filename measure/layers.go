package measure

import (
	"github.com/mtlsplit/mtlsplit/model"
)

// view reports whether op's output is its input's tensor (the engine runs
// no step for it), so a cut there is a cut at its input.
func view(op model.Op) bool {
	return op == model.OpDropout || op == model.OpStochasticDepth || op == model.OpFlatten
}

// LayerCuts are the nodes whose outputs Accuracy measures with Layers set:
// every backbone node with a tensor of its own (views left out), the input
// excluded. Compile the programs with engine.Options.Keep set to them, so
// that every one is a tensor that can be replaced.
func LayerCuts(g *model.Graph) []int {
	var out []int
	for _, n := range g.Nodes {
		if n.ID > 0 && n.Task < 0 && !view(n.Op) {
			out = append(out, n.ID)
		}
	}
	return out
}

// layerPlan is what a layer-level run needs per cut: the node and the
// tensors alive right after it (its own among them), which a run of the
// rest reads.
type layerPlan struct {
	node int
	live []int
}

func planLayers(g *model.Graph, cuts []int) []layerPlan {
	source := func(id int) int { // the node whose tensor id is
		for view(g.Nodes[id].Op) {
			id = g.Nodes[id].Inputs[0]
		}
		return id
	}
	lastRead := make([]int, len(g.Nodes)) // the last node reading each tensor
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			s := source(in)
			lastRead[s] = max(lastRead[s], n.ID)
		}
	}
	var plans []layerPlan
	for _, c := range cuts {
		p := layerPlan{node: c}
		for v := 0; v <= c; v++ {
			if v == c || (!view(g.Nodes[v].Op) && lastRead[v] > c) {
				p.live = append(p.live, v)
			}
		}
		plans = append(plans, p)
	}
	return plans
}

// sample scores one sample at every layer cut: one forward pass, step by
// step, pausing after each cut to copy the live tensors once and run the
// rest of the network once per encoding from them.
func (w *accWorker) sample(x []float32, labels []int, idx int) error {
	g := w.g
	nh := len(g.Heads)
	every := func(int) bool { return true }
	if err := w.p.RunNodes(every, x); err != nil {
		return err
	}
	if err := w.scoreNodes(labels, w.native); err != nil {
		return err
	}
	prev := 0
	for ci, lp := range w.layers {
		var in []float32
		if prev == 0 {
			in = x
		}
		from := prev
		if err := w.p.RunNodes(func(id int) bool { return id > from && id <= lp.node }, in); err != nil {
			return err
		}
		prev = lp.node
		snap := make([][]float32, len(lp.live))
		for i, v := range lp.live {
			t, err := w.p.Tensor(v)
			if err != nil {
				return err
			}
			snap[i] = t
		}
		own := snap[len(snap)-1] // lp.live ends with the cut's node
		dec := make([]float32, len(own))
		for ei, e := range w.encs {
			if err := w.roundTrip(e, own, dec, ci, idx); err != nil {
				return err
			}
			for i, v := range lp.live[:len(lp.live)-1] {
				if err := w.p.SetTensor(v, snap[i]); err != nil {
					return err
				}
			}
			if err := w.p.SetTensor(lp.node, dec); err != nil {
				return err
			}
			if err := w.p.RunNodes(func(id int) bool { return id > lp.node }, nil); err != nil {
				return err
			}
			if err := w.scoreNodes(labels, w.right[ci][ei][:nh]); err != nil {
				return err
			}
		}
		// The next cut's prefix goes on from the tensors alive here.
		for i, v := range lp.live {
			if err := w.p.SetTensor(v, snap[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// scoreNodes counts, for one sample run with RunNodes, the heads whose arg
// max is the label.
func (w *accWorker) scoreNodes(labels []int, right []int) error {
	for t, h := range w.g.Heads {
		logits, err := w.p.Tensor(h.Output)
		if err != nil {
			return err
		}
		if Top1(logits) == labels[w.cols[t]] {
			right[t]++
		}
	}
	return nil
}
