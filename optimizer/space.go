package optimizer

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// choices enumerates the search space: every cut with every allowed
// encoding, heads on the server; and at the end of the backbone every
// placement of the heads (all on the edge is local-only, which sends
// nothing). A head never runs on the edge after the backbone left it: no
// tensor travels back towards the device.
func (p *Problem) choices() []blockChoice {
	g := p.Graph
	cuts := profile.Cuts(g)
	nt, nb := len(g.Heads), len(g.Blocks)
	out := make([]blockChoice, 0, (len(cuts)+1<<nt)*len(p.Encodings)) // a bound: no regrowing
	for _, cut := range cuts {
		encs := p.Encodings
		if cut.Index == 0 {
			encs = []codec.Encoding{codec.Raw}
		}
		masks := 1
		if cut.Index == nb {
			masks = 1 << nt
		}
		for m := 0; m < masks; m++ {
			heads := make([]bool, nt)
			for t := range heads {
				heads[t] = m&(1<<t) != 0
			}
			if m == masks-1 && cut.Index == nb {
				out = append(out, blockChoice{cut: cut.Index, headsOnEdge: heads})
				continue
			}
			for _, e := range encs {
				out = append(out, blockChoice{cut: cut.Index, enc: e, headsOnEdge: heads})
			}
		}
	}
	return out
}

// Constraint groups, named as errors and plans name them.
const (
	ConstraintMemory   = "edge memory"
	ConstraintBytes    = "max bytes"
	ConstraintAccuracy = "accuracy floor"
	ConstraintDeadline = "deadline"
)

// violation names the first static constraint the candidate breaks, or "".
// The deadline depends on the uplink and is checked separately.
func (p *Problem) violation(cd *candidate) string {
	c := p.Constraints
	if c.MaxEdgeMemoryBytes > 0 && cd.memory > c.MaxEdgeMemoryBytes {
		return ConstraintMemory
	}
	if c.MaxBytes > 0 && cd.bytes > c.MaxBytes {
		return ConstraintBytes
	}
	for i, h := range p.Graph.Heads {
		if floor, ok := c.MinAccuracy[h.Task]; ok && !(cd.accuracy[i] >= floor) {
			return ConstraintAccuracy
		}
	}
	return ""
}

// candidates builds every choice and splits them into those meeting the
// static constraints and all of them (for diagnosis and baselines).
func (p *Problem) candidates() (feasible, all []*candidate) {
	s := p.newBlockSpace()
	for i, c := range p.choices() {
		if _, ok := p.tensorBytes(s.u, c.cut, c.enc); c.sends() && !ok {
			continue // a lossless stage with no measured size at this cut
		}
		cd := s.candidate(c, i)
		all = append(all, &cd)
		if p.violation(&cd) == "" {
			feasible = append(feasible, &cd)
		}
	}
	return feasible, all
}

// blockSpace holds what every block-level candidate shares, so that one
// costs O(tasks) rather than O(graph): sums of latency over the blocks
// before and after each cut, and the edge memory of running the blocks
// before each cut. Its candidates equal newCandidate's (tested) but carry
// no placement.
type blockSpace struct {
	p *Problem
	u *units
	// edgeTo[k] is the device's time for units 0..k (the input and the
	// first k blocks); serverFrom[k] the server's for units k..nb.
	edgeTo, serverFrom []float64
	// memory[k] is the edge memory (weights + peak activations) of the
	// first k blocks with every head on the server; −1 where the boundary
	// after block k is not a single-tensor cut, so that running the blocks
	// alone frees tensors earlier than the whole backbone does.
	memory []int64
	// otherMemory is the edge memory of the other choices, by cut and
	// head placement.
	otherMemory map[string]int64
}

func (p *Problem) newBlockSpace() *blockSpace {
	u := p.units(BlockLevel)
	nb := len(p.Graph.Blocks)
	s := &blockSpace{p: p, u: u, edgeTo: make([]float64, nb+1), serverFrom: make([]float64, nb+2), otherMemory: map[string]int64{}}
	for k := range nb + 1 {
		s.edgeTo[k] = u.ms[0][k]
		if k > 0 {
			s.edgeTo[k] += s.edgeTo[k-1]
		}
	}
	for k := nb; k >= 0; k-- {
		s.serverFrom[k] = s.serverFrom[k+1] + u.ms[1][k]
	}
	s.memory = prefixMemory(p.Graph, p.Tiers[0].Cost.BytesPerElem)
	return s
}

// prefixMemory is, for every k, the edge memory of running the input and
// the first k blocks (see blockSpace.memory), from one sweep over the
// backbone in topological order with last-use indices: before a
// single-tensor boundary, every tensor dies exactly where it dies in the
// whole backbone, so the prefix's peak is the running maximum of the
// backbone's live bytes.
func prefixMemory(g *model.Graph, bytesPerElem int) []int64 {
	nb := len(g.Blocks)
	out := make([]int64, nb+1)
	on := make([]bool, len(g.Nodes))
	lastUse := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		on[n.ID] = n.Task < 0
		lastUse[n.ID] = n.ID
		for _, in := range n.Inputs {
			if on[n.ID] {
				lastUse[in] = max(lastUse[in], n.ID)
			}
		}
	}
	live := profile.LiveBytes(g, on, bytesPerElem)
	var weights, peak int64
	reach := 0 // the latest last use of the tensors swept so far
	next := 0  // the next node to sweep
	for k := range nb + 1 {
		end := 0 // the last node of the prefix
		if k > 0 {
			b := g.Blocks[k-1]
			end = b.Output
			if b.First != next { // blocks not contiguous: no prefix sums
				out[k] = -1
				continue
			}
		}
		single := true
		for ; next <= end; next++ {
			if next == end {
				single = reach <= end // nothing made before the cut is read after it
			}
			weights += g.Nodes[next].Params * int64(bytesPerElem)
			peak = max(peak, live[next])
			reach = max(reach, lastUse[next])
		}
		out[k] = weights + peak
		if !single {
			out[k] = -1
		}
	}
	return out
}

