package profile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"

	"gonum.org/v1/gonum/optimize"

	"github.com/mtlsplit/mtlsplit/internal/cores"
	"github.com/mtlsplit/mtlsplit/model"
)

// A stack fit explains whole-network latencies published for many devices
// by one small set of numbers per inference stack (TensorRT, ncnn, ...):
// the stack reaches the same fraction of any device's peak for an op class
// and the same fraction of its DRAM bandwidth, and pays the same cost per
// layer and per call. The devices contribute their datasheet peak and
// bandwidth at the row's precision and thread count and, where their rows
// time one network on one core and on n, how their cores scale (a matter
// of caches and memory controller no datasheet number gives). A
// device–stack pair with one or two published rows still gets a model,
// from the other devices' rows of its stack.

// StackClasses are the op classes a stack fit gives an efficiency; pooling
// and batch norm go with elementwise. conv3x3 may exceed 1 (Winograd);
// conv1x1 is a GEMM on the input as it lies, conv the rest (7×7 stems,
// strided 3×3), which first unfold the input (im2col) or run a slower
// direct kernel.
var StackClasses = []OpClass{ClassConv, ClassConv3x3, ClassDepthwise, ClassLinear, ClassElementwise, ClassConv1x1}

// StackRun is one published latency and the hardware it ran on.
type StackRun struct {
	ID    string // unique, e.g. "R11/resnet18"
	Stack string // the fit group: rows of one stack on one kind of unit
	Graph *model.Graph
	// PeakGFLOPS is the datasheet peak of the unit at the run's precision:
	// with Threads > 0, of one core (the run used Threads cores).
	PeakGFLOPS float64
	Threads    int
	// Device names the CPU a run ran on: how far n cores beat one is the
	// device's (its caches, interconnect and DRAM controller, which no
	// datasheet number gives), so a device whose runs time one network on
	// one core and on n gets a thread-scaling exponent of its own.
	Device string
	// Int8 marks a quantized run: its compute rate is scaled by the
	// stack's Int8Speed.
	Int8             bool
	MemBandwidthGBps float64
	BytesPerElem     int
	MeasuredMS       float64
}

// StackSpec says how a stack runs a graph.
type StackSpec struct {
	// FoldNormAct: batch norm after a conv is folded into its weights and
	// an activation after it runs in the conv's epilogue (every inference
	// stack but eager PyTorch on a GPU).
	FoldNormAct bool
	// Prior is where the fit starts and what it is pulled towards when the
	// rows cannot tell (zero values take DefaultStackPrior's).
	Prior StackParams
	// Family names the fit group whose numbers this one shares: the same
	// stack on a GPU of another architecture runs the same kernels, so
	// how its op classes and memory compare is the base group's, and two
	// factors are fitted to its rows: how fast the family computes (every
	// efficiency and the memory efficiency scaled by one) and how fast it
	// dispatches a kernel (the per-layer cost scaled by the other). A group
	// of three rows then needs two numbers, not a stack's twelve. Prior is
	// unused.
	Family string
}

// StackParams are the numbers one stack shares across devices.
type StackParams struct {
	// Efficiency is the fraction of peak per StackClasses class.
	Efficiency map[OpClass]float64
	// MemEfficiency is the fraction of datasheet DRAM bandwidth a layer's
	// bytes move at (above 1 when caches hold activations).
	MemEfficiency float64
	// LayerOverheadMS is paid by every layer that runs as its own kernel.
	LayerOverheadMS float64
	// CallOverheadMS is paid once per timed call (dispatch, sync, and for
	// end-to-end rows pre- and post-processing).
	CallOverheadMS float64
	// ThreadScaling is the exponent of the speed-up on n cores (n^s): 1 is
	// perfect scaling. It is the stack's on a device without threaded runs;
	// DeviceThreadScaling holds each device's own, fitted to its threaded
	// runs and pulled towards ThreadScaling.
	ThreadScaling       float64
	DeviceThreadScaling map[string]float64
	// ThreadSyncMS is paid by every layer per thread beyond the first: the
	// fork and join around each layer, which is why networks of many small
	// layers gain less from more cores than those of a few large ones.
	ThreadSyncMS float64
	// Int8Speed scales the efficiencies of int8 runs: how much of the
	// datasheet int8 peak (twice fp32 without dot-product instructions)
	// the stack's integer kernels reach, relative to its float ones.
	Int8Speed float64
}

