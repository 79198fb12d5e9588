package profile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/optimize"

	"github.com/mtlsplit/mtlsplit/model"
)

// fitClasses are the op classes a calibration fits, each with its own
// throughput and per-layer overhead.
var fitClasses = []OpClass{ClassConv, ClassDepthwise, ClassLinear, ClassElementwise, ClassPool, ClassNorm}

// Fit is a cost model fitted to measured latencies.
type Fit struct {
	Model CostModel
	// SyncMS is the fixed cost of one timed call (a block, a head or the
	// whole model), on top of its layers: a synchronization, a dispatch.
	SyncMS float64
	// MAPEBlock is the mean absolute percentage error over every measured
	// block and head, as a fraction; MAPEEndToEnd over whole backbones.
	MAPEBlock, MAPEEndToEnd float64
	Points                  []FitPoint
}

// FitPoint is one measured item against its prediction.
type FitPoint struct {
	Model, Name           string
	EndToEnd              bool
	MeasuredMS, PredictMS float64
}

// fitItem is one measured latency and the layers it covers.
type fitItem struct {
	model, name string
	e2e         bool
	ms          float64
	layers      []fitLayer
}

type fitLayer struct {
	class OpClass
	flops float64
	elems float64 // moved elements
}

// Calibrate fits per-class throughput and overhead, the memory bandwidth
// and the per-call cost to a measured table by minimizing the squared
// relative error over every block and head (so large and small layers
// weigh alike). The zoo models in the table are rebuilt at its input size
// to know their layers. base gives the peak (efficiencies are relative to
// it) and the bytes per element.
func Calibrate(t *Table, base CostModel) (*Fit, error) {
	items, err := fitItems(t)
	if err != nil {
		return nil, err
	}
	if base.BytesPerElem == 0 {
		base.BytesPerElem = 4
		if t.Meta.Dtype == "fp16" {
			base.BytesPerElem = 2
		}
	}
	bpe := float64(base.BytesPerElem)
	// Parameters: throughput (GFLOP/s) and overhead (ms) per class; DRAM
	// and cache bandwidth (GB/s) and cache size (bytes); per-call cost
	// (ms). Each is kept inside a plausible range, log-uniformly, so the
	// search cannot run off to a degenerate corner (a memory-bound class
	// has no say on its throughput).
	nc := len(fitClasses)
	type bound struct{ lo, hi float64 }
	gB, oB, bwB, sB := bound{0.1, 1e7}, bound{1e-6, 10}, bound{0.5, 1e5}, bound{1e-6, 10}
	cacheB, cacheBWB := bound{1e5, 1e9}, bound{1, 1e5}
	if base.PeakGFLOPS > 0 {
		// A datasheet peak at base clock can be beaten (turbo); beyond
		// twice it the fit has gone astray.
		gB.hi = 2 * base.PeakGFLOPS
	}
	if base.MemBandwidthGBps > 0 {
		bwB = bound{base.MemBandwidthGBps / 20, base.MemBandwidthGBps * 20}
	}
	get := func(z float64, b bound) float64 {
		return b.lo * math.Pow(b.hi/b.lo, 1/(1+math.Exp(-z)))
	}
	put := func(v float64, b bound) float64 {
		f := math.Log(min(max(v, b.lo*1.0001), b.hi*0.9999)/b.lo) / math.Log(b.hi/b.lo)
		return math.Log(f / (1 - f))
	}
	// decode turns a parameter vector into a cost model (throughput as
	// GFLOP/s per class) and the per-call cost.
	decode := func(x []float64) (CostModel, map[OpClass]float64, float64) {
		m := CostModel{Device: base.Device, BytesPerElem: base.BytesPerElem, OverheadMS: map[OpClass]float64{},
			MemBandwidthGBps: get(x[2*nc], bwB), CacheBytes: get(x[2*nc+2], cacheB), CacheGBps: get(x[2*nc+3], cacheBWB)}
		gflops := map[OpClass]float64{}
		for i, c := range fitClasses {
			gflops[c] = get(x[i], gB)
			m.OverheadMS[c] = get(x[nc+i], oB)
		}
		return m, gflops, get(x[2*nc+1], sB)
	}
	// Whole backbones weigh as much, together, as all the blocks: the
	// planner adds blocks up, so both must come out right.
	var nBlocks, nE2E float64
	for _, it := range items {
		if it.e2e {
			nE2E++
		} else {
			nBlocks++
		}
	}
	e2eWeight := nBlocks / max(nE2E, 1)
	predict := func(it fitItem, m CostModel, gflops map[OpClass]float64, sync float64) float64 {
		ms := sync
		for _, l := range it.layers {
			ms += max(l.flops/(gflops[l.class]*1e6), m.memoryMS(l.elems*bpe)) + m.OverheadMS[l.class]
		}
		return ms
	}
	loss := func(x []float64) float64 {
		m, g, sync := decode(x)
		var sum float64
		for _, it := range items {
			r := (predict(it, m, g, sync) - it.ms) / it.ms
			w := 1.0
			if it.e2e {
				w = e2eWeight
			}
			sum += w * r * r
		}
		return sum
	}
	x0 := make([]float64, 2*nc+4)
	peak := base.PeakGFLOPS
	if peak <= 0 {
		peak = 1000
	}
	for i, c := range fitClasses {
		e := base.efficiency(c)
		if e <= 0 {
			e = 0.1
		}
		x0[i] = put(peak*e, gB)
		x0[nc+i] = put(max(base.overhead(c), 1e-3), oB)
	}
	bw0 := base.MemBandwidthGBps
	if bw0 <= 0 {
		bw0 = 50
	}
	x0[2*nc], x0[2*nc+1] = put(bw0, bwB), put(1e-3, sB)
	x0[2*nc+2], x0[2*nc+3] = put(8e6, cacheB), put(10*bw0, cacheBWB)
	// Nelder–Mead from the catalog's numbers and from seeded perturbations
	// of them (the loss has local minima where a class flips between its
	// compute and memory term), each restarted from its own best until it
	// stops improving; the best of all wins.
	minimize := func(x []float64) ([]float64, error) {
		for round := 0; round < 6; round++ {
			res, err := optimize.Minimize(optimize.Problem{Func: loss}, x,
				&optimize.Settings{FuncEvaluations: 10000, Converger: &optimize.FunctionConverge{Absolute: 1e-10, Iterations: 2000}},
				&optimize.NelderMead{})
			if err != nil && res == nil {
				return nil, fmt.Errorf("calibrate: %w", err)
			}
			improved := res.F < loss(x)*(1-1e-6)
			x = res.X
			if !improved && round > 0 {
				break
			}
		}
		return x, nil
	}
	best, err := minimize(x0)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 12 {
		start := make([]float64, len(x0))
		for i := range start {
			start[i] = x0[i] + 1.5*rng.NormFloat64()
		}
		x, err := minimize(start)
		if err != nil {
			return nil, err
		}
		if loss(x) < loss(best) {
			best = x
		}
	}
	m, g, sync := decode(best)
	fit := &Fit{SyncMS: sync}
	// The peak is the datasheet's, raised only by a class the data shows
	// compute-bound (faster than the datasheet: turbo); a class never
	// compute-bound says nothing of its throughput, so it is capped there.
	top := base.PeakGFLOPS
	computeBound := map[OpClass]int{}
	for _, it := range items {
		for _, l := range it.layers {
			if l.flops/(g[l.class]*1e6) > m.memoryMS(l.elems*bpe) {
				computeBound[l.class]++
			} else {
				computeBound[l.class]--
			}
		}
	}
	for c, v := range g {
		if computeBound[c] > 0 || top <= 0 {
			top = max(top, v)
		}
	}
	for c := range g {
		g[c] = min(g[c], top)
	}
	m.PeakGFLOPS, m.LayerOverheadMS, m.Efficiency = top, m.OverheadMS[ClassElementwise], map[OpClass]float64{}
	for c, v := range g {
		m.Efficiency[c] = v / top
	}
	fit.Model = m
	var nb, ne int
	for _, it := range items {
		p := predict(it, m, g, sync)
		fit.Points = append(fit.Points, FitPoint{Model: it.model, Name: it.name, EndToEnd: it.e2e, MeasuredMS: it.ms, PredictMS: p})
		ape := math.Abs(p-it.ms) / it.ms
		if it.e2e {
			fit.MAPEEndToEnd += ape
			ne++
		} else {
			fit.MAPEBlock += ape
			nb++
		}
	}
	fit.MAPEBlock /= float64(max(nb, 1))
	fit.MAPEEndToEnd /= float64(max(ne, 1))
	return fit, nil
}

