package profile

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
	"github.com/mtlsplit/mtlsplit/model"
)

// Table is a measured latency table in the format of
// ../shared/reference/measured (per backbone: blocks and heads with
// latency medians).
type Table struct {
	Meta      TableMeta                `json:"meta" yaml:"meta"`
	Backbones map[string]TableBackbone `json:"backbones" yaml:"backbones"`
}

// reference is a field of the reference format that the planner does not
// use: declared so that strict decoding knows it, and kept as read.
type reference = yaml.Node

// TableMeta says where and how a table was measured.
type TableMeta struct {
	DeviceName string `json:"device_name" yaml:"device_name"`
	Dtype      string `json:"dtype" yaml:"dtype"`
	Batch      int    `json:"batch" yaml:"batch"`
	Size       int    `json:"size" yaml:"size"`
	Threads    int    `json:"threads" yaml:"threads"`
	Reps       int    `json:"reps,omitempty" yaml:"reps,omitempty"`
	Warmup     int    `json:"warmup,omitempty" yaml:"warmup,omitempty"`
	// Engine names what ran the network (this project's engine and its
	// BLAS); empty in the reference tables, measured with PyTorch.
	Engine string `json:"engine,omitempty" yaml:"engine,omitempty"`

	// The reference tables' record of their PyTorch run.
	Device         reference `json:"-" yaml:"device,omitempty"`
	Date           reference `json:"-" yaml:"date,omitempty"`
	Torch          reference `json:"-" yaml:"torch,omitempty"`
	Torchvision    reference `json:"-" yaml:"torchvision,omitempty"`
	Python         reference `json:"-" yaml:"python,omitempty"`
	CUDA           reference `json:"-" yaml:"cuda,omitempty"`
	CUDNN          reference `json:"-" yaml:"cudnn,omitempty"`
	CUDNNBenchmark reference `json:"-" yaml:"cudnn_benchmark,omitempty"`
	Seed           reference `json:"-" yaml:"seed,omitempty"`
	Repeat         reference `json:"-" yaml:"repeat,omitempty"`
	Hidden         reference `json:"-" yaml:"hidden,omitempty"`
	Heads          reference `json:"-" yaml:"heads,omitempty"`
	Notes          reference `json:"-" yaml:"notes,omitempty"`
	Env            reference `json:"-" yaml:"env,omitempty"`
}

// TableBackbone is one backbone's measurements.
type TableBackbone struct {
	Blocks []TableBlock `json:"blocks" yaml:"blocks"`
	Heads  []TableHead  `json:"heads" yaml:"heads"`
	// Layers, when measured (profile --granularity layer), time every
	// layer; a layer fused into another (batch norm, activations) has no
	// time of its own and names the layer it runs in.
	Layers []TableLayer `json:"layers,omitempty" yaml:"layers,omitempty"`
	// Memory, when measured (profile --measure), is the engine's memory
	// plan for the backbone and the process's measured peak.
	Memory  *TableMemory `json:"memory,omitempty" yaml:"memory,omitempty"`
	Latency struct {
		EndToEnd         Stat      `json:"end_to_end" yaml:"end_to_end"`
		SumOfBlocksMedMS reference `json:"-" yaml:"sum_of_block_medians_ms,omitempty"`
	} `json:"latency" yaml:"latency"`

	// The reference tables' architecture records (shapes, MACs, ONNX).
	HeadChannels reference `json:"-" yaml:"head_channels,omitempty"`
	Leaves       reference `json:"-" yaml:"leaves,omitempty"`
	ONNX         reference `json:"-" yaml:"onnx,omitempty"`
	Totals       reference `json:"-" yaml:"totals,omitempty"`
}

// TableMemory is a backbone's memory in bytes: the engine's plan (made
// before it allocates) and, where the system reports it, how far the
// process's peak resident set rose while it compiled and ran the network.
type TableMemory struct {
	ParamsBytes      Bytes `json:"params_bytes" yaml:"params_bytes"`
	WeightsBytes     Bytes `json:"weights_bytes" yaml:"weights_bytes"`
	ActivationsBytes Bytes `json:"activations_bytes" yaml:"activations_bytes"`
	ScratchBytes     Bytes `json:"scratch_bytes" yaml:"scratch_bytes"`
	TotalBytes       Bytes `json:"total_bytes" yaml:"total_bytes"`
	// PeakRSSGrowthBytes is absent where the peak cannot be read (not Linux).
	PeakRSSGrowthBytes *Bytes `json:"peak_rss_growth_bytes,omitempty" yaml:"peak_rss_growth_bytes,omitempty"`
}