// DefaultStackPrior is a generic stack: what a fit falls back to when its
// rows cannot pin a number down.
var DefaultStackPrior = StackParams{
	Efficiency:      map[OpClass]float64{ClassConv: 0.3, ClassConv1x1: 0.3, ClassConv3x3: 0.3, ClassDepthwise: 0.05, ClassLinear: 0.3, ClassElementwise: 0.05},
	MemEfficiency:   0.5,
	LayerOverheadMS: 0.02,
	CallOverheadMS:  0.1,
	ThreadScaling:   0.9,
	ThreadSyncMS:    0.005,
	Int8Speed:       1,
}

// stackPriorWeight is how hard the fit is pulled towards the prior: moving a
// number 10× from it costs as much as one row 15% off.
const stackPriorWeight = 0.02

// familyPullWeight pulls a family's compute factor towards 1 only to
// choose among equally good fits: a family may be ten times slower than its
// base. Its per-layer factor is pulled as any number towards its prior:
// only runs of many small layers pin it down.
const familyPullWeight = 1e-4

// Folded reports whether a node costs nothing in a stack that folds batch
// norm and activations into the conv before them: a batch norm reading a
// conv, an activation reading a conv or such a batch norm, and inference
// identities (dropout, stochastic depth).
func Folded(g *model.Graph, n model.Node) bool {
	switch n.Op {
	case model.OpDropout, model.OpStochasticDepth:
		return true
	case model.OpBatchNorm2d:
		return len(n.Inputs) == 1 && g.Nodes[n.Inputs[0]].Op == model.OpConv2d
	case model.OpReLU, model.OpReLU6, model.OpHardswish, model.OpSiLU, model.OpSigmoid, model.OpHardsigmoid:
		if len(n.Inputs) != 1 {
			return false
		}
		in := g.Nodes[n.Inputs[0]]
		return in.Op == model.OpConv2d || in.Op == model.OpLinear || (in.Op == model.OpBatchNorm2d && Folded(g, in))
	}
	return false
}

// stackClass is the index in StackClasses of a node's class.
func stackClass(n model.Node) int {
	if i := slices.Index(StackClasses, EfficiencyClass(n)); i >= 0 {
		return i
	}
	return slices.Index(StackClasses, ClassElementwise) // pooling, norm, the rest
}

// Parameter vector of one stack: efficiency per StackClasses, then these.
var (
	nStackEff = len(StackClasses)
	sMem      = nStackEff
	sLayer    = nStackEff + 1
	sCall     = nStackEff + 2
	sThreads  = nStackEff + 3
	sSync     = nStackEff + 4
	sInt8     = nStackEff + 5
	nStackPar = nStackEff + 6
)

var stackBounds = func() []bound {
	b := make([]bound, nStackPar)
	for i := range nStackEff {
		b[i] = bound{1e-3, 1}
	}
	b[1].hi = 5 // Winograd F(6,3) does 5.1× fewer multiplies than direct 3×3
	b[sMem], b[sLayer], b[sCall], b[sThreads], b[sSync] = bound{0.02, 20}, bound{1e-5, 5}, bound{1e-4, 50}, bound{0.1, 1}, bound{1e-5, 1}
	b[sInt8] = bound{0.1, 4}
	return b
}()

// stackRun is a run reduced to what the loss needs.
type stackRun struct {
	run    StackRun
	layers []fitLayer // class is a StackClasses index
	bpe    float64
}

func newStackRun(r StackRun, spec StackSpec) stackRun {
	s := stackRun{run: r, bpe: float64(r.BytesPerElem)}
	for _, n := range r.Graph.Nodes {
		if n.Op == model.OpInput || n.Op == model.OpFlatten || (spec.FoldNormAct && Folded(r.Graph, n)) {
			continue
		}
		s.layers = append(s.layers, fitLayer{class: stackClass(n), flops: FLOPs(n), elems: MovedElems(r.Graph, n)})
	}
	return s
}

