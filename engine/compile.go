package engine

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"

	"github.com/mtlsplit/mtlsplit/internal/cores"
	"github.com/mtlsplit/mtlsplit/model"
)

// Options set how a graph is compiled. The zero value runs one sample at a
// time on every core (cores.N) with the pure-Go BLAS.
type Options struct {
	// Threads is the number of goroutines the engine's own kernels use, and
	// OpenBLAS's thread count (a process-wide setting of that library).
	// Gonum's GEMM follows GOMAXPROCS. 0 means the cores (cores.N). With 2 or more
	// (up to NumCPU), Compile raises GOMAXPROCS to Threads+1 if it is lower
	// (spareP says why).
	Threads int
	// Batch is the most samples one call may run; buffers are sized for it.
	// 0 means 1.
	Batch int
	// Backend is the BLAS used for convolutions and linear layers; "" means
	// BackendGonum.
	Backend Backend
	// Keep lists nodes whose output must stay a tensor of its own (no
	// fusion into the next layer): the tensors a layer-level split sends.
	Keep []int
	// MaxMemoryMB is the most memory (MB) Compile may plan for: the
	// weights it is given and everything the Program allocates
	// (MemoryPlan). 0 means DefaultMaxMemoryMB(); negative, no limit.
	MaxMemoryMB int
	// ReleaseWeights lets Compile take the Weights it is given apart: each
	// tensor is dropped from them once the Program holds its own form of
	// it, so that the two are never both whole in memory. The Weights are
	// of no further use (a second Compile with them fails). For callers
	// that make weights for one Program (infer).
	ReleaseWeights bool
	// noReuse gives every tensor a buffer of its own (no liveness, no in
	// place): what tests compare the planned buffers against.
	noReuse bool
}

