package engine

import (
	"cmp"
	"math"
	"slices"

	"github.com/mtlsplit/mtlsplit/model"
)

// bufSpan is one activation buffer's place in the Program's arena, in
// float32s.
type bufSpan struct{ off, n int }

// bufAlign is the float32s a buffer's offset in the arena is a multiple of:
// a cache line, so that vector kernels see the alignment separate
// allocations had.
const bufAlign = 16

// inPlaceOK reports steps whose output may overwrite their first input.
func inPlaceOK(sp stepPlan) bool {
	switch sp.nodes[0].Op {
	case model.OpBatchNorm2d, model.OpAdd, model.OpMul:
		return true
	}
	_, ok := actOf(sp.nodes[0].Op)
	return ok
}

// planBuffers gives every step's value a buffer and every buffer a span of
// one arena, and returns the buffer of each value, the spans and the
// arena's size, in float32s.
//
// With reuse a buffer is alive from the step that writes it to its value's
// last reader (a head's output to the end of the run: the caller reads it
// after the other heads ran), and an elementwise step whose first input
// has no later reader writes over it, in place. Buffers whose lifetimes
// overlap get disjoint spans; the others may share memory. Spans are
// placed largest first, each in the smallest gap left by the overlapping
// buffers already placed (greedy by size, as TensorFlow Lite's and TVM's
// planners do), so the arena comes close to the largest set of tensors
// alive at once. Without reuse every value has memory of its own.
func planBuffers(g *model.Graph, plans []stepPlan, batch int, reuse bool) (map[int]int, []bufSpan, int) {
	end := len(plans)
	lastUse := lastReaders(g, plans)
	type buffer struct{ n, first, last int } // float32s, steps alive
	var bufs []buffer
	valueBuf := map[int]int{}
	newBuf := func(v, n, first int) {
		valueBuf[v] = len(bufs)
		bufs = append(bufs, buffer{n, first, lastUse[v]})
	}
	newBuf(0, satMul(batch, elemsOf(g.Input)), -1)
	for s, sp := range plans {
		need := satMul(batch, elemsOf(g.Nodes[sp.out].OutShape))
		if in := sp.inputs[0]; reuse && inPlaceOK(sp) && lastUse[in] == s {
			b := &bufs[valueBuf[in]]
			valueBuf[sp.out] = valueBuf[in]
			b.n, b.last = max(b.n, need), max(b.last, lastUse[sp.out])
			continue
		}
		newBuf(sp.out, need, s)
	}
	if !reuse {
		for i := range bufs {
			bufs[i].first, bufs[i].last = -1, end
		}
	}
	order := make([]int, len(bufs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(bufs[b].n, bufs[a].n) })
	spans := make([]bufSpan, len(bufs))
	var placed, busy []int
	arena := 0
	for _, i := range order {
		busy = busy[:0]
		for _, j := range placed {
			if bufs[j].first <= bufs[i].last && bufs[i].first <= bufs[j].last {
				busy = append(busy, j)
			}
		}
		slices.SortFunc(busy, func(a, b int) int { return cmp.Compare(spans[a].off, spans[b].off) })
		n := alignUp(bufs[i].n)
		off, gap, at := -1, 0, 0
		for _, j := range busy {
			if g := spans[j].off - at; g >= n && (off < 0 || g < gap) {
				off, gap = at, g
			}
			at = max(at, satAdd(spans[j].off, alignUp(spans[j].n)))
		}
		if off < 0 {
			off = at
		}
		spans[i] = bufSpan{off, bufs[i].n}
		arena = max(arena, satAdd(off, bufs[i].n))
		placed = append(placed, i)
	}
	return valueBuf, spans, arena
}

// alignUp rounds n float32s up to a multiple of bufAlign, saturating.
func alignUp(n int) int {
	if n > math.MaxInt-bufAlign {
		return n
	}
	return (n + bufAlign - 1) / bufAlign * bufAlign
}

// lastReaders is the last step reading each value (the step writing it if
// none does; -1 for an unread input), len(plans) for head outputs.
func lastReaders(g *model.Graph, plans []stepPlan) map[int]int {
	lastUse := map[int]int{0: -1}
	for s, sp := range plans {
		lastUse[sp.out] = s
		for _, v := range sp.inputs {
			lastUse[v] = s
		}
	}
	for _, h := range g.Heads {
		lastUse[h.Output] = len(plans)
	}
	return lastUse
}