// predict is the run's latency under the stack numbers v, its threads
// scaling as n^threadExp.
func (s stackRun) predict(v []float64, threadExp float64) float64 {
	peak, over := s.run.PeakGFLOPS, v[sLayer]
	if s.run.Threads > 0 {
		peak *= math.Pow(float64(s.run.Threads), threadExp)
		over += v[sSync] * float64(s.run.Threads-1)
	}
	if s.run.Int8 {
		peak *= v[sInt8]
	}
	bw := s.run.MemBandwidthGBps * v[sMem] * 1e6
	ms := v[sCall]
	for _, l := range s.layers {
		ms += max(l.flops/(peak*v[l.class]*1e6), l.elems*s.bpe/bw) + over
	}
	return ms
}

func (p StackParams) vector() []float64 {
	v := make([]float64, nStackPar)
	for i, c := range StackClasses {
		v[i] = efficiencyIn(p.Efficiency, c)
	}
	v[sMem], v[sLayer], v[sCall], v[sThreads], v[sSync] = p.MemEfficiency, p.LayerOverheadMS, p.CallOverheadMS, p.ThreadScaling, p.ThreadSyncMS
	v[sInt8] = p.Int8Speed
	return v
}

func stackParams(v []float64) StackParams {
	p := StackParams{Efficiency: map[OpClass]float64{}, MemEfficiency: v[sMem], LayerOverheadMS: v[sLayer],
		CallOverheadMS: v[sCall], ThreadScaling: v[sThreads], ThreadSyncMS: v[sSync], Int8Speed: v[sInt8]}
	for i, c := range StackClasses {
		p.Efficiency[c] = v[i]
	}
	return p
}

// WithDefaults fills the zero numbers of p from DefaultStackPrior.
func (p StackParams) WithDefaults() StackParams {
	d := DefaultStackPrior.vector()
	v := p.vector()
	for i := range v {
		if v[i] == 0 {
			v[i] = d[i]
		}
	}
	return stackParams(v)
}

// PredictMS is the latency the stack's numbers predict for a run.
func (p StackParams) PredictMS(r StackRun, spec StackSpec) float64 {
	return newStackRun(r, spec).predict(p.vector(), p.DeviceThreads(r.Device))
}

// DeviceThreads is the thread-scaling exponent of a device: its own where
// the fit had its threaded runs, else the stack's.
func (p StackParams) DeviceThreads(device string) float64 {
	if s, ok := p.DeviceThreadScaling[device]; ok {
		return s
	}
	return p.ThreadScaling
}

// threadedDevices lists, sorted, the devices whose own thread scaling the
// runs identify: a threaded run of a network that the device also ran on
// one thread (same precision), so the ratio of the two is the speed-up.
// Every other device scales as the stack does.
func threadedDevices(runs []stackRun) []string {
	var devs []string
	for _, a := range runs {
		if a.run.Threads <= 1 || a.run.Device == "" || slices.Contains(devs, a.run.Device) {
			continue
		}
		for _, b := range runs {
			if b.run.Threads == 1 && b.run.Device == a.run.Device && b.run.Graph.Name == a.run.Graph.Name && b.run.Int8 == a.run.Int8 {
				devs = append(devs, a.run.Device)
				break
			}
		}
	}
	slices.Sort(devs)
	return devs
}

