package measure

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Fidelity measures, for every cut and encoding, how often each task's
// prediction (the arg max of its logits) stays what the lossless network
// predicts when the cut tensor travels in that encoding: top-1 agreement,
// a fraction. Without labelled data it is the measurable part of accuracy
// loss; with a model's real weights and inputs it is the accuracy relative
// to fp32. The result is an accuracy table the planner takes.
//
// It is the fallback when there is no labelled data (Accuracy is the
// measurement). constant lists the tasks whose fp32 prediction was the same
// on every input: random inputs through random or real weights often all
// land in one class, and then agreement only says the class did not move,
// which proves nothing about the encodings.
//
// input fills x with input i, for i = 0 … n−1 in order. One input is held
// at a time, with its cut tensors, so memory does not grow with n.
func Fidelity(p *engine.Program, n int, input func(i int, x []float32), encs []codec.Encoding, progress func(done, total int)) (tab *profile.AccuracyTable, constant []string, err error) {
	g := p.Graph()
	nb := p.Cuts()
	if n < 1 {
		return nil, nil, fmt.Errorf("fidelity needs at least one input")
	}
	first := make([]int, len(g.Heads))   // each task's first reference prediction
	varies := make([]bool, len(g.Heads)) // whether it ever changed
	total := nb * len(encs) * n
	done := 0
	// agree[k-1][e][t] counts the inputs whose task t survives cut k in
	// encoding e.
	agree := make([][][]int, nb)
	for k := range agree {
		agree[k] = make([][]int, len(encs))
		for e := range agree[k] {
			agree[k][e] = make([]int, len(g.Heads))
		}
	}
	acts := make([][]float32, nb+1) // every cut's tensor of the input
	acts[0] = make([]float32, p.CutShape(0).Elems())
	ref := make([]int, len(g.Heads))
	var buf []byte
	for i := range n {
		input(i, acts[0])
		for k := 0; k < nb; k++ {
			out, err := p.RunRange(k, k+1, acts[k])
			if err != nil {
				return nil, nil, err
			}
			acts[k+1] = out
		}
		for t := range g.Heads {
			logits, err := p.RunHead(t, acts[nb])
			if err != nil {
				return nil, nil, err
			}
			ref[t] = Top1(logits)
			if i == 0 {
				first[t] = ref[t]
			}
			varies[t] = varies[t] || ref[t] != first[t]
		}
		for k := 1; k <= nb; k++ {
			x := make([]float32, len(acts[k]))
			for ei, e := range encs {
				var err error
				if buf, err = engine.Encode(buf[:0], e, acts[k]); err != nil {
					return nil, nil, err
				}
				if err := engine.Decode(x, e, buf); err != nil {
					return nil, nil, err
				}
				backbone, err := p.RunRange(k, nb, x)
				if err != nil {
					return nil, nil, err
				}
				for t := range g.Heads {
					logits, err := p.RunHead(t, backbone)
					if err != nil {
						return nil, nil, err
					}
					if Top1(logits) == ref[t] {
						agree[k-1][ei][t]++
					}
				}
				done++
				if progress != nil {
					progress(done, total)
				}
			}
		}
	}
	tab = &profile.AccuracyTable{Version: 1, Model: g.Name, Method: profile.MethodFidelity, Samples: n}
	for k := 1; k <= nb; k++ {
		for ei, e := range encs {
			for t, h := range g.Heads {
				tab.Entries = append(tab.Entries, profile.AccuracyEntry{Task: h.Task, Cut: g.Blocks[k-1].Name, Encoding: e,
					Accuracy: float64(agree[k-1][ei][t]) / float64(n)})
			}
		}
	}
	for t, h := range g.Heads {
		if !varies[t] {
			constant = append(constant, h.Task)
		}
	}
	return tab, constant, nil
}

// Top1 is the index of the largest logit (the first on a tie): a head's
// prediction.
func Top1(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
