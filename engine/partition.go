package engine

import "fmt"

// RunNodes runs, for one sample, the steps whose nodes run selects (a step
// is never split: compile with Options.Keep holding every tensor a split
// sends, so no step spans both sides). With in set it first loads the
// input image; tensors from elsewhere go in with SetTensor beforehand.
// This is how the two halves of a layer-level split run.
func (p *Program) RunNodes(run func(node int) bool, in []float32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if in != nil {
		if _, err := p.runRange(0, 0, in); err != nil {
			return err
		}
	}
	p.n = 1
	for i, s := range p.steps {
		lead, want := p.stepNodes[i][0], run(p.stepNodes[i][0])
		for _, id := range p.stepNodes[i][1:] {
			if run(id) != want {
				return fmt.Errorf("run %s: step of %q is split between sides; compile with Options.Keep", p.graph.Name, p.graph.Nodes[lead].Name)
			}
		}
		if want {
			s.run(p)
		}
	}
	return nil
}

// Tensor is a copy of node's output for one sample.
func (p *Program) Tensor(node int) ([]float32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	buf, n, err := p.tensorBuf(node)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), buf[:n]...), nil
}

// SetTensor loads node's output for one sample (a tensor received from the
// other side of a split).
func (p *Program) SetTensor(node int, data []float32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	buf, n, err := p.tensorBuf(node)
	if err != nil {
		return err
	}
	if len(data) != n {
		return fmt.Errorf("tensor of %q: %d values, want %d", p.graph.Nodes[node].Name, len(data), n)
	}
	copy(buf, data)
	return nil
}

func (p *Program) tensorBuf(node int) ([]float32, int, error) {
	if node < 0 || node >= len(p.graph.Nodes) {
		return nil, 0, fmt.Errorf("run %s: no node %d", p.graph.Name, node)
	}
	b, ok := p.valueBuf[p.value[node]]
	if !ok {
		return nil, 0, fmt.Errorf("run %s: node %q has no tensor of its own", p.graph.Name, p.graph.Nodes[node].Name)
	}
	return p.bufs[b], int(p.graph.Nodes[node].OutShape.Elems()), nil
}