// fitStack fits one stack's numbers to its runs: the squared relative
// error of every run plus the pull towards the prior (of each device's
// thread scaling, towards the stack's), minimized by Nelder–Mead from the
// prior and from seeded perturbations of it.
func fitStack(runs []stackRun, prior StackParams) StackParams {
	devs := threadedDevices(runs)
	nPar := nStackPar + len(devs)
	v0 := append(prior.vector(), make([]float64, len(devs))...)
	bounds := slices.Clone(stackBounds)
	expOf := make([]int, len(runs)) // index in v of each run's thread exponent
	for i, d := range devs {
		v0[nStackPar+i] = prior.ThreadScaling
		bounds = append(bounds, stackBounds[sThreads])
		for k, r := range runs {
			if r.run.Device == d && r.run.Threads > 1 {
				expOf[k] = nStackPar + i
			}
		}
	}
	for k := range runs {
		if expOf[k] == 0 {
			expOf[k] = sThreads
		}
	}
	get := func(z []float64) []float64 {
		v := make([]float64, nPar)
		for i := range z {
			v[i] = bounds[i].get(z[i])
		}
		return v
	}
	loss := func(z []float64) float64 {
		v := get(z)
		var sum float64
		for i := range v {
			ref := v0[i]
			if i >= nStackPar {
				ref = v[sThreads]
			}
			d := math.Log10(v[i] / ref)
			sum += stackPriorWeight * d * d
		}
		for k, r := range runs {
			e := (r.predict(v, v[expOf[k]]) - r.run.MeasuredMS) / r.run.MeasuredMS
			sum += e * e
		}
		return sum
	}
	z0 := make([]float64, nPar)
	for i := range z0 {
		z0[i] = bounds[i].put(v0[i])
	}
	minimize := func(z []float64) []float64 {
		for round := 0; round < 4; round++ {
			res, err := optimize.Minimize(optimize.Problem{Func: loss}, z,
				&optimize.Settings{FuncEvaluations: 4000, Converger: &optimize.FunctionConverge{Absolute: 1e-10, Iterations: 500}},
				&optimize.NelderMead{})
			if res == nil || err != nil && res.F >= loss(z) {
				return z
			}
			improved := res.F < loss(z)*(1-1e-6)
			z = res.X
			if !improved {
				break
			}
		}
		return z
	}
	best := minimize(z0)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 4 {
		start := make([]float64, nPar)
		for i := range start {
			start[i] = z0[i] + rng.NormFloat64()
		}
		if z := minimize(start); loss(z) < loss(best) {
			best = z
		}
	}
	v := get(best)
	p := stackParams(v[:nStackPar])
	for i, d := range devs {
		if p.DeviceThreadScaling == nil {
			p.DeviceThreadScaling = map[string]float64{}
		}
		p.DeviceThreadScaling[d] = v[nStackPar+i]
	}
	return p
}

// fitFamily fits the two numbers of a family group: the factor on the
// base group's efficiencies and memory efficiency (how fast the family
// computes) and the factor on its per-layer cost (how fast it dispatches a
// kernel). Without runs, both are 1.
func fitFamily(runs []stackRun, base StackParams) StackParams {
	scaled := func(lk, lo float64) StackParams {
		k := math.Pow(10, lk)
		p := base
		p.Efficiency = map[OpClass]float64{}
		for c, e := range base.Efficiency {
			p.Efficiency[c] = e * k
		}
		p.MemEfficiency *= k
		p.LayerOverheadMS *= math.Pow(10, lo)
		return p
	}
	loss := func(lk, lo float64) float64 {
		p := scaled(lk, lo)
		v := p.vector()
		sum := familyPullWeight*lk*lk + stackPriorWeight*lo*lo
		for _, r := range runs {
			e := (r.predict(v, p.DeviceThreads(r.run.Device)) - r.run.MeasuredMS) / r.run.MeasuredMS
			sum += e * e
		}
		return sum
	}
	if len(runs) == 0 {
		return base
	}
	// A grid over [-2, 2]² finds the basin (the loss need not have one
	// minimum), Nelder–Mead the point.
	at := []float64{0, 0}
	for lk := -2.0; lk <= 2; lk += 0.1 {
		for lo := -2.0; lo <= 2; lo += 0.1 {
			if loss(lk, lo) < loss(at[0], at[1]) {
				at = []float64{lk, lo}
			}
		}
	}
	f := func(x []float64) float64 { return loss(x[0], x[1]) }
	if res, err := optimize.Minimize(optimize.Problem{Func: f}, at, &optimize.Settings{FuncEvaluations: 2000}, &optimize.NelderMead{}); err == nil && res.F < f(at) {
		at = res.X
	}
	return scaled(at[0], at[1])
}

// StackPoint is one run against the prediction of a fit.
type StackPoint struct {
	Run         StackRun
	PredictMS   float64
	RelativeErr float64 // (predicted − measured) / measured
}

// StackFit is a fit of every stack, with each run's prediction in sample
// and left out.
type StackFit struct {
	Params map[string]StackParams
	// InSample predicts every run with its stack's fit; LeaveOneOut with a
	// fit of its stack to the other runs (the prior alone when the run is
	// its stack's only one). Both are in the order of the runs given.
	InSample, LeaveOneOut []StackPoint
}

