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
	// Params says, for every fitted number, whether the data pins it down.
	Params []Param
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
	class int // index in fitClasses
	flops float64
	elems float64 // moved elements
}

// Positions in a parameter vector: throughput (GFLOP/s) of every fit class,
// then the overhead (ms) of every fit class, then these.
var (
	nFit        = len(fitClasses)
	pBandwidth  = 2 * nFit // DRAM bandwidth, GB/s
	pSync       = 2*nFit + 1
	pCacheBytes = 2*nFit + 2
	pCacheGBps  = 2*nFit + 3
	nParams     = 2*nFit + 4
)

type bound struct{ lo, hi float64 }

// fitProblem is a set of measured items and the box the parameters are
// kept in. Parameter vectors are in natural units (GFLOP/s, ms, GB/s,
// bytes).
type fitProblem struct {
	items     []fitItem
	base      CostModel
	bpe       float64
	bounds    []bound
	e2eWeight float64
}

// Calibrate fits per-class throughput and overhead, the memory bandwidth
// and the per-call cost to a measured table by minimizing the squared
// relative error over every block and head (so large and small layers
// weigh alike). The zoo models in the table are rebuilt at its input size
// to know their layers. base gives the peak (efficiencies are relative to
// it) and the bytes per element. Fit.Params says which fitted numbers the
// table cannot pin down.
func Calibrate(t *Table, base CostModel) (*Fit, error) {
	return calibrate(t, base, defaultStarts)
}

// defaultStarts is how many seeded perturbations of the starting point are
// searched besides the point itself.
const defaultStarts = 12

func calibrate(t *Table, base CostModel, starts int) (*Fit, error) {
	items, err := fitItems(t)
	if err != nil {
		return nil, err
	}
	p := newFitProblem(items, base, t.Meta.Dtype)
	v, err := p.solve(starts)
	if err != nil {
		return nil, err
	}
	v, top, topClass := p.settle(v)
	fit := &Fit{Model: p.costModel(v, top), SyncMS: v[pSync]}
	fit.Points = p.points(p.items, v)
	fit.MAPEBlock, fit.MAPEEndToEnd = PointsMAPE(fit.Points)
	fit.Params = p.identify(v, top, topClass)
	return fit, nil
}

func newFitProblem(items []fitItem, base CostModel, dtype string) *fitProblem {
	if base.BytesPerElem == 0 {
		base.BytesPerElem = 4
		if dtype == "fp16" {
			base.BytesPerElem = 2
		}
	}
	// Each parameter is kept inside a plausible range, log-uniformly, so
	// the search cannot run off to a degenerate corner (a memory-bound
	// class has no say on its throughput).
	gB, oB, bwB, sB := bound{0.1, 1e7}, bound{1e-6, 10}, bound{0.5, 1e5}, bound{1e-6, 10}
	if base.PeakGFLOPS > 0 {
		// A datasheet peak at base clock can be beaten (turbo); beyond
		// twice it the fit has gone astray.
		gB.hi = 2 * base.PeakGFLOPS
	}
	if base.MemBandwidthGBps > 0 {
		bwB = bound{base.MemBandwidthGBps / 20, base.MemBandwidthGBps * 20}
	}
	bounds := make([]bound, nParams)
	for i := range nFit {
		bounds[i], bounds[nFit+i] = gB, oB
	}
	bounds[pBandwidth], bounds[pSync] = bwB, sB
	bounds[pCacheBytes], bounds[pCacheGBps] = bound{1e5, 1e9}, bound{1, 1e5}
	return &fitProblem{items: items, base: base, bpe: float64(base.BytesPerElem), bounds: bounds, e2eWeight: e2eWeight(items)}
}

// e2eWeight makes whole backbones weigh as much, together, as all the
// blocks: the planner adds blocks up, so both must come out right.
func e2eWeight(items []fitItem) float64 {
	var nBlocks, nE2E float64
	for _, it := range items {
		if it.e2e {
			nE2E++
		} else {
			nBlocks++
		}
	}
	return nBlocks / max(nE2E, 1)
}

// subset is the same problem on the items keep accepts.
func (p *fitProblem) subset(keep func(fitItem) bool) *fitProblem {
	q := *p
	q.items = nil
	for _, it := range p.items {
		if keep(it) {
			q.items = append(q.items, it)
		}
	}
	q.e2eWeight = e2eWeight(q.items)
	return &q
}

// memoryMS is the time to move bytes through the two-level memory of v.
func memoryMS(v []float64, bytes float64) float64 {
	return min(bytes, v[pCacheBytes])/(v[pCacheGBps]*1e6) + max(0, bytes-v[pCacheBytes])/(v[pBandwidth]*1e6)
}

func (p *fitProblem) predict(it fitItem, v []float64) float64 {
	ms := v[pSync]
	for _, l := range it.layers {
		ms += max(l.flops/(v[l.class]*1e6), memoryMS(v, l.elems*p.bpe)) + v[nFit+l.class]
	}
	return ms
}

func (p *fitProblem) weight(it fitItem) float64 {
	if it.e2e {
		return p.e2eWeight
	}
	return 1
}