// Bytes is a size in bytes. It decodes only from a YAML integer: the YAML
// decoder would otherwise truncate 1.5 to 1 without a word.
type Bytes int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return fmt.Errorf("line %d: %q is not a whole number of bytes", n.Line, n.Value)
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("line %d: %q is not a size in bytes that fits in 64 bits", n.Line, n.Value)
	}
	*b = Bytes(v)
	return nil
}

// check reports a negative size, or a total that is not its parts' sum.
func (m *TableMemory) check(r *strictyaml.Report, path string) {
	parts := []struct {
		name string
		v    Bytes
	}{{"params_bytes", m.ParamsBytes}, {"weights_bytes", m.WeightsBytes},
		{"activations_bytes", m.ActivationsBytes}, {"scratch_bytes", m.ScratchBytes}}
	var sum Bytes
	ok := true
	for _, p := range parts {
		if p.v < 0 {
			r.Addf(path+"."+p.name, "is %d (want a size in bytes ≥ 0)", p.v)
			ok = false
		}
		sum += max(p.v, 0)
	}
	if m.TotalBytes < 0 {
		r.Addf(path+".total_bytes", "is %d (want a size in bytes ≥ 0)", m.TotalBytes)
	} else if ok && sum >= 0 && m.TotalBytes != sum {
		r.Addf(path+".total_bytes", "is %d, not the sum of its parts %d", m.TotalBytes, sum)
	}
	if m.PeakRSSGrowthBytes != nil && *m.PeakRSSGrowthBytes < 0 {
		r.Addf(path+".peak_rss_growth_bytes", "is %d (want a size in bytes ≥ 0)", *m.PeakRSSGrowthBytes)
	}
}

// TableLayer is one layer's latency.
type TableLayer struct {
	Node      int    `json:"node" yaml:"node"`
	Name      string `json:"name" yaml:"name"`
	Op        string `json:"op" yaml:"op"`
	Latency   Stat   `json:"latency" yaml:"latency"`
	FusedInto string `json:"fused_into,omitempty" yaml:"fused_into,omitempty"`
}

// TableBlock is one block's latency, and the measured sizes of its output
// per encoding (with "+zstd" variants) when this project measured it.
type TableBlock struct {
	Name     string           `json:"name" yaml:"name"`
	Latency  Stat             `json:"latency" yaml:"latency"`
	CutBytes map[string]int64 `json:"cut_bytes,omitempty" yaml:"cut_bytes,omitempty"`

	// The reference tables' record of the block's architecture.
	Index          reference `json:"-" yaml:"index,omitempty"`
	Type           reference `json:"-" yaml:"type,omitempty"`
	InShape        reference `json:"-" yaml:"in_shape,omitempty"`
	OutShape       reference `json:"-" yaml:"out_shape,omitempty"`
	OutElems       reference `json:"-" yaml:"out_elems,omitempty"`
	OutBytesFP32   reference `json:"-" yaml:"out_bytes_fp32,omitempty"`
	OutBytesFP16   reference `json:"-" yaml:"out_bytes_fp16,omitempty"`
	Params         reference `json:"-" yaml:"params,omitempty"`
	MACs           reference `json:"-" yaml:"macs,omitempty"`
	ElementwiseOps reference `json:"-" yaml:"elementwise_ops,omitempty"`
}

// TableHead is one task head's latency.
type TableHead struct {
	K          int  `json:"k" yaml:"k"`
	InFeatures int  `json:"in_features" yaml:"in_features"`
	Latency    Stat `json:"latency" yaml:"latency"`

	Hidden reference `json:"-" yaml:"hidden,omitempty"`
	Params reference `json:"-" yaml:"params,omitempty"`
	MACs   reference `json:"-" yaml:"macs,omitempty"`
}

// Stat is a latency distribution summary. The reference tables also give
// the mean, extremes, count and per-pass medians; they are checked too.
type Stat struct {
	MedianMS      float64   `json:"median_ms" yaml:"median_ms"`
	P90MS         float64   `json:"p90_ms" yaml:"p90_ms"`
	MeanMS        *float64  `json:"mean_ms,omitempty" yaml:"mean_ms,omitempty"`
	MinMS         *float64  `json:"min_ms,omitempty" yaml:"min_ms,omitempty"`
	MaxMS         *float64  `json:"max_ms,omitempty" yaml:"max_ms,omitempty"`
	N             int       `json:"n,omitempty" yaml:"n,omitempty"`
	PassMediansMS []float64 `json:"pass_medians_ms,omitempty" yaml:"pass_medians_ms,omitempty"`
}

