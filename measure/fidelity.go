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
func Fidelity(p *engine.Program, inputs [][]float32, encs []codec.Encoding, progress func(done, total int)) (*profile.AccuracyTable, error) {
	g := p.Graph()
	nb := p.Cuts()
	if len(inputs) == 0 {
		return nil, fmt.Errorf("fidelity needs at least one input")
	}
	total := nb * len(encs) * len(inputs)
	done := 0
	// Lossless predictions and every cut's tensor, per input.
	ref := make([][]int, len(inputs)) // [input][task]
	acts := make([][][]float32, len(inputs))
	for i, in := range inputs {
		acts[i] = make([][]float32, nb+1)
		acts[i][0] = in
		for k := 0; k < nb; k++ {
			out, err := p.RunRange(k, k+1, acts[i][k])
			if err != nil {
				return nil, err
			}
			acts[i][k+1] = append([]float32(nil), out...)
		}
		for t := range g.Heads {
			logits, err := p.RunHead(t, acts[i][nb])
			if err != nil {
				return nil, err
			}
			ref[i] = append(ref[i], argmax(logits))
		}
	}
	tab := &profile.AccuracyTable{Version: 1, Model: g.Name}
	var buf []byte
	for k := 1; k <= nb; k++ {
		for _, e := range encs {
			agree := make([]int, len(g.Heads))
			for i := range inputs {
				var err error
				if buf, err = engine.Encode(buf[:0], e, acts[i][k]); err != nil {
					return nil, err
				}
				x := make([]float32, len(acts[i][k]))
				if err := engine.Decode(x, e, buf); err != nil {
					return nil, err
				}
				backbone, err := p.RunRange(k, nb, x)
				if err != nil {
					return nil, err
				}
				for t := range g.Heads {
					logits, err := p.RunHead(t, backbone)
					if err != nil {
						return nil, err
					}
					if argmax(logits) == ref[i][t] {
						agree[t]++
					}
				}
				done++
				if progress != nil {
					progress(done, total)
				}
			}
			for t, h := range g.Heads {
				tab.Entries = append(tab.Entries, profile.AccuracyEntry{Task: h.Task, Cut: g.Blocks[k-1].Name, Encoding: e,
					Accuracy: float64(agree[t]) / float64(len(inputs))})
			}
		}
	}
	return tab, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