// loss is the weighted sum of squared relative errors.
func (p *fitProblem) loss(v []float64) float64 {
	var sum float64
	for _, it := range p.items {
		r := (p.predict(it, v) - it.ms) / it.ms
		sum += p.weight(it) * r * r
	}
	return sum
}

// get maps an unbounded search coordinate into b, log-uniformly; put is
// its inverse.
func (b bound) get(z float64) float64 {
	return b.lo * math.Pow(b.hi/b.lo, 1/(1+math.Exp(-z)))
}

func (b bound) put(v float64) float64 {
	f := math.Log(min(max(v, b.lo*1.0001), b.hi*0.9999)/b.lo) / math.Log(b.hi/b.lo)
	return math.Log(f / (1 - f))
}

func (p *fitProblem) decode(z []float64) []float64 {
	v := make([]float64, len(z))
	for i := range z {
		v[i] = p.bounds[i].get(z[i])
	}
	return v
}

// solve minimizes the loss by Nelder–Mead from the base model's numbers and
// from starts seeded perturbations of them (the loss has local minima
// where a class flips between its compute and memory term), each restarted
// from its own best until it stops improving; the best of all wins.
func (p *fitProblem) solve(starts int) ([]float64, error) {
	loss := func(z []float64) float64 { return p.loss(p.decode(z)) }
	x0 := make([]float64, nParams)
	peak := p.base.PeakGFLOPS
	if peak <= 0 {
		peak = 1000
	}
	for i, c := range fitClasses {
		e := p.base.efficiency(c)
		if e <= 0 {
			e = 0.1
		}
		x0[i] = p.bounds[i].put(peak * e)
		x0[nFit+i] = p.bounds[nFit+i].put(max(p.base.overhead(c), 1e-3))
	}
	bw0 := p.base.MemBandwidthGBps
	if bw0 <= 0 {
		bw0 = 50
	}
	x0[pBandwidth], x0[pSync] = p.bounds[pBandwidth].put(bw0), p.bounds[pSync].put(1e-3)
	x0[pCacheBytes], x0[pCacheGBps] = p.bounds[pCacheBytes].put(8e6), p.bounds[pCacheGBps].put(10*bw0)
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
	for range starts {
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
	return p.decode(best), nil
}

// settle caps the throughputs of a fitted vector at the peak it returns:
// the datasheet's, raised only by a class the data shows compute-bound
// (faster than the datasheet: turbo); a class never compute-bound says
// nothing of its throughput, so it is capped there. topClass is the class
// that raised the peak, -1 when none did.
func (p *fitProblem) settle(v []float64) (_ []float64, top float64, topClass int) {
	v = append([]float64(nil), v...)
	top, topClass = p.base.PeakGFLOPS, -1
	computeBound := make([]int, nFit)
	for _, it := range p.items {
		for _, l := range it.layers {
			if l.flops/(v[l.class]*1e6) > memoryMS(v, l.elems*p.bpe) {
				computeBound[l.class]++
			} else {
				computeBound[l.class]--
			}
		}
	}
	for c := range nFit {
		if (computeBound[c] > 0 || top <= 0) && v[c] > top {
			top, topClass = v[c], c
		}
	}
	for c := range nFit {
		v[c] = min(v[c], top)
	}
	return v, top, topClass
}

// costModel is the catalog form of a settled vector: efficiencies relative
// to top.
func (p *fitProblem) costModel(v []float64, top float64) CostModel {
	m := CostModel{Device: p.base.Device, BytesPerElem: p.base.BytesPerElem, PeakGFLOPS: top,
		MemBandwidthGBps: v[pBandwidth], CacheBytes: v[pCacheBytes], CacheGBps: v[pCacheGBps],
		LayerOverheadMS: v[nFit+classIndex(ClassElementwise)],
		Efficiency:      map[OpClass]float64{}, OverheadMS: map[OpClass]float64{}}
	for i, c := range fitClasses {
		m.Efficiency[c] = v[i] / top
		m.OverheadMS[c] = v[nFit+i]
	}
	return m
}

func classIndex(c OpClass) int {
	for i, f := range fitClasses {
		if f == c {
			return i
		}
	}
	return -1
}

// points predicts items with v.
func (p *fitProblem) points(items []fitItem, v []float64) []FitPoint {
	out := make([]FitPoint, 0, len(items))
	for _, it := range items {
		out = append(out, FitPoint{Model: it.model, Name: it.name, EndToEnd: it.e2e, MeasuredMS: it.ms, PredictMS: p.predict(it, v)})
	}
	return out
}

// PointsMAPE is the mean absolute percentage error (as a fraction) of the
// blocks and heads among points, and of the whole backbones.
func PointsMAPE(points []FitPoint) (block, endToEnd float64) {
	var nb, ne int
	for _, pt := range points {
		ape := math.Abs(pt.PredictMS-pt.MeasuredMS) / pt.MeasuredMS
		if pt.EndToEnd {
			endToEnd += ape
			ne++
		} else {
			block += ape
			nb++
		}
	}
	return block / float64(max(nb, 1)), endToEnd / float64(max(ne, 1))
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
				out = append(out, fitLayer{class: classIndex(ClassOf(n)), flops: FLOPs(n), elems: MovedElems(g, n)})
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