// LoadTable reads a measured table (this project's YAML or a reference
// JSON) strictly; problems name the file, line and field path.
func LoadTable(path string) (*Table, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("measured table: %w", err)
	}
	return parseTable(path, raw)
}

// ParseTable decodes a measured table read from no file (an embedded one).
func ParseTable(raw []byte) (*Table, error) { return parseTable("", raw) }

func parseTable(file string, raw []byte) (*Table, error) {
	// JSON is YAML: one decoder reads the reference JSON files and this
	// project's YAML profiles.
	var t Table
	if err := strictyaml.DecodeFile(file, raw, &t); err != nil {
		return nil, fmt.Errorf("measured table: %w", err)
	}
	r := strictyaml.NewReport(file, raw)
	t.check(r)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("measured table: %w", err)
	}
	return &t, nil
}

// check reports every number out of range and every name this build does
// not know.
func (t *Table) check(r *strictyaml.Report) {
	m := t.Meta
	r.OneOf("meta.dtype", m.Dtype, "fp32", "fp16")
	if m.Batch != 1 {
		r.Addf("meta.batch", "is %d (the planner's costs are per image: measure at batch 1)", m.Batch)
	}
	if m.Size < 1 {
		r.Addf("meta.size", "is %d (want the input size in pixels)", m.Size)
	}
	if m.Threads < 0 || m.Reps < 0 || m.Warmup < 0 {
		r.Addf("meta", "threads %d, reps %d, warmup %d (want counts ≥ 0)", m.Threads, m.Reps, m.Warmup)
	}
	if len(t.Backbones) == 0 {
		r.Addf("backbones", "is empty (no backbone measured)")
	}
	for _, name := range slices.Sorted(maps.Keys(t.Backbones)) {
		b := t.Backbones[name]
		path := "backbones." + name
		if len(b.Blocks) == 0 {
			r.Addf(path+".blocks", "is empty")
		}
		seen := map[string]bool{}
		for i, bl := range b.Blocks {
			p := fmt.Sprintf("%s.blocks[%d]", path, i)
			if bl.Name == "" || seen[bl.Name] {
				r.Addf(p+".name", "%q is empty or names a block twice", bl.Name)
			}
			seen[bl.Name] = true
			bl.Latency.check(r, p+".latency")
			for _, e := range slices.Sorted(maps.Keys(bl.CutBytes)) {
				r.OneOf(p+".cut_bytes."+e, e, codec.Names()...)
				if n := bl.CutBytes[e]; n < 1 {
					r.Addf(p+".cut_bytes."+e, "is %d (want a size in bytes > 0)", n)
				}
			}
		}
		for i, h := range b.Heads {
			p := fmt.Sprintf("%s.heads[%d]", path, i)
			if h.K < 1 || h.InFeatures < 1 {
				r.Addf(p, "has k %d and in_features %d (want both ≥ 1)", h.K, h.InFeatures)
			}
			h.Latency.check(r, p+".latency")
		}
		for i, l := range b.Layers {
			p := fmt.Sprintf("%s.layers[%d]", path, i)
			if l.Node < 1 || l.Name == "" {
				r.Addf(p, "has node %d and name %q (want a layer's node ≥ 1 and its name)", l.Node, l.Name)
			}
			l.Latency.check(r, p+".latency")
		}
		b.Latency.EndToEnd.check(r, path+".latency.end_to_end")
		if b.Memory != nil {
			b.Memory.check(r, path+".memory")
		}
	}
}

// check reports a summary with a time out of range, or whose order
// statistics contradict each other.
func (s Stat) check(r *strictyaml.Report, path string) {
	r.Number(path+".median_ms", s.MedianMS, strictyaml.NonNegative)
	r.Number(path+".p90_ms", s.P90MS, strictyaml.NonNegative)
	if s.P90MS < s.MedianMS {
		r.Addf(path+".p90_ms", "%g is below the median %g", s.P90MS, s.MedianMS)
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"mean_ms", s.MeanMS}, {"min_ms", s.MinMS}, {"max_ms", s.MaxMS}} {
		if f.v != nil {
			r.Number(path+"."+f.name, *f.v, strictyaml.NonNegative)
		}
	}
	if s.MinMS != nil && s.MaxMS != nil && !(*s.MinMS <= s.MedianMS && s.MedianMS <= *s.MaxMS) {
		r.Addf(path+".median_ms", "%g lies outside [min_ms, max_ms] = [%g, %g]", s.MedianMS, *s.MinMS, *s.MaxMS)
	}
	if s.N < 0 {
		r.Addf(path+".n", "is %d (want a count ≥ 0)", s.N)
	}
	for i, v := range s.PassMediansMS {
		r.Number(fmt.Sprintf("%s.pass_medians_ms[%d]", path, i), v, strictyaml.NonNegative)
	}
}