// withDefaults fills in the zero fields' defaults.
func (o Options) withDefaults() Options {
	if o.Threads <= 0 {
		o.Threads = cores.N()
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Backend == "" {
		o.Backend = BackendGonum
	}
	return o
}

// ErrClosed is returned by a Program used after Close.
var ErrClosed = errors.New("engine: program is closed")

// Program is a graph compiled for inference: batch norm folded, buffers
// planned and allocated once, every layer bound to its kernel. Calls on one
// Program are serialized; compile one per goroutine to run in parallel.
type Program struct {
	graph   *model.Graph
	opts    Options
	gemm    blas.Float32Level3
	pool    *workers
	bufs    [][]float32
	steps   []step
	blocks  []span // steps of each block
	heads   []span // steps of each head
	cutBuf  []int  // buffer holding cut k (k = 0 is the input)
	headBuf []int  // buffer holding each head's output
	mu      sync.Mutex
	closed  bool
	n       int // samples in the running call
	// splitGEMM is set when the BLAS runs single-threaded and the engine
	// splits each GEMM over its own threads.
	splitGEMM bool
	// nativeGEMM is set when convolutions run on the native GEMM
	// (nativeConvs).
	nativeGEMM bool
	// scratch is each thread's scratch, shared by the steps, which run one
	// after another (threadScratchElems): the native GEMM's packed B, a
	// depthwise convolution's padded plane, the native max pooling's.
	scratch [][]float32
	// fold holds a convolution's weights while batch norm is folded into
	// them, before the native GEMM packs them; only during Compile.
	fold []float32
	// uses counts the steps still to compile that read each node's
	// weights (weightUses); only during Compile.
	uses map[string]int
	// fused[i] is step i fused with step i+1 across a block boundary, for
	// runs that go past it (crossFusions).
	fused []crossFusion
	// stepNodes are the graph nodes each step runs (fused ones included).
	stepNodes [][]int
	// value[id] is the node whose output holds node id's tensor (aliases
	// resolved); valueBuf the buffer of each value.
	value    []int
	valueBuf map[int]int
}

type span struct{ lo, hi int }

// step runs one fused group of nodes for p.n samples.
type step interface{ run(p *Program) }

// stepPlan is one step before buffers exist: nodes[0] reads inputs (value
// IDs), the last node's output is the step's value.
type stepPlan struct {
	nodes  []*model.Node
	inputs []int
	out    int // value ID = node ID of the last node
}

// Compile plans g for inference with weights w.
func Compile(g *model.Graph, w *Weights, opts Options) (*Program, error) {
	if g == nil || w == nil {
		return nil, errors.New("compile: nil graph or weights")
	}
	opts = opts.withDefaults()
	gemm, err := level3(opts.Backend)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", g.Name, err)
	}
	plans, value, err := planSteps(g, opts.Keep)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", g.Name, err)
	}
	valueBuf, spans, arena := planBuffers(g, plans, opts.Batch, !opts.noReuse)
	if err := CheckPlan(g.Name, planMemory(g, opts, plans, arena), opts); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	p := &Program{graph: g, opts: opts, gemm: gemm, splitGEMM: opts.Backend == BackendOpenBLAS,
		nativeGEMM: nativeConvs(opts.Backend)}
	if per := threadScratchElems(g, plans, p.nativeGEMM); per > 0 {
		for range opts.Threads {
			p.scratch = append(p.scratch, guarded(per))
		}
	}
	p.value, p.valueBuf = value, valueBuf
	acts := guarded(arena)
	p.bufs = make([][]float32, len(spans))
	for i, b := range spans {
		p.bufs[i] = acts[b.off : b.off+b.n : b.off+b.n]
	}
	p.uses = weightUses(plans)
	nCol, nFold := sharedScratch(plans, p.nativeGEMM, opts.ReleaseWeights)
	col := guarded(nCol) // im2col scratch shared by every conv
	if arena >= nFold {  // nothing runs while compiling
		p.fold = acts
	} else {
		p.fold = make([]float32, nFold)
	}
	p.cutBuf = make([]int, len(g.Blocks)+1)
	p.cutBuf[0] = valueBuf[value[0]]
	for k, b := range g.Blocks {
		p.cutBuf[k+1] = valueBuf[value[b.Output]]
	}
	for _, h := range g.Heads {
		p.headBuf = append(p.headBuf, valueBuf[value[h.Output]])
	}
	released := 0
	for _, sp := range plans {
		ins := make([][]float32, len(sp.inputs))
		for i, v := range sp.inputs {
			ins[i] = p.bufs[valueBuf[v]]
		}
		st, err := p.newStep(g, w, sp, ins, p.bufs[valueBuf[sp.out]], col)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", g.Name, err)
		}
		p.steps = append(p.steps, st)
		var ids []int
		for _, n := range sp.nodes {
			ids = append(ids, n.ID)
		}
		p.stepNodes = append(p.stepNodes, ids)
		if opts.ReleaseWeights {
			// Collected now and then, so that later layers reuse the
			// memory of the weights released before them.
			if released += w.release(sp.nodes, p.uses); released >= releaseGCBytes {
				runtime.GC()
				released = 0
			}
		}
	}
	p.fold, p.uses = nil, nil
	p.fused = crossFusions(g, plans, p.steps, value, valueBuf, p.bufs, opts.Keep)
	// Steps of a block (or head) are contiguous: nodes are in execution order
	// and a step never spans two blocks.
	p.blocks = make([]span, len(g.Blocks))
	p.heads = make([]span, len(g.Heads))
	for i := range p.blocks {
		p.blocks[i] = span{-1, -1}
	}
	for i := range p.heads {
		p.heads[i] = span{-1, -1}
	}
	for i, sp := range plans {
		n := sp.nodes[0]
		s := &p.blocks
		idx := n.Block
		if n.Task >= 0 {
			s, idx = &p.heads, n.Task
		}
		if (*s)[idx].lo < 0 {
			(*s)[idx].lo = i
		}
		(*s)[idx].hi = i + 1
	}
	// A block or head without steps (only identities) sits between its
	// neighbours.
	next := 0
	for i := range p.blocks {
		if p.blocks[i].lo < 0 {
			p.blocks[i] = span{next, next}
		}
		next = p.blocks[i].hi
	}
	for i := range p.heads {
		if p.heads[i].lo < 0 {
			p.heads[i] = span{next, next}
		}
		next = p.heads[i].hi
	}
	p.pool = newWorkers(opts.Threads)
	runtime.AddCleanup(p, func(w *workers) { w.close() }, p.pool)
	return p, nil
}

// Close stops the Program's worker goroutines; a closed Program returns
// ErrClosed. Programs that are not closed stop their workers when collected.
func (p *Program) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.pool.close()
}

// releaseGCBytes is how much ReleaseWeights lets go before Compile runs
// the collector: a few collections per network, each cheap (weights hold
// no pointers), and the peak at most this much above what is live.
const releaseGCBytes = 8 << 20

// isAlias reports ops that are the identity at inference: their output is
// their input's buffer.
func isAlias(op model.Op) bool {
	return op == model.OpDropout || op == model.OpStochasticDepth || op == model.OpFlatten
}

