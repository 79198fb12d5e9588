package profile

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
)

// OpClass groups ops that reach a similar fraction of a device's peak.
type OpClass string

// The op classes a cost model gives an efficiency for.
const (
	ClassConv        OpClass = "conv"
	ClassDepthwise   OpClass = "depthwise"
	ClassLinear      OpClass = "linear"
	ClassElementwise OpClass = "elementwise"
	// ClassNorm is batch norm: elementwise work, but frameworks run it as
	// its own, often slower, kernel. Its efficiency and overhead fall back
	// to the elementwise ones when a model does not give them.
	ClassNorm OpClass = "norm"
	ClassPool OpClass = "pool"
	// ClassConv3x3 is a dense 3×3 stride-1 conv, which stacks with
	// Winograd kernels (ncnn, TensorRT) run with fewer multiplies than its
	// MACs: ClassOf calls it conv, and its efficiency falls back to conv's
	// when a model does not give one.
	ClassConv3x3 OpClass = "conv3x3"
	// ClassConv1x1 is a dense 1×1 conv: a GEMM on the input as it lies,
	// where other convs first unfold it (im2col) or run a direct kernel.
	// ClassOf calls it conv, and its efficiency falls back to conv's.
	ClassConv1x1 OpClass = "conv1x1"
)

// OpClasses lists every op class.
var OpClasses = []OpClass{ClassConv, ClassDepthwise, ClassLinear, ClassElementwise, ClassPool}

// ClassOf is the op class of a node.
func ClassOf(n model.Node) OpClass {
	switch n.Op {
	case model.OpConv2d:
		if n.Conv.Groups > 1 {
			return ClassDepthwise
		}
		return ClassConv
	case model.OpLinear:
		return ClassLinear
	case model.OpMaxPool2d, model.OpAvgPool2d, model.OpAdaptiveAvgPool2d:
		return ClassPool
	case model.OpBatchNorm2d:
		return ClassNorm
	}
	return ClassElementwise
}

// CostModel predicts a layer's latency on a device:
// max(FLOPs / (peak · efficiency[class]), bytes moved / bandwidth) + overhead.
type CostModel struct {
	Device           string
	BytesPerElem     int // 4 for fp32 inference, 2 for fp16
	PeakGFLOPS       float64
	MemBandwidthGBps float64
	LayerOverheadMS  float64
	Efficiency       map[OpClass]float64
	// OverheadMS overrides LayerOverheadMS per op class (fitted models).
	OverheadMS map[OpClass]float64
	// FoldNormAct makes the batch norms and activations that a stack folds
	// into the conv before them cost nothing (see Folded).
	FoldNormAct bool
	// CacheBytes and CacheGBps, when set, make memory two-level: the first
	// CacheBytes a layer moves go at cache speed, the rest at
	// MemBandwidthGBps (activations at batch 1 often fit a CPU's cache).
	CacheBytes float64
	CacheGBps  float64
	// TensorEncodeMS and TensorDecodeMS are fixed costs per tensor sent and
	// received (serialization, framing): a runtime pays them however small
	// the tensor, which the per-value pass of ElementwiseMS does not see.
	TensorEncodeMS, TensorDecodeMS float64
	// ColdFrac and ColdTauMS make a stage slower after the device idled
	// (see IdleFactor): the slowdown of a fully cold pass and its time
	// constant in ms. 0: no term.
	ColdFrac, ColdTauMS float64
	// ComputeScale multiplies the device's layer latencies, measured or
	// predicted, and the passes over a tensor (0: 1): fitted by
	// 'calibrate --runtime' where the profile over-predicts the run, in
	// (0, 1].
	ComputeScale float64
}

// Scale is the compute scale, 1 when unset.
func (m CostModel) Scale() float64 { return scaleOf(m.ComputeScale) }

// memoryMS is the time to move bytes.
func (m CostModel) memoryMS(bytes float64) float64 {
	if m.CacheGBps > 0 {
		return min(bytes, m.CacheBytes)/(m.CacheGBps*1e6) + max(0, bytes-m.CacheBytes)/(m.MemBandwidthGBps*1e6)
	}
	return bytes / (m.MemBandwidthGBps * 1e6)
}

