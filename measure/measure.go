// Package measure times a network on this machine with the engine: every
// block on its own recorded input, every head, and the whole backbone, with
// warm-up, median and p90; and the real bytes of every cut per encoding.
// The result is a profile.Table, the format of the reference measurements,
// so the planner and the calibration read it like any other.
//
// Accuracy scores every task on labelled data at every cut and encoding
// (top-1 with Wilson 95% intervals, plus the cut sizes after zstd over the
// data) into a profile.AccuracyTable; Fidelity is the fallback without
// labels (agreement with fp32 on random inputs).
//
// It never decides and never predicts.
package measure

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/cores"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Settings say how to time.
type Settings struct {
	Reps, Warmup int
	// Layers also times every layer (every step of the compiled program;
	// layers fused into one step are reported with the step's leader).
	Layers bool
	// Progress, if set, is called after each timed item.
	Progress func(done, total int)
}

// Result is a measured profile plus the cut sizes seen on real tensors.
type Result struct {
	Table *profile.Table
	// CutBytes[k][encoding] is the encoded size of cut k's tensor;
	// "fp32+zstd" and so on are the sizes after the lossless stage.
	CutBytes []map[codec.Encoding]int
}

// Run times program p on input in (one sample).
func Run(p *engine.Program, in []float32, s Settings) (*Result, error) {
	if s.Reps < 1 {
		s.Reps = 20
	}
	if s.Warmup < 0 {
		s.Warmup = 0
	}
	g := p.Graph()
	nb := p.Cuts()
	total := nb + len(g.Heads) + 1
	done := 0
	tick := func() {
		done++
		if s.Progress != nil {
			s.Progress(done, total)
		}
	}
	// Record every block's input once, then time each block on its own.
	acts := make([][]float32, nb+1)
	acts[0] = in
	for k := 0; k < nb; k++ {
		out, err := p.RunRange(k, k+1, acts[k])
		if err != nil {
			return nil, err
		}
		acts[k+1] = append([]float32(nil), out...)
	}
	tb := profile.TableBackbone{}
	for k := 0; k < nb; k++ {
		st, err := timeIt(s, func() error { _, err := p.RunRange(k, k+1, acts[k]); return err })
		if err != nil {
			return nil, err
		}
		tb.Blocks = append(tb.Blocks, profile.TableBlock{Name: g.Blocks[k].Name, Latency: st})
		tick()
	}
	for t, h := range g.Heads {
		st, err := timeIt(s, func() error { _, err := p.RunHead(t, acts[nb]); return err })
		if err != nil {
			return nil, err
		}
		tb.Heads = append(tb.Heads, profile.TableHead{K: h.Classes, InFeatures: int(g.Blocks[nb-1].OutShape.Elems()), Latency: st})
		tick()
	}
	st, err := timeIt(s, func() error { _, err := p.Run(in); return err })
	if err != nil {
		return nil, err
	}
	tb.Latency.EndToEnd = st
	tick()
	if s.Layers {
		lt, err := p.LayerTimes(in, s.Reps)
		if err != nil {
			return nil, err
		}
		for _, step := range lt {
			lead := g.Nodes[step.Nodes[0]]
			tb.Layers = append(tb.Layers, profile.TableLayer{Node: lead.ID, Name: lead.Name, Op: string(lead.Op),
				Latency: profile.Stat{MedianMS: step.MedianMS, P90MS: step.P90MS}})
			for _, id := range step.Nodes[1:] {
				n := g.Nodes[id]
				tb.Layers = append(tb.Layers, profile.TableLayer{Node: id, Name: n.Name, Op: string(n.Op), FusedInto: lead.Name})
			}
		}
	}
	res := &Result{Table: &profile.Table{Backbones: map[string]profile.TableBackbone{g.Name: tb}}}
	m := &res.Table.Meta
	m.DeviceName, m.Dtype, m.Batch, m.Size = cpuName(), "fp32", 1, g.InputSize
	m.Threads = p.Options().Threads
	if m.Threads == 0 {
		m.Threads = cores.N()
	}
	m.Engine = fmt.Sprintf("mtlsplit engine, %s BLAS, %s", p.Options().Backend, runtime.Version())
	m.Reps, m.Warmup = s.Reps, s.Warmup
	for k, a := range acts {
		sizes := map[codec.Encoding]int{}
		for _, e := range codec.Encodings {
			b, err := engine.Encode(nil, e, a)
			if err != nil {
				return nil, fmt.Errorf("encode cut %d as %s: %w", k, e, err)
			}
			sizes[e] = len(b)
			z, err := engine.Compress(nil, b)
			if err != nil {
				return nil, err
			}
			sizes[e+"+zstd"] = len(z)
		}
		res.CutBytes = append(res.CutBytes, sizes)
		if k > 0 { // the table keeps each block's output sizes
			b := &res.Table.Backbones[g.Name].Blocks[k-1]
			b.CutBytes = map[string]int64{}
			for e, n := range sizes {
				b.CutBytes[string(e)] = int64(n)
			}
		}
	}
	return res, nil
}

// timeIt runs f warm-up times, then reps timed times, and summarizes.
func timeIt(s Settings, f func() error) (profile.Stat, error) {
	for range s.Warmup {
		if err := f(); err != nil {
			return profile.Stat{}, err
		}
	}
	ms := make([]float64, s.Reps)
	for i := range ms {
		start := time.Now()
		if err := f(); err != nil {
			return profile.Stat{}, err
		}
		ms[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	return profile.Stat{MedianMS: quantile(ms, 0.5), P90MS: quantile(ms, 0.9)}, nil
}

// quantile of sorted values, linearly interpolated.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// CPUName is the processor's model name, or GOARCH: where a measurement
// (or a training run, in experiments) was made.
func CPUName() string { return cpuName() }

// cpuName is the processor's model name, or GOARCH.
func cpuName() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// HeldBytes is what Run and Fidelity hold besides the Program while they
// run g: every cut tensor of one input (the input included), and at a time
// up to three more of the largest (a run's result, its encoding and its
// compression), so that callers can count it against a memory budget.
func HeldBytes(g *model.Graph) int64 {
	elems := func(s model.Shape) float64 { // in float64: no overflow
		n := 1.0
		for _, d := range s {
			n *= float64(d)
		}
		return n
	}
	sum, largest := elems(g.Input), elems(g.Input)
	for _, b := range g.Blocks {
		n := elems(b.OutShape)
		sum, largest = sum+n, max(largest, n)
	}
	return int64(min(4*(sum+3*largest), math.MaxInt64/2))
}