// planSteps groups nodes into steps (conv+BN+activation, BN+activation,
// linear/add+activation) and resolves aliases: value[id] is the node whose
// output holds node id's tensor. A fusion never crosses a block boundary, so
// every cut tensor is materialized and split runs match whole runs.
func planSteps(g *model.Graph, keep []int) ([]stepPlan, []int, error) {
	consumers := make([][]int, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in < 0 || in >= n.ID {
				return nil, nil, fmt.Errorf("node %q reads node %d, which does not run before it", n.Name, in)
			}
			consumers[in] = append(consumers[in], n.ID)
		}
	}
	cutOutput := map[int]bool{}
	for _, b := range g.Blocks {
		cutOutput[b.Output] = true
	}
	for _, h := range g.Heads {
		cutOutput[h.Output] = true
	}
	for _, id := range keep {
		if id < 0 || id >= len(g.Nodes) {
			return nil, nil, fmt.Errorf("keep: no node %d", id)
		}
		if id == 0 {
			continue // the input is a tensor of its own already
		}
		for isAlias(g.Nodes[id].Op) { // a view keeps the tensor it views
			id = g.Nodes[id].Inputs[0]
		}
		cutOutput[id] = true
	}
	// fusable reports whether node id's only reader is next, in the same
	// block or head, and id's tensor is not a cut or an output.
	fusable := func(id, next int) bool {
		a, b := &g.Nodes[id], &g.Nodes[next]
		return len(consumers[id]) == 1 && consumers[id][0] == next && len(b.Inputs) == 1 &&
			a.Block == b.Block && a.Task == b.Task && !cutOutput[id]
	}
	value := make([]int, len(g.Nodes))
	var plans []stepPlan
	for i := 1; i < len(g.Nodes); i++ {
		n := &g.Nodes[i]
		if n.ID != i {
			return nil, nil, fmt.Errorf("node %q has ID %d at position %d", n.Name, n.ID, i)
		}
		if n.Block < 0 && n.Task < 0 {
			return nil, nil, fmt.Errorf("node %q belongs to no block or head", n.Name)
		}
		if isAlias(n.Op) {
			value[i] = value[n.Inputs[0]]
			continue
		}
		sp := stepPlan{nodes: []*model.Node{n}}
		for _, in := range n.Inputs {
			sp.inputs = append(sp.inputs, value[in])
		}
		last := i
		if n.Op == model.OpConv2d && last+1 < len(g.Nodes) && g.Nodes[last+1].Op == model.OpBatchNorm2d && fusable(last, last+1) {
			last++
			sp.nodes = append(sp.nodes, &g.Nodes[last])
		}
		switch n.Op {
		case model.OpConv2d, model.OpBatchNorm2d, model.OpLinear, model.OpAdd:
			if last+1 < len(g.Nodes) && fusable(last, last+1) {
				if _, ok := actOf(g.Nodes[last+1].Op); ok {
					last++
					sp.nodes = append(sp.nodes, &g.Nodes[last])
				}
			}
		}
		for _, m := range sp.nodes {
			value[m.ID] = last
		}
		sp.out = last
		plans = append(plans, sp)
		i = last
	}
	if err := checkCuts(g, value); err != nil {
		return nil, nil, err
	}
	return plans, value, nil
}

// checkCuts verifies that every block boundary is crossed by one tensor
// only (the previous block's output) and that heads read only the backbone
// output, so a run may start at any cut.
func checkCuts(g *model.Graph, value []int) error {
	cutValue := func(b int) int { // value crossing into block b
		if b == 0 {
			return value[0]
		}
		return value[g.Blocks[b-1].Output]
	}
	backbone := value[g.Backbone()]
	for _, n := range g.Nodes[1:] {
		for _, in := range n.Inputs {
			src := &g.Nodes[in]
			switch {
			case n.Task >= 0:
				if src.Task != n.Task && value[in] != backbone {
					return fmt.Errorf("head node %q reads %q, which is neither in its head nor the backbone output", n.Name, src.Name)
				}
			case src.Block != n.Block || in == 0:
				if value[in] != cutValue(n.Block) {
					return fmt.Errorf("node %q in block %d reads %q from an earlier block: not a single-tensor cut", n.Name, n.Block, src.Name)
				}
			}
		}
	}
	return nil
}

// colElems is the im2col scratch a step starting with n needs.
func colElems(n *model.Node) int {
	if n.Op != model.OpConv2d || convModeOf(n.Conv) != convIm2col {
		return 0
	}
	c := n.Conv
	return satMul(satMul(c.InChannels/c.Groups, satMul(c.Kernel, c.Kernel)), satMul(n.OutShape[1], n.OutShape[2]))
}