// fitItems lists the measured blocks, heads and whole backbones of a table
// with the layers each covers.
func fitItems(t *Table) ([]fitItem, error) {
	var names []string
	for name := range t.Backbones {
		names = append(names, name)
	}
	sort.Strings(names)
	var items []fitItem
	for _, name := range names {
		tb := t.Backbones[name]
		var classes []int
		for _, h := range tb.Heads {
			classes = append(classes, h.K)
		}
		g, err := model.New(name, t.Meta.Size, classes)
		if err != nil {
			return nil, fmt.Errorf("calibrate: backbone %q: %w", name, err)
		}
		if len(tb.Blocks) != len(g.Blocks) {
			return nil, fmt.Errorf("calibrate: %s has %d measured blocks, the model %d", name, len(tb.Blocks), len(g.Blocks))
		}
		layers := func(ids []int) []fitLayer {
			var out []fitLayer
			for _, id := range ids {
				n := g.Nodes[id]
				if n.Op == model.OpInput || n.Op == model.OpFlatten {
					continue
				}
				out = append(out, fitLayer{class: ClassOf(n), flops: FLOPs(n), elems: MovedElems(g, n)})
			}
			return out
		}
		var all []int
		for i, b := range tb.Blocks {
			if b.Name != g.Blocks[i].Name {
				return nil, fmt.Errorf("calibrate: %s block %d is %q in the table, %q in the model", name, i, b.Name, g.Blocks[i].Name)
			}
			var ids []int
			for id := g.Blocks[i].First; id <= g.Blocks[i].Output; id++ {
				ids = append(ids, id)
			}
			all = append(all, ids...)
			if b.Latency.MedianMS > 0 {
				items = append(items, fitItem{model: name, name: b.Name, ms: b.Latency.MedianMS, layers: layers(ids)})
			}
		}
		for i, h := range tb.Heads {
			if h.Latency.MedianMS > 0 {
				items = append(items, fitItem{model: name, name: g.Heads[i].Task, ms: h.Latency.MedianMS, layers: layers(g.Heads[i].Nodes)})
			}
		}
		if e := tb.Latency.EndToEnd.MedianMS; e > 0 {
			items = append(items, fitItem{model: name, name: "end_to_end", e2e: true, ms: e, layers: layers(all)})
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("calibrate: the table has no latencies")
	}
	return items, nil
}
