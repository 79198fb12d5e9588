package engine

import (
	"math"
	"sync/atomic"
)

// warmStride is the floats between two reads of Warm: 16 floats, one
// 64-byte cache line, so every line of a weight is brought in once.
const warmStride = 16

// warmChunk is how many floats Warm reads between two calls of stop: a
// megabyte, well under a millisecond even from DRAM, so a caller that
// warms while it waits stops soon after its work arrives, even inside a
// fully connected layer of hundreds of megabytes.
const warmChunk = 1 << 18

// warmSink keeps Warm's reads from being compiled away; atomic, so that
// concurrent Warms do not race on it.
var warmSink atomic.Uint32

// Warm reads the weights of the steps whose nodes want selects (nil: every
// step), in the order Run reads them, so that the next run finds them in
// the cache. On a shared machine the weights are evicted while a process
// idles: resnet18 at 128 px on one thread runs in 9.2 ms back to back but
// 22–27 ms after 260 ms idle, and reading its weights first makes the run
// fast again; that read costs as much as the slowdown (DRAM), so it only
// pays where the caller would otherwise wait, e.g. while a request's body
// arrives or a reply is on its way.
//
// stop, when not nil, is called before each step and every megabyte;
// Warm returns false as soon as it reports true (the real work arrived),
// true when every selected weight was read.
//
// Warm reads only what Compile made and never changes (weights, packed
// weights, biases), not the activation buffers Run writes, so it may run
// concurrently with Run or another Warm on the same Program, and on a
// closed one.
func (p *Program) Warm(want func(node int) bool, stop func() bool) bool {
	var sum float32
	defer func() { warmSink.Store(math.Float32bits(sum)) }()
	for i, s := range p.steps {
		if want != nil && !want(p.stepNodes[i][0]) {
			continue
		}
		for _, w := range stepWeights(s) {
			for lo := 0; lo < len(w); lo += warmChunk {
				if stop != nil && stop() {
					return false
				}
				chunk := w[lo:min(lo+warmChunk, len(w))]
				for j := 0; j < len(chunk); j += warmStride {
					sum += chunk[j]
				}
			}
		}
	}
	return true
}

// stepWeights are the read-only arrays a step's run reads: its weights as
// the kernel uses them (packed or Winograd-transformed) and its biases.
func stepWeights(s step) [][]float32 {
	switch s := s.(type) {
	case *convStep:
		w := [][]float32{s.weight, s.bias}
		for _, a := range s.packed {
			w = append(w, a.data())
		}
		if s.wino != nil {
			w = append(w, s.wino.u)
			for _, a := range s.wino.packed {
				w = append(w, a.data())
			}
		}
		return w
	case *linearStep:
		return [][]float32{s.weight, s.bias}
	case *bnStep:
		return [][]float32{s.k.scale, s.k.shift}
	}
	return nil // no weights: pooling, activations, concatenation, mul
}
