package engine

import (
	"fmt"
	"io"
	"math"
	"os"

	"github.com/mtlsplit/mtlsplit/internal/procfs"
	"github.com/mtlsplit/mtlsplit/model"
)

// MemoryPlan is the memory a Program needs, in bytes, computed from the
// graph's shapes before anything is allocated: a network at a size the
// machine cannot hold is refused with a message, not a Go out-of-memory
// crash. Sizes saturate at math.MaxInt64 rather than overflow.
type MemoryPlan struct {
	// ParamBytes is the Weights the caller holds while compiling
	// (NewWeights, RandomWeights or an ONNX file's tensors).
	ParamBytes int64
	// WeightBytes is the Program's own form of them, one copy each: batch
	// norm folded, and only packed where the native GEMM runs. With
	// Options.ReleaseWeights the caller's are dropped as these are made,
	// so the process peaks below ParamBytes + WeightBytes.
	WeightBytes int64
	// ActivationBytes is the activation buffers, for Options.Batch
	// samples: reused by liveness, so the largest set of tensors alive at
	// once, not their sum.
	ActivationBytes int64
	// ScratchBytes is what every step shares: the im2col matrix, the
	// per-thread scratch, and, while compiling, the buffer batch norm is
	// folded in when the activation arena cannot hold it.
	ScratchBytes int64
	// OtherBytes is what the caller will hold besides while it runs the
	// Program (measure's recorded cut tensors), counted against the same
	// budget; PlanMemory leaves it 0.
	OtherBytes int64
}

// TotalBytes is the sum of the plan's parts.
func (m MemoryPlan) TotalBytes() int64 {
	t := 0
	for _, b := range []int64{m.ParamBytes, m.WeightBytes, m.ActivationBytes, m.ScratchBytes, m.OtherBytes} {
		t = satAdd(t, int(max(b, 0)))
	}
	return int64(t)
}

// MemoryError is returned, before anything is allocated, when a Program
// would need more memory than its budget (Options.MaxMemoryMB).
type MemoryError struct {
	Graph       string
	Plan        MemoryPlan
	BudgetBytes int64
	// Default is set when the budget is DefaultMaxMemoryMB's.
	Default bool
}

func (e *MemoryError) Error() string {
	budget := "the memory budget"
	if e.Default {
		budget = "the default memory budget (3/4 of this machine's memory, at most what is free now)"
	}
	other := ""
	if e.Plan.OtherBytes > 0 {
		other = ", other tensors " + HumanBytes(e.Plan.OtherBytes)
	}
	return fmt.Sprintf("%s needs %s of memory (weights %s, activations %s, scratch %s%s), more than %s of %s",
		e.Graph, HumanBytes(e.Plan.TotalBytes()), HumanBytes(satAdd64(e.Plan.ParamBytes, e.Plan.WeightBytes)),
		HumanBytes(e.Plan.ActivationBytes), HumanBytes(e.Plan.ScratchBytes), other, budget, HumanBytes(e.BudgetBytes))
}

// HumanBytes writes n bytes with a decimal unit: "512 B", "1.5 MB", "2.3 TB".
func HumanBytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9 EB"
	}
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	f, u := float64(n), 0
	for f >= 1000 && u < len(units)-1 {
		f, u = f/1000, u+1
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}

// PlanMemory is the memory Compile would need for g with opts, without
// compiling or allocating it.
func PlanMemory(g *model.Graph, opts Options) (MemoryPlan, error) {
	if g == nil {
		return MemoryPlan{}, fmt.Errorf("plan memory: nil graph")
	}
	opts = opts.withDefaults()
	plans, _, err := planSteps(g, opts.Keep)
	if err != nil {
		return MemoryPlan{}, fmt.Errorf("plan memory of %s: %w", g.Name, err)
	}
	_, _, arena := planBuffers(g, plans, opts.Batch, !opts.noReuse)
	return planMemory(g, opts, plans, arena), nil
}

// CheckMemory returns a *MemoryError when g with opts needs more memory
// than opts.MaxMemoryMB allows. Call it before making g's Weights, which
// are the first large allocation; Compile checks again.
func CheckMemory(g *model.Graph, opts Options) error {
	m, err := PlanMemory(g, opts)
	if err != nil {
		return err
	}
	return CheckPlan(g.Name, m, opts)
}

// CheckPlan returns a *MemoryError naming graph when plan m (with what the
// caller adds in OtherBytes) needs more than opts.MaxMemoryMB allows.
func CheckPlan(graph string, m MemoryPlan, opts Options) error {
	budget, isDefault := budgetBytes(opts.MaxMemoryMB)
	if m.TotalBytes() > budget {
		return &MemoryError{Graph: graph, Plan: m, BudgetBytes: budget, Default: isDefault}
	}
	return nil
}