// candidate is a block-level choice costed from the shared sums: the cut
// tensor, the blocks on each side and each head.
func (s *blockSpace) candidate(c blockChoice, order int) candidate {
	p, u := s.p, s.u
	ld := newLoad(p.numTiers(), len(u.heads))
	ld.work[0] = s.edgeTo[c.cut]
	ld.work[1] = s.serverFrom[c.cut+1]
	if c.sends() {
		ld.send(p, u, c.cut, 1, c.enc)
	}
	mask := make([]byte, len(u.heads))
	onEdge := false
	for t, hu := range u.heads {
		k := 1
		if c.headsOnEdge[t] {
			k, mask[t], onEdge = 0, 'E', true
		}
		for _, i := range hu {
			ld.work[k] += u.ms[k][i]
			ld.headPart(t, k, u.ms[k][i])
		}
		ld.result(p, t, k)
	}
	cd := p.timed(u, ld, order)
	cd.block, cd.u, cd.label = c, u, p.blockLabel(c)
	if !onEdge && s.memory[c.cut] >= 0 {
		cd.memory = s.memory[c.cut]
		return cd
	}
	// Heads on the edge, or a boundary that is not a single-tensor cut: a
	// pass over the graph, once per cut and head placement (the encoding
	// does not change the memory).
	key := itoa(c.cut) + "/" + string(mask)
	m, ok := s.otherMemory[key]
	if !ok {
		m = p.memoryOf(u, u.placementOf(c, p.numTiers()))
		s.otherMemory[key] = m
	}
	cd.memory = m
	return cd
}

// InfeasibleError says which constraint cannot be met and the best value
// reachable for it.
type InfeasibleError struct {
	Constraint string
	Detail     string
}

func (e *InfeasibleError) Error() string {
	return fmt.Sprintf("infeasible: %s cannot be met: %s", e.Constraint, e.Detail)
}

// diagnose explains why no candidate is feasible at x: the constraint that
// alone rules out everything, with the best value any choice reaches.
func (p *Problem) diagnose(all []*candidate, x float64) error {
	c := p.Constraints
	best := func(f func(cd *candidate) float64) float64 {
		b := math.Inf(1)
		for _, cd := range all {
			b = min(b, f(cd))
		}
		return b
	}
	if c.MaxEdgeMemoryBytes > 0 {
		if m := best(func(cd *candidate) float64 { return float64(cd.memory) }); m > float64(c.MaxEdgeMemoryBytes) {
			return &InfeasibleError{ConstraintMemory, fmt.Sprintf("limit %.1f MB, the leanest choice needs %.1f MB on the edge", mb(c.MaxEdgeMemoryBytes), m/1e6)}
		}
	}
	if c.MaxBytes > 0 {
		if m := best(func(cd *candidate) float64 { return float64(cd.bytes) }); m > float64(c.MaxBytes) {
			return &InfeasibleError{ConstraintBytes, fmt.Sprintf("limit %d bytes, the smallest choice sends %.0f", c.MaxBytes, m)}
		}
	}
	for _, h := range p.Graph.Heads {
		floor, ok := c.MinAccuracy[h.Task]
		if !ok {
			continue
		}
		i := taskIndex(p, h.Task)
		m := best(func(cd *candidate) float64 {
			if math.IsNaN(cd.accuracy[i]) {
				return math.Inf(1)
			}
			return -cd.accuracy[i]
		})
		if -m < floor {
			reach := "no choice has a measured accuracy for it"
			if !math.IsInf(m, 1) {
				reach = fmt.Sprintf("the best choice reaches %.4f", -m)
			}
			return &InfeasibleError{ConstraintAccuracy, fmt.Sprintf("%s needs %.4f, %s", h.Task, floor, reach)}
		}
	}
	if c.DeadlineMS > 0 {
		m := best(func(cd *candidate) float64 { return maxAt(cd.tasks, x) })
		if m > c.DeadlineMS {
			return &InfeasibleError{ConstraintDeadline, fmt.Sprintf("deadline %.3g ms at %.4g Mbps, the fastest choice takes %.4g ms", c.DeadlineMS, 1/x, m)}
		}
	}
	return &InfeasibleError{"constraints", "each can be met alone but not all together; relax one of edge memory, max bytes, accuracy floors, deadline"}
}

func taskIndex(p *Problem, task string) int {
	for i, h := range p.Graph.Heads {
		if h.Task == task {
			return i
		}
	}
	return -1
}

func mb(b int64) float64 { return float64(b) / 1e6 }
