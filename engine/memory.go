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
	// WeightBytes is the Program's own copies of them: batch norm folded,
	// and packed for the native GEMM when it runs.
	WeightBytes int64
	// ActivationBytes is the activation buffers, for Options.Batch samples.
	ActivationBytes int64
	// ScratchBytes is the im2col matrix and the per-thread scratch.
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
	_, sizes := planBuffers(g, plans, opts.Batch)
	return planMemory(g, opts, plans, sizes), nil
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

// planMemory adds up what Compile allocates for plans and buffer sizes:
// it follows the same decisions (newStep, newConvStep), through the same
// size functions, so that the plan is what Compile makes.
func planMemory(g *model.Graph, opts Options, plans []stepPlan, sizes []int) MemoryPlan {
	native := nativeConvs(opts.Backend)
	var weights, scratch, buffers, col int
	if native {
		scratch = satMul(opts.Threads, packBElems())
	}
	for _, n := range sizes {
		buffers = satAdd(buffers, n)
	}
	for _, sp := range plans {
		if !native {
			col = max(col, colElems(sp.nodes[0]))
		}
		w, s := stepElems(g, sp, opts.Threads, native)
		weights, scratch = satAdd(weights, w), satAdd(scratch, s)
	}
	scratch = satAdd(scratch, col)
	return MemoryPlan{
		ParamBytes:      int64(satMul(4, paramElems(g))),
		WeightBytes:     int64(satMul(4, weights)),
		ActivationBytes: int64(satMul(4, buffers)),
		ScratchBytes:    int64(satMul(4, scratch)),
	}
}

// stepElems is the float32s one step keeps: its weights and its scratch.
func stepElems(g *model.Graph, sp stepPlan, threads int, native bool) (weights, scratch int) {
	n := sp.nodes[0]
	in := g.Nodes[n.Inputs[0]].OutShape
	switch n.Op {
	case model.OpConv2d:
		c := n.Conv
		kk := satMul(c.InChannels/max(c.Groups, 1), satMul(c.Kernel, c.Kernel))
		weights = satMul(c.OutChannels, kk)
		if c.Bias || (len(sp.nodes) > 1 && sp.nodes[1].Op == model.OpBatchNorm2d) {
			weights = satAdd(weights, c.OutChannels)
		}
		geo := geomOf(c, in, sp.nodes[len(sp.nodes)-1].OutShape)
		switch {
		case convModeOf(c) == convDepthwise:
			_, per := depthwiseScratch(&geo)
			scratch = satMul(threads, per)
		case native:
			coutG := c.OutChannels / max(c.Groups, 1)
			weights = satAdd(weights, satMul(max(c.Groups, 1), packAElems(coutG, kk)))
		}
	case model.OpBatchNorm2d:
		weights = satMul(2, in[0])
	case model.OpMaxPool2d:
		geo := geomOf(n.Conv, in, n.OutShape)
		if ok, per := nativeMaxPool(&geo); ok {
			scratch = satMul(threads, per)
		}
	case model.OpLinear:
		weights = satMul(n.Features, n.Conv.InChannels)
		if n.Conv.Bias {
			weights = satAdd(weights, n.Features)
		}
	}
	return weights, scratch
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