// budgetBytes is the budget of Options.MaxMemoryMB. Without a limit the
// budget is still below math.MaxInt64, so that a saturated plan (one that
// does not fit in 64 bits) is refused.
func budgetBytes(maxMB int) (bytes int64, isDefault bool) {
	switch {
	case maxMB < 0:
		return math.MaxInt64 - 1, false
	case maxMB == 0:
		return int64(satMul(DefaultMaxMemoryMB(), 1e6)), true
	}
	return int64(satMul(maxMB, 1e6)), false
}

// fallbackMemoryMB is the budget where the physical memory cannot be read.
const fallbackMemoryMB = 4000

// DefaultMaxMemoryMB is the budget when Options.MaxMemoryMB is 0: 3/4 of
// the physical memory, or the memory available now if that is less (the
// kernel's MemAvailable: a run that needs more would swap or be killed),
// read from /proc/meminfo; 4000 MB where that file does not exist. An MB
// is 10⁶ bytes, as everywhere in the project.
func DefaultMaxMemoryMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallbackMemoryMB
	}
	defer f.Close()
	total, avail := meminfo(f)
	switch {
	case total <= 0:
		return fallbackMemoryMB
	case avail <= 0:
		avail = total
	}
	return int(min(total*3/4, avail) * 1024 / 1e6) // meminfo's kB are KiB
}

// meminfo reads MemTotal and MemAvailable, in kB, from /proc/meminfo's
// lines ("MemTotal:       16318412 kB"); 0 for a line it lacks.
func meminfo(r io.Reader) (totalKB, availKB int64) {
	v := procfs.KiB(r, "MemTotal", "MemAvailable")
	return v["MemTotal"], v["MemAvailable"]
}

// planMemory adds up what Compile allocates for plans and an activation
// arena of arena float32s: it follows the same decisions (newStep,
// newConvStep), through the same size functions, so that the plan is what
// Compile makes.
func planMemory(g *model.Graph, opts Options, plans []stepPlan, arena int) MemoryPlan {
	native := nativeConvs(opts.Backend)
	var weights int
	for _, sp := range plans {
		weights = satAdd(weights, stepWeightElems(g, sp, native))
	}
	col, fold := sharedScratch(plans, native, opts.ReleaseWeights)
	if arena >= fold { // folded in the arena
		fold = 0
	}
	scratch := satAdd(satAdd(col, fold), satMul(opts.Threads, threadScratchElems(g, plans, native)))
	return MemoryPlan{
		ParamBytes:      int64(satMul(4, paramElems(g))),
		WeightBytes:     int64(satMul(4, weights)),
		ActivationBytes: int64(satMul(4, arena)),
		ScratchBytes:    int64(satMul(4, scratch)),
	}
}

// packs reports a convolution whose weights the Program keeps only in its
// own form: packed for the native GEMM, or transformed for Winograd.
func packs(n *model.Node, native bool) bool { return packsMode(convModeAt(n), native) }

func packsMode(m convMode, native bool) bool {
	return m == convWinograd || native && m != convDepthwise
}

// stepWeightElems is the float32s of weights one step keeps.
func stepWeightElems(g *model.Graph, sp stepPlan, native bool) int {
	n := sp.nodes[0]
	in := g.Nodes[n.Inputs[0]].OutShape
	var weights int
	switch n.Op {
	case model.OpConv2d:
		c := n.Conv
		kk := satMul(c.InChannels/max(c.Groups, 1), satMul(c.Kernel, c.Kernel))
		switch {
		case convModeAt(n) == convWinograd:
			weights = winoWeightElems(winoXi(winoTile(n)), c.InChannels, c.OutChannels, native)
		case packs(n, native):
			coutG := c.OutChannels / max(c.Groups, 1)
			weights = satMul(max(c.Groups, 1), packAElems(coutG, kk))
		default:
			weights = satMul(c.OutChannels, kk)
		}
		if c.Bias || folds(sp) {
			weights = satAdd(weights, c.OutChannels)
		}
	case model.OpBatchNorm2d:
		weights = satMul(2, in[0])
	case model.OpLinear:
		weights = satMul(n.Features, n.Conv.InChannels)
		if n.Conv.Bias {
			weights = satAdd(weights, n.Features)
		}
	}
	return weights
}

