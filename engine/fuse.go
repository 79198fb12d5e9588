package engine

import (
	"slices"

	"github.com/mtlsplit/mtlsplit/model"
)

// A block boundary is a cut a run may end at, so the steps on either side
// of it compile apart: torchvision's vgg16 makes every convolution and the
// ReLU after it blocks of their own, and resnet18 its stem's. A run that
// ends at the cut needs the tensor there as the first step wrote it; a run
// that goes on past it never reads that tensor, and the activation opening
// the next block can then run in the first step's epilogue, writing
// straight into the activation's own output — one pass over the feature
// map instead of two, bit for bit the same values.

// crossFusion is step i's fused form when step i+1 runs in the same call:
// step i, the activation of step i+1 and the buffer it writes.
type crossFusion struct {
	step epilogued
	act  act
	out  []float32
}

// epilogued is a step that can apply an activation on the way out and
// write elsewhere than its own output buffer.
type epilogued interface {
	step
	epilogue() act
	runWith(p *Program, a act, out []float32)
	// elementwise reports whether each output element depends only on the
	// input element at its place, so the step may write over its input.
	elementwise() bool
}

// crossFusions finds, for each step, its fused form with the next step
// (step nil: none): a step without an activation of its own, then a step
// that is only an activation of its output, that output read by nothing
// else, not kept, not the backbone's output (heads read it in their own
// call), and the activation's buffer not one the first step reads (unless
// the first step is elementwise: liveness gives the activation the buffer
// of a batch norm's input, which the batch norm may overwrite in place).
func crossFusions(g *model.Graph, plans []stepPlan, steps []step, value []int, valueBuf map[int]int, bufs [][]float32, keep []int) []crossFusion {
	readers := map[int]int{} // value → nodes reading it
	for _, n := range g.Nodes[1:] {
		if isAlias(n.Op) {
			continue
		}
		for _, in := range n.Inputs {
			readers[value[in]]++
		}
	}
	kept := map[int]bool{value[g.Backbone()]: true}
	for _, id := range keep {
		if id >= 0 && id < len(value) {
			kept[value[id]] = true
		}
	}
	fused := make([]crossFusion, len(steps))
	for i := 0; i+1 < len(plans); i++ {
		first, ok := steps[i].(epilogued)
		next := plans[i+1]
		n := next.nodes[0]
		a, isAct := actOf(n.Op)
		if !ok || first.epilogue() != actNone || !isAct || len(next.nodes) != 1 || len(n.Inputs) != 1 ||
			next.inputs[0] != plans[i].out || readers[plans[i].out] != 1 || kept[plans[i].out] ||
			plans[i].nodes[0].Task >= 0 || n.Task >= 0 {
			continue
		}
		out := valueBuf[next.out]
		if !first.elementwise() && slices.ContainsFunc(plans[i].inputs, func(v int) bool { return valueBuf[v] == out }) {
			continue
		}
		fused[i] = crossFusion{step: first, act: a, out: bufs[out]}
	}
	return fused
}

func (s *convStep) epilogue() act     { return s.act }
func (s *convStep) elementwise() bool { return false }

// runWith runs the convolution with activation a into out.
func (s *convStep) runWith(p *Program, a act, out []float32) {
	act0, out0 := s.act, s.out
	s.setAct(a)
	s.out = out
	s.run(p)
	s.setAct(act0)
	s.out = out0
}

// setAct sets the activation everywhere the step's kernels keep it.
func (s *convStep) setAct(a act) {
	s.act, s.epi.act, s.nk.act = a, a, a
	if s.wino != nil {
		s.wino.act = a
	}
}

func (s *bnStep) epilogue() act     { return s.k.act }
func (s *bnStep) elementwise() bool { return true }

// runWith runs the batch norm with activation a into out.
func (s *bnStep) runWith(p *Program, a act, out []float32) {
	act0, out0 := s.k.act, s.k.y
	s.k.act, s.k.y = a, out
	s.run(p)
	s.k.act, s.k.y = act0, out0
}