// efficiency of a class, norm falling back to elementwise and conv3x3 and
// conv1x1 to conv.
func (m CostModel) efficiency(c OpClass) float64 { return efficiencyIn(m.Efficiency, c) }

// efficiencyIn is class c's efficiency in eff, with the fallbacks of
// CostModel.efficiency (a stack fit reads its own map the same way).
func efficiencyIn(eff map[OpClass]float64, c OpClass) float64 {
	if e, ok := eff[c]; ok {
		return e
	}
	switch c {
	case ClassNorm:
		return eff[ClassElementwise]
	case ClassConv3x3, ClassConv1x1:
		return eff[ClassConv]
	}
	return 0
}

// EfficiencyClass is the class whose efficiency a node computes at: its
// ClassOf, but dense 3×3 stride-1 and 1×1 convs their own.
func EfficiencyClass(n model.Node) OpClass {
	switch {
	case IsConv3x3(n):
		return ClassConv3x3
	case IsConv1x1(n):
		return ClassConv1x1
	}
	return ClassOf(n)
}

// IsConv3x3 reports whether a node is a dense 3×3 stride-1 conv
// (ClassConv3x3).
func IsConv3x3(n model.Node) bool {
	return n.Op == model.OpConv2d && n.Conv.Groups <= 1 && n.Conv.Kernel == 3 && n.Conv.Stride == 1
}

// IsConv1x1 reports whether a node is a dense 1×1 conv (ClassConv1x1).
func IsConv1x1(n model.Node) bool {
	return n.Op == model.OpConv2d && n.Conv.Groups <= 1 && n.Conv.Kernel == 1
}

// overhead of a class: its own, else norm's falls back to elementwise's,
// else the layer overhead.
func (m CostModel) overhead(c OpClass) float64 {
	if o, ok := m.OverheadMS[c]; ok {
		return o
	}
	if o, ok := m.OverheadMS[ClassElementwise]; ok && c == ClassNorm {
		return o
	}
	return m.LayerOverheadMS
}

// Validate says what makes the model unusable.
func (m CostModel) Validate() error {
	if m.PeakGFLOPS <= 0 || m.MemBandwidthGBps <= 0 || m.LayerOverheadMS < 0 || m.BytesPerElem <= 0 {
		return fmt.Errorf("cost model of %q: peak %g GFLOP/s, bandwidth %g GB/s, overhead %g ms, %d bytes/elem must be positive",
			m.Device, m.PeakGFLOPS, m.MemBandwidthGBps, m.LayerOverheadMS, m.BytesPerElem)
	}
	for _, c := range OpClasses {
		if e := m.Efficiency[c]; e <= 0 || e > 1 {
			return fmt.Errorf("cost model of %q: efficiency[%s] = %g, want (0, 1]", m.Device, c, e)
		}
	}
	if m.CacheGBps < 0 || m.CacheBytes < 0 || (m.CacheGBps > 0) != (m.CacheBytes > 0) {
		return fmt.Errorf("cost model of %q: cache %g bytes at %g GB/s: give both or neither", m.Device, m.CacheBytes, m.CacheGBps)
	}
	if !(m.TensorEncodeMS >= 0) || !(m.TensorDecodeMS >= 0) || math.IsInf(m.TensorEncodeMS+m.TensorDecodeMS, 0) {
		return fmt.Errorf("cost model of %q: tensor encode %g ms and decode %g ms must be finite and ≥ 0", m.Device, m.TensorEncodeMS, m.TensorDecodeMS)
	}
	if !(m.ColdFrac >= 0) || !(m.ColdTauMS >= 0) || math.IsInf(m.ColdFrac+m.ColdTauMS, 0) || (m.ColdFrac > 0 && m.ColdTauMS == 0) {
		return fmt.Errorf("cost model of %q: idle term cold fraction %g, time constant %g ms: want finite values ≥ 0, a time constant > 0 with a fraction", m.Device, m.ColdFrac, m.ColdTauMS)
	}
	if !(m.ComputeScale >= 0 && m.ComputeScale <= maxComputeScale) {
		return fmt.Errorf("cost model of %q: compute scale %g: want a value in (0, %d] (0: none)", m.Device, m.ComputeScale, maxComputeScale)
	}
	for c, o := range m.OverheadMS {
		if o < 0 {
			return fmt.Errorf("cost model of %q: overhead[%s] = %g ms, want ≥ 0", m.Device, c, o)
		}
	}
	return nil
}