// Measured is a latency source that takes block and head latencies from a
// measured table where it covers the graph (same model, input size and block
// names) and predicts the rest with Fallback.
type Measured struct {
	File     string
	Table    *Table
	Fallback Source
}

// Latency implements Source.
func (m Measured) Latency(g *model.Graph) (*Latency, error) {
	l, err := m.Fallback.Latency(g)
	if err != nil {
		return nil, err
	}
	tb, ok := m.Table.Backbones[g.Name]
	if !ok || m.Table.Meta.Size != g.InputSize || len(tb.Blocks) != len(g.Blocks) {
		return l, nil
	}
	for i, b := range tb.Blocks {
		if b.Name != g.Blocks[i].Name || b.Latency.MedianMS <= 0 {
			return l, nil
		}
	}
	// Measured layers set the split within the blocks (and heads) they
	// cover; the block's own measurement sets its total.
	measured := map[int]float64{}
	covered := map[[2]int]bool{} // (block, task) of the units with layers
	for _, ly := range tb.Layers {
		if ly.Node > 0 && ly.Node < len(g.Nodes) && g.Nodes[ly.Node].Name == ly.Name {
			n := g.Nodes[ly.Node]
			measured[n.ID] = ly.Latency.MedianMS
			covered[[2]int{n.Block, n.Task}] = true
		}
	}
	if len(measured) > 0 {
		for _, n := range g.Nodes {
			if covered[[2]int{n.Block, n.Task}] && n.ID > 0 {
				l.NodeMS[n.ID] = measured[n.ID] // fused or unlisted: 0
			}
		}
		sumNodes(g, l)
	}
	for i, b := range tb.Blocks {
		rescale(l, g.Blocks[i].First, g.Blocks[i].Output, l.BlockMS[i], b.Latency.MedianMS)
		l.BlockMS[i] = b.Latency.MedianMS
		if len(b.CutBytes) > 0 {
			if l.CutBytes == nil {
				l.CutBytes = make([]map[codec.Encoding]int64, len(g.Blocks)+1)
			}
			l.CutBytes[i+1] = map[codec.Encoding]int64{}
			for e, n := range b.CutBytes {
				l.CutBytes[i+1][codec.Encoding(e)] = n
			}
		}
	}
	for t, h := range g.Heads {
		in := g.Nodes[h.Nodes[0]].OutShape[0]
		for _, mh := range tb.Heads {
			if mh.K == h.Classes && mh.InFeatures == in && mh.Latency.MedianMS > 0 {
				rescaleNodes(l, h.Nodes, l.HeadMS[t], mh.Latency.MedianMS)
				l.HeadMS[t] = mh.Latency.MedianMS
			}
		}
	}
	l.Source = "measured: " + m.File
	return l, nil
}

// rescale scales the nodes first..last so they add up to the measured total,
// keeping layer-level costs consistent with block-level ones.
func rescale(l *Latency, first, last int, predicted, measured float64) {
	ids := make([]int, 0, last-first+1)
	for id := first; id <= last; id++ {
		ids = append(ids, id)
	}
	rescaleNodes(l, ids, predicted, measured)
}

func rescaleNodes(l *Latency, ids []int, predicted, measured float64) {
	if predicted <= 0 {
		return
	}
	for _, id := range ids {
		l.NodeMS[id] *= measured / predicted
	}
}

// sumNodes recomputes block and head totals from node latencies.
func sumNodes(g *model.Graph, l *Latency) {
	clear(l.BlockMS)
	clear(l.HeadMS)
	for _, n := range g.Nodes {
		switch {
		case n.Task >= 0:
			l.HeadMS[n.Task] += l.NodeMS[n.ID]
		case n.Block >= 0:
			l.BlockMS[n.Block] += l.NodeMS[n.ID]
		}
	}
}
