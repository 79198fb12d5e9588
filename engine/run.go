package engine

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/model"
)

// Graph is the graph the Program was compiled from.
func (p *Program) Graph() *model.Graph { return p.graph }

// Options are the options the Program was compiled with, defaults filled in.
func (p *Program) Options() Options { return p.opts }

// Cuts is the number of block-boundary cuts after the input: cut k is the
// tensor after k blocks, cut 0 the input, cut Cuts() the backbone output.
func (p *Program) Cuts() int { return len(p.graph.Blocks) }

// CutShape is the per-sample shape of the tensor at cut k.
func (p *Program) CutShape(k int) model.Shape {
	if k == 0 {
		return p.graph.Input
	}
	return p.graph.Blocks[k-1].OutShape
}

// samples checks that in holds a whole number of samples of shape s, at
// least one and at most the compiled batch.
// The tensor is the one at cut k, or the backbone output when k < 0.
func (p *Program) samples(in []float32, s model.Shape, k int) (int, error) {
	per := int(s.Elems())
	n := len(in) / per
	if n < 1 || n*per != len(in) || n > p.opts.Batch {
		what := "backbone output"
		if k >= 0 {
			what = fmt.Sprintf("input at cut %d", k)
		}
		return 0, fmt.Errorf("run %s: %s has %d values; want 1 to %d samples of %v (%d values each)",
			p.graph.Name, what, len(in), p.opts.Batch, s, per)
	}
	return n, nil
}

func (p *Program) exec(sp span) {
	for i := sp.lo; i < sp.hi; i++ {
		if f := p.fused[i]; f.step != nil && i+1 < sp.hi {
			f.step.runWith(p, f.act, f.out)
			i++
			continue
		}
		p.steps[i].run(p)
	}
}

// runRange runs blocks [from, to) on the tensor at cut from and leaves the
// tensor at cut to in its buffer. The caller holds p.mu.
func (p *Program) runRange(from, to int, in []float32) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if from < 0 || to > len(p.graph.Blocks) || from > to {
		return 0, fmt.Errorf("run %s: cuts %d to %d out of range 0..%d", p.graph.Name, from, to, len(p.graph.Blocks))
	}
	n, err := p.samples(in, p.CutShape(from), from)
	if err != nil {
		return 0, err
	}
	p.n = n
	copy(p.bufs[p.cutBuf[from]], in)
	if from < to {
		p.exec(span{p.blocks[from].lo, p.blocks[to-1].hi})
	}
	return n, nil
}

// RunRange runs the blocks between two cuts: in is the tensor at cut from
// (1 to Batch samples, NCHW), the result the tensor at cut to. Running 0→k
// then k→Cuts() gives bit for bit what Run gives: the same kernels run in
// the same order (a fusion across cut k, fuse.go, gives the same values).
func (p *Program) RunRange(from, to int, in []float32) ([]float32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.runRange(from, to, in)
	if err != nil {
		return nil, err
	}
	return p.read(p.cutBuf[to], n*int(p.CutShape(to).Elems())), nil
}

// Run runs the backbone on in (1 to Batch input images, NCHW) and returns
// its output.
func (p *Program) Run(in []float32) ([]float32, error) { return p.RunRange(0, p.Cuts(), in) }

// RunAll runs the backbone and every head, returning the backbone output
// and each head's logits.
func (p *Program) RunAll(in []float32) (backbone []float32, heads [][]float32, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.runRange(0, p.Cuts(), in)
	if err != nil {
		return nil, nil, err
	}
	backbone = p.read(p.cutBuf[p.Cuts()], n*int(p.CutShape(p.Cuts()).Elems()))
	for t := range p.heads {
		p.exec(p.heads[t])
		heads = append(heads, p.read(p.headBuf[t], n*p.graph.Heads[t].Classes))
	}
	return backbone, heads, nil
}

// RunHead runs the head of task t on backbone outputs (1 to Batch samples).
func (p *Program) RunHead(t int, backbone []float32) ([]float32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if t < 0 || t >= len(p.heads) {
		return nil, fmt.Errorf("run %s: no head %d (have %d)", p.graph.Name, t, len(p.heads))
	}
	n, err := p.samples(backbone, p.CutShape(p.Cuts()), -1)
	if err != nil {
		return nil, err
	}
	p.n = n
	copy(p.bufs[p.cutBuf[p.Cuts()]], backbone)
	p.exec(p.heads[t])
	return p.read(p.headBuf[t], n*p.graph.Heads[t].Classes), nil
}

func (p *Program) read(buf, n int) []float32 {
	return append([]float32(nil), p.bufs[buf][:n]...)
}
