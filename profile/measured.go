package profile

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
)

// Table is a measured latency table in the format of
// ../shared/reference/measured (per backbone: blocks and heads with
// latency medians).
type Table struct {
	Meta      TableMeta                `json:"meta" yaml:"meta"`
	Backbones map[string]TableBackbone `json:"backbones" yaml:"backbones"`
}

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
}

// TableBackbone is one backbone's measurements.
type TableBackbone struct {
	Blocks []TableBlock `json:"blocks" yaml:"blocks"`
	Heads  []TableHead  `json:"heads" yaml:"heads"`
	// Layers, when measured (profile --granularity layer), time every
	// layer; a layer fused into another (batch norm, activations) has no
	// time of its own and names the layer it runs in.
	Layers  []TableLayer `json:"layers,omitempty" yaml:"layers,omitempty"`
	Latency struct {
		EndToEnd Stat `json:"end_to_end" yaml:"end_to_end"`
	} `json:"latency" yaml:"latency"`
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
}

// TableHead is one task head's latency.
type TableHead struct {
	K          int  `json:"k" yaml:"k"`
	InFeatures int  `json:"in_features" yaml:"in_features"`
	Latency    Stat `json:"latency" yaml:"latency"`
}

// Stat is a latency distribution summary.
type Stat struct {
	MedianMS float64 `json:"median_ms" yaml:"median_ms"`
	P90MS    float64 `json:"p90_ms" yaml:"p90_ms"`
}

// ParseTable decodes a measured table.
func ParseTable(raw []byte) (*Table, error) {
	// JSON is YAML: one decoder reads the reference JSON files and this
	// project's YAML profiles. Unknown fields are allowed: the reference
	// format carries much this package does not use.
	var t Table
	if err := yaml.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("measured table: %w", err)
	}
	if len(t.Backbones) == 0 {
		return nil, fmt.Errorf("measured table: no backbones")
	}
	return &t, nil
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