// sharedScratch is the scratch one Program holds for all its steps, which
// run one after another: the im2col matrix of the largest convolution the
// BLAS runs (the native GEMM packs patches itself) or the transformed input
// and output of the largest Winograd convolution run whole, or the B
// matrix the native GEMM packs once for all threads, and, only while
// compiling, the largest weights of a convolution the native GEMM packs
// after batch norm is folded into them (folds), unless foldsInPlace: Compile
// folds them in the activation arena when it is large enough (nothing runs
// while it compiles).
func sharedScratch(plans []stepPlan, native, release bool) (col, fold int) {
	uses := weightUses(plans)
	for _, sp := range plans {
		n := sp.nodes[0]
		if n.Op != model.OpConv2d {
			continue
		}
		if q := winoPlanOf(n, 1); convModeAt(n) == convWinograd && q.whole {
			col = max(col, q.blockElems())
		}
		if m := convModeAt(n); native && (m == convIm2col || m == convDirect) && n.OutShape[1]*n.OutShape[2] <= nativeNC {
			// B packed once for a row split's threads (nativeGemmKernel).
			c := n.Conv
			col = max(col, packedBElems(c.InChannels/max(c.Groups, 1)*c.Kernel*c.Kernel, n.OutShape[1]*n.OutShape[2]))
		}
		if packs(n, native) {
			if folds(sp) && !foldsInPlace(release, uses, n) {
				c := n.Conv
				fold = max(fold, satMul(c.OutChannels, satMul(c.InChannels/max(c.Groups, 1), satMul(c.Kernel, c.Kernel))))
			}
		} else {
			col = max(col, colElems(n))
		}
	}
	return col, fold
}

// weightUses counts the steps that read each node's weights (by name: a
// module called twice shares them).
func weightUses(plans []stepPlan) map[string]int {
	uses := map[string]int{}
	for _, sp := range plans {
		for _, n := range sp.nodes {
			uses[n.Name]++
		}
	}
	return uses
}

// foldsInPlace reports a convolution whose batch norm Compile folds into
// the caller's own tensor: with ReleaseWeights, when the step is the
// tensor's only reader (uses left), it is dropped right after.
func foldsInPlace(release bool, uses map[string]int, conv *model.Node) bool {
	return release && uses[conv.Name] == 1
}

// folds reports a convolution step with batch norm folded into its weights.
func folds(sp stepPlan) bool { return len(sp.nodes) > 1 && sp.nodes[1].Op == model.OpBatchNorm2d }

// threadScratchElems is the scratch each thread holds, shared by every
// step: the largest of the native GEMM's packed B, a depthwise
// convolution's padded plane and the native max pooling's.
func threadScratchElems(g *model.Graph, plans []stepPlan, native bool) int {
	var per int
	if native {
		per = packBElems()
	}
	for _, sp := range plans {
		n := sp.nodes[0]
		in := g.Nodes[n.Inputs[0]].OutShape
		switch {
		case n.Op == model.OpConv2d && convModeAt(n) == convWinograd:
			q := winoPlanOf(n, 1) // the thread count splits the work, not the scratch
			per = max(per, q.scratchElems(native))
		case n.Op == model.OpConv2d && convModeOf(n.Conv) == convDepthwise:
			geo := geomOf(n.Conv, in, sp.nodes[len(sp.nodes)-1].OutShape)
			_, e := depthwiseScratch(&geo)
			per = max(per, e)
		case n.Op == model.OpMaxPool2d:
			geo := geomOf(n.Conv, in, n.OutShape)
			if ok, e := nativeMaxPool(&geo); ok {
				per = max(per, e)
			}
		}
	}
	return per
}

// paramElems is the float32s of g's Weights (a module called twice shares
// its tensors, as in NewWeights).
func paramElems(g *model.Graph) int {
	seen := map[string]bool{}
	total := 0
	for i := range g.Nodes {
		n := &g.Nodes[i]
		ps := nodeParams(n)
		if len(ps) == 0 || seen[n.Name] {
			continue
		}
		seen[n.Name] = true
		for _, p := range ps {
			e := 1
			for _, d := range p.Shape {
				e = satMul(e, d)
			}
			total = satAdd(total, e)
		}
	}
	return total
}

// satMul and satAdd are non-negative int arithmetic that saturates at
// math.MaxInt instead of wrapping: a graph whose sizes overflow is simply
// too big.
func satMul(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func satAdd64(a, b int64) int64 { return int64(satAdd(int(a), int(b))) }

// elemsOf is a per-sample shape's element count, saturating.
func elemsOf(s model.Shape) int {
	n := 1
	for _, d := range s {
		n = satMul(n, d)
	}
	return n
}

// vectorGuard is how far past either end of a buffer the native kernels'
// masked vector loads may point: a 16-lane load at a row's last column,
// or a 5×5 window's taps left of column 0.
const vectorGuard = 32

// guarded makes a zeroed buffer of n floats inside vectorGuard written
// floats on each side. A masked-off lane reads nothing, but when its
// address lies on a page the process has not touched (fresh from the OS,
// or given back by the Go scavenger) the CPU takes a microcode assist on
// every such load: mobilenet_v3_small's 5×5 depthwise layers then ran 4×
// slower in some processes and not in others, depending on where the
// buffer landed.
func guarded(n int) []float32 {
	b := make([]float32, n+2*vectorGuard)
	clear(b[:vectorGuard]) // Go does not write fresh pages; writing maps them
	clear(b[vectorGuard+n:])
	return b[vectorGuard : vectorGuard+n : vectorGuard+n]
}