// FitStacks fits every stack of runs (specs names each stack's settings)
// and, when loo is set, refits each stack once per run without it. The
// result depends only on the runs, never on the number of CPUs.
func FitStacks(runs []StackRun, specs map[string]StackSpec, loo bool) (*StackFit, error) {
	byStack := map[string][]int{}
	prep := make([]stackRun, len(runs))
	for i, r := range runs {
		spec, ok := specs[r.Stack]
		if !ok {
			return nil, fmt.Errorf("stack fit: run %s: stack %q has no settings", r.ID, r.Stack)
		}
		if r.Graph == nil || r.MeasuredMS <= 0 || r.PeakGFLOPS <= 0 || r.MemBandwidthGBps <= 0 || r.BytesPerElem <= 0 {
			return nil, fmt.Errorf("stack fit: run %s: graph, latency, peak, bandwidth and bytes per element must be set", r.ID)
		}
		prep[i] = newStackRun(r, spec)
		byStack[r.Stack] = append(byStack[r.Stack], i)
	}
	stacks := make([]string, 0, len(byStack))
	for s := range byStack {
		stacks = append(stacks, s)
	}
	sort.Strings(stacks)

	// Every fit is a job: the whole stack (skip = -1) or the stack without
	// run skip. Jobs write to their own slot, so the order they run in
	// cannot change the result.
	type job struct {
		stack string
		skip  int
	}
	var jobs []job
	for _, s := range stacks {
		jobs = append(jobs, job{s, -1})
		if loo {
			for _, i := range byStack[s] {
				jobs = append(jobs, job{s, i})
			}
		}
	}
	// Family groups start from their base group's whole fit: they run
	// after every other job.
	out := make([]StackParams, len(jobs))
	whole := map[string]int{} // job of each stack's whole fit
	for k, j := range jobs {
		if j.skip < 0 {
			whole[j.stack] = k
		}
	}
	for _, family := range []bool{false, true} {
		var wg sync.WaitGroup
		sem := make(chan struct{}, cores.N())
		for k, j := range jobs {
			spec := specs[j.stack]
			if (spec.Family != "") != family {
				continue
			}
			if family {
				if _, ok := whole[spec.Family]; !ok {
					return nil, fmt.Errorf("stack fit: stack %q shares the numbers of %q, which has no runs", j.stack, spec.Family)
				}
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				var train []stackRun
				for _, i := range byStack[j.stack] {
					if i != j.skip {
						train = append(train, prep[i])
					}
				}
				switch {
				case family:
					out[k] = fitFamily(train, out[whole[spec.Family]])
				case len(train) == 0:
					out[k] = spec.Prior.WithDefaults()
				default:
					out[k] = fitStack(train, spec.Prior.WithDefaults())
				}
			})
		}
		wg.Wait()
	}

	f := &StackFit{Params: map[string]StackParams{}, InSample: make([]StackPoint, len(runs))}
	if loo {
		f.LeaveOneOut = make([]StackPoint, len(runs))
	}
	point := func(i int, p StackParams) StackPoint {
		ms := prep[i].predict(p.vector(), p.DeviceThreads(runs[i].Device))
		return StackPoint{Run: runs[i], PredictMS: ms, RelativeErr: (ms - runs[i].MeasuredMS) / runs[i].MeasuredMS}
	}
	for k, j := range jobs {
		if j.skip < 0 {
			f.Params[j.stack] = out[k]
			for _, i := range byStack[j.stack] {
				f.InSample[i] = point(i, out[k])
			}
		} else {
			f.LeaveOneOut[j.skip] = point(j.skip, out[k])
		}
	}
	return f, nil
}

// MAPE is the mean absolute relative error of points (0 for none).
func MAPE(points []StackPoint) float64 {
	var sum float64
	for _, p := range points {
		sum += math.Abs(p.RelativeErr)
	}
	return sum / float64(max(len(points), 1))
}

// Stacks lists the stacks of a fit, sorted.
func (f *StackFit) Stacks() []string {
	out := make([]string, 0, len(f.Params))
	for s := range f.Params {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