// FLOPs is the floating-point work of a node: two per MAC plus its
// elementwise work (functional adds and multiplies count one per output).
func FLOPs(n model.Node) float64 {
	f := 2*float64(n.MACs) + float64(n.ElementwiseOps)
	if n.Op == model.OpAdd || n.Op == model.OpMul {
		f += float64(n.OutShape.Elems())
	}
	return f
}

// MovedElems is what a node reads and writes: inputs, output and weights.
func MovedElems(g *model.Graph, n model.Node) float64 {
	e := float64(n.OutShape.Elems() + n.Params)
	for _, in := range n.Inputs {
		e += float64(g.Nodes[in].OutShape.Elems())
	}
	return e
}

// NodeMS predicts the latency of one node. Views (flatten) and the input
// cost nothing; every other op is at least one kernel launch.
func (m CostModel) NodeMS(g *model.Graph, n model.Node) float64 {
	if n.Op == model.OpInput || n.Op == model.OpFlatten || m.FoldNormAct && Folded(g, n) {
		return 0
	}
	c := ClassOf(n)
	compute := FLOPs(n) / (m.PeakGFLOPS * m.efficiency(EfficiencyClass(n)) * 1e6)
	memory := m.memoryMS(MovedElems(g, n) * float64(m.BytesPerElem))
	return max(compute, memory) + m.overhead(c)
}

// ElementwiseMS predicts a pass over elems values (encoding or decoding a
// cut tensor): one kernel that reads 4 bytes and writes at most 4 per value.
func (m CostModel) ElementwiseMS(elems int64) float64 {
	if elems == 0 {
		return 0
	}
	return m.memoryMS(float64(elems)*8) + m.LayerOverheadMS
}

// Latency holds per-node, per-block and per-head latency of a graph on one
// device.
type Latency struct {
	Device string
	// Source is "predicted" or "measured: FILE" (blocks and heads found in
	// the table are measured, the rest predicted).
	Source  string
	NodeMS  []float64 // by node ID
	BlockMS []float64 // by block index
	HeadMS  []float64 // by task index
	// CutBytes are measured sizes of the tensor at each cut (index: blocks
	// on the edge) per encoding, the lossless stage's included; nil when
	// nothing was measured.
	CutBytes []map[codec.Encoding]int64
}

// Source gives the latency of a graph on a device: predicted from a cost
// model, or measured.
type Source interface {
	Latency(g *model.Graph) (*Latency, error)
}

// Predict is the latency source of a cost model.
func (m CostModel) Latency(g *model.Graph) (*Latency, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	l := &Latency{Device: m.Device, Source: "predicted", NodeMS: make([]float64, len(g.Nodes)),
		BlockMS: make([]float64, len(g.Blocks)), HeadMS: make([]float64, len(g.Heads))}
	for _, n := range g.Nodes {
		ms := m.NodeMS(g, n)
		l.NodeMS[n.ID] = ms
		switch {
		case n.Task >= 0:
			l.HeadMS[n.Task] += ms
		case n.Block >= 0:
			l.BlockMS[n.Block] += ms
		}
	}
	return l, nil
}

// Scaled is a copy of l with every latency multiplied by k: the same
// device k times slower (k > 1) or faster.
func (l *Latency) Scaled(k float64) *Latency {
	mul := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i := range v {
			out[i] = v[i] * k
		}
		return out
	}
	return &Latency{Device: l.Device, Source: l.Source, NodeMS: mul(l.NodeMS), BlockMS: mul(l.BlockMS), HeadMS: mul(l.HeadMS), CutBytes: l.CutBytes}
}
