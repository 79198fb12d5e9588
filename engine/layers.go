package engine

import (
	"sort"
	"time"
)

// LayerTime is the time of one step of the compiled program: the layer
// that leads it and the ones fused into it (batch norm and activations run
// inside the conv before them).
type LayerTime struct {
	// Nodes are the graph node IDs the step runs, the leading one first.
	Nodes []int
	// MedianMS and P90MS summarize the step's time over the runs.
	MedianMS, P90MS float64
}

// LayerTimes runs the backbone and every head reps times on in (one
// sample) with a clock around every step, and returns each step's time in
// program order. Views that compile to no step do not appear.
func (p *Program) LayerTimes(in []float32, reps int) ([]LayerTime, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if reps < 1 {
		reps = 1
	}
	if _, err := p.runRange(0, 0, in); err != nil {
		return nil, err
	}
	samples := make([][]float64, len(p.steps))
	for range reps {
		for i, s := range p.steps {
			start := time.Now()
			s.run(p)
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/1e6)
		}
	}
	out := make([]LayerTime, len(p.steps))
	for i, v := range samples {
		sort.Float64s(v)
		out[i] = LayerTime{Nodes: p.stepNodes[i], MedianMS: v[len(v)/2], P90MS: v[min(len(v)-1, int(0.9*float64(len(v))))]}
	}
	return out, nil
}
