package plan

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
)

// Version is the schema version this package writes and reads. Version 3
// describes the split as one placement over a list of tiers (every node's
// tier, every task's result's tier, every tensor crossing a hop), for the
// choice and every switch table row alike. Older plans name a block cut or
// list edge nodes, which takes the graph to turn into a placement: they are
// refused with a message saying how to regenerate them.
const Version = 3

// Plan is a versioned deployment plan.
type Plan struct {
	Version   int    `json:"version" yaml:"version"`
	CreatedAt string `json:"created_at" yaml:"created_at"`
	Model     Model  `json:"model" yaml:"model"`
	// Tiers lists every tier, the device first, each with the link into it
	// from the one before: two tiers are a device and a server.
	Tiers       []Tier      `json:"tiers" yaml:"tiers"`
	Objective   string      `json:"objective" yaml:"objective"`
	Constraints Constraints `json:"constraints" yaml:"constraints"`
	Solver      Solver      `json:"solver" yaml:"solver"`
	Choice      Choice      `json:"choice" yaml:"choice"`
	// CutTensors lists every tensor the choice sends over a hop, in wire
	// order (by hop, then node).
	CutTensors []CutTensor `json:"cut_tensors" yaml:"cut_tensors"`
	Predicted  Predicted   `json:"predicted" yaml:"predicted"`
	Baselines  Baselines   `json:"baselines" yaml:"baselines"`
	// ValidUplinkMbps is the uplink range in which Choice stays optimal.
	ValidUplinkMbps [2]float64 `json:"valid_uplink_mbps" yaml:"valid_uplink_mbps,flow"`
	// Below and Above are the optimal choices just outside that range.
	Below *Switch `json:"below,omitempty" yaml:"below,omitempty"`
	Above *Switch `json:"above,omitempty" yaml:"above,omitempty"`
	// SwitchTable covers the swept range: a runtime that measures its uplink
	// picks the row it falls in.
	SwitchTable []Switch `json:"switch_table" yaml:"switch_table"`
	Pareto      []Option `json:"pareto" yaml:"pareto"`
	Notes       []string `json:"notes,omitempty" yaml:"notes,omitempty"`
}

// Model identifies the network the plan was made for.
type Model struct {
	Name      string `json:"name" yaml:"name"`
	InputSize int    `json:"input_size" yaml:"input_size"`
	Tasks     []Task `json:"tasks" yaml:"tasks"`
	// Hash is the graph's structural hash; a runtime refuses another graph.
	Hash string `json:"hash" yaml:"hash"`
	// Source says where the network and its weights come from. A plan
	// without one is of a zoo model with seeded random weights, the seed
	// given to the runtime.
	Source *Source `json:"source,omitempty" yaml:"source,omitempty"`
}

// Source kinds.
const (
	SourceONNX = "onnx" // an imported ONNX file: graph and weights
	SourceZoo  = "zoo"  // a built-in architecture with seeded random weights
)

// Source identifies the file a plan deploys, so that a runtime loads that
// file and refuses any other.
type Source struct {
	Kind string `json:"kind" yaml:"kind"`
	// Path is the ONNX file, relative to the plan file's directory when the
	// plan was written to a file (a runtime may be told another path: the
	// SHA-256 is what identifies it).
	Path   string `json:"path,omitempty" yaml:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty" yaml:"sha256,omitempty"`
	// Outputs are the file's ONNX output names, in its order: with several,
	// output k is task k's result.
	Outputs []string `json:"outputs,omitempty" yaml:"outputs,omitempty,flow"`
	// Seed is the seed of the random weights: all of a zoo model's, the
	// heads the plan adds to a one-output file's. A runtime uses it and
	// refuses another (absent: the runtime's --seed).
	Seed *uint64 `json:"seed,omitempty" yaml:"seed,omitempty"`
	// Preprocess is how inputs were prepared when the plan's accuracies
	// were measured (the accuracy table's account, e.g. "images, resize
	// shorter 256 + crop 224, bilinear-pil, mean/std ..."): feed the
	// deployed model inputs prepared the same way.
	Preprocess string `json:"preprocess,omitempty" yaml:"preprocess,omitempty"`
}

// Task is one task head.
type Task struct {
	Name    string `json:"name" yaml:"name"`
	Classes int    `json:"classes" yaml:"classes"`
}

// Tier is one compute tier and the network into it (none for the device).
type Tier struct {
	Name   string `json:"name" yaml:"name"`
	Device string `json:"device" yaml:"device"`
	// LatencySource is "predicted" or "measured: FILE".
	LatencySource string `json:"latency_source" yaml:"latency_source"`
	// Stack is the inference stack the device's latency was predicted for
	// (empty: the device's own catalog entry), and ExpectedErrorPct that
	// prediction's leave-one-out error against published measurements.
	Stack            string  `json:"stack,omitempty" yaml:"stack,omitempty"`
	ExpectedErrorPct float64 `json:"expected_error_pct,omitempty" yaml:"expected_error_pct,omitempty"`
	// The network into this tier from the one before.
	Network      string  `json:"network,omitempty" yaml:"network,omitempty"`
	UplinkMbps   float64 `json:"uplink_mbps,omitempty" yaml:"uplink_mbps,omitempty"`
	DownlinkMbps float64 `json:"downlink_mbps,omitempty" yaml:"downlink_mbps,omitempty"`
	RTTMS        float64 `json:"rtt_ms,omitempty" yaml:"rtt_ms,omitempty"`
}

// Constraints records the bounds the plan was made under (0: none).
type Constraints struct {
	MaxEdgeMemoryMB float64            `json:"max_edge_memory_mb,omitempty" yaml:"max_edge_memory_mb,omitempty"`
	MaxBytes        int64              `json:"max_bytes,omitempty" yaml:"max_bytes,omitempty"`
	DeadlineMS      float64            `json:"deadline_ms,omitempty" yaml:"deadline_ms,omitempty"`
	MinAccuracy     map[string]float64 `json:"min_accuracy,omitempty" yaml:"min_accuracy,omitempty"`
}

// Solver says how the choice was found.
type Solver struct {
	Name        string `json:"name" yaml:"name"`
	Granularity string `json:"granularity" yaml:"granularity"`
	Status      string `json:"status" yaml:"status"`
	// Optimal is true when the solver proved the choice optimal.
	Optimal bool `json:"optimal" yaml:"optimal"`
	// Objective is the value the solver minimized, in the units of the
	// exported LP (ms for latency and weighted, mJ for energy).
	Objective float64 `json:"objective" yaml:"objective"`
	SolveMS   float64 `json:"solve_ms" yaml:"solve_ms"`
	// Solves counts solver runs, the switch table's included.
	Solves     int `json:"solves" yaml:"solves"`
	Candidates int `json:"candidates" yaml:"candidates"`
}

// CutTensor is one tensor sent over a hop.
type CutTensor struct {
	Name string `json:"name" yaml:"name"`
	// Node is the graph node whose output it is (0: the input image).
	Node int `json:"node" yaml:"node"`
	// Hop is the hop it crosses, 1 being the device's uplink.
	Hop      int    `json:"hop" yaml:"hop"`
	Encoding string `json:"encoding" yaml:"encoding"`
	Bytes    int64  `json:"bytes" yaml:"bytes"`
	// Shape is the tensor's shape without the batch ([C, H, W]): with the
	// encoding it fixes Bytes, which Validate checks.
	Shape []int `json:"shape,omitempty" yaml:"shape,omitempty,flow"`
}

// Choice is what runs where and what is sent: the placement is NodeTiers,
// the tiers named in Heads and the plan's CutTensors; the rest are labels
// for people.
type Choice struct {
	// Cut is "input" (send the image), the last block on the device, or
	// the tensors the device sends joined by "+".
	Cut string `json:"cut" yaml:"cut"`
	// Encoding of what the device sends; "none" when nothing, "mixed" when
	// its tensors use different encodings.
	Encoding string `json:"encoding" yaml:"encoding"`
	// Heads maps each task to the tier its result comes from.
	Heads map[string]string `json:"heads" yaml:"heads"`
	// EdgeLayers lists the layers run on the device when the cut is not at
	// a block boundary; EdgeBlocks and ServerBlocks list the blocks wholly
	// on the device and wholly off it.
	EdgeLayers   []string `json:"edge_layers,omitempty" yaml:"edge_layers,omitempty,flow"`
	EdgeBlocks   []string `json:"edge_blocks" yaml:"edge_blocks,flow"`
	ServerBlocks []string `json:"server_blocks" yaml:"server_blocks,flow"`
	// NodeTiers is the tier of every graph node, by node ID.
	NodeTiers []int `json:"node_tiers" yaml:"node_tiers,flow"`
}

// Predicted is the cost model's forecast for a choice.
type Predicted struct {
	TotalMS      float64            `json:"total_ms" yaml:"total_ms"`
	EdgeMS       float64            `json:"edge_ms" yaml:"edge_ms"`
	NetworkMS    float64            `json:"network_ms" yaml:"network_ms"`
	ServerMS     float64            `json:"server_ms" yaml:"server_ms"`
	Bytes        int64              `json:"bytes" yaml:"bytes"`
	EdgeEnergyMJ float64            `json:"edge_energy_mj" yaml:"edge_energy_mj"`
	EdgeMemoryMB float64            `json:"edge_memory_mb" yaml:"edge_memory_mb"`
	TaskMS       map[string]float64 `json:"task_ms" yaml:"task_ms"`
	// Accuracy per task; null when no accuracy table covers it.
	Accuracy map[string]*float64 `json:"accuracy" yaml:"accuracy"`
	// AccuracyCI is each task's 95% confidence interval [low, high], for
	// the tasks whose accuracy table entry records one.
	AccuracyCI map[string][2]float64 `json:"accuracy_ci,omitempty" yaml:"accuracy_ci,omitempty"`
}

// Option is a choice with its forecast (baselines, Pareto points).
type Option struct {
	Cut       string            `json:"cut" yaml:"cut"`
	Encoding  string            `json:"encoding" yaml:"encoding"`
	Heads     map[string]string `json:"heads" yaml:"heads"`
	Feasible  bool              `json:"feasible" yaml:"feasible"`
	Violates  string            `json:"violates,omitempty" yaml:"violates,omitempty"`
	Predicted Predicted         `json:"predicted" yaml:"predicted"`
}

// Baselines are the fixed strategies the choice is compared against.
type Baselines struct {
	LocalOnly  Option `json:"local_only" yaml:"local_only"`
	RemoteOnly Option `json:"remote_only" yaml:"remote_only"`
	MTLSplit   Option `json:"mtl_split" yaml:"mtl_split"`
}

// Switch is one row of the switch table.
type Switch struct {
	FromMbps float64           `json:"from_mbps" yaml:"from_mbps"`
	ToMbps   float64           `json:"to_mbps" yaml:"to_mbps"`
	Feasible bool              `json:"feasible" yaml:"feasible"`
	Cut      string            `json:"cut,omitempty" yaml:"cut,omitempty"`
	Encoding string            `json:"encoding,omitempty" yaml:"encoding,omitempty"`
	Heads    map[string]string `json:"heads,omitempty" yaml:"heads,omitempty"`
	// NodeTiers and CutTensors complete the row's placement (with Heads),
	// so that a runtime can run any row.
	NodeTiers  []int       `json:"node_tiers,omitempty" yaml:"node_tiers,omitempty,flow"`
	CutTensors []CutTensor `json:"cut_tensors,omitempty" yaml:"cut_tensors,omitempty"`
	// Objective at each end of the range.
	ObjectiveFrom float64 `json:"objective_from" yaml:"objective_from"`
	ObjectiveTo   float64 `json:"objective_to" yaml:"objective_to"`
}

// Load reads a plan strictly: unknown keys, a second YAML document, another
// schema version or an inconsistent plan are errors naming the file.
func Load(path string) (*Plan, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	p, err := parse(path, raw)
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	return p, nil
}

// Parse decodes a plan from YAML (JSON is YAML too) and validates it;
// problems are reported by line and field path.
func Parse(raw []byte) (*Plan, error) { return parse("", raw) }

func parse(file string, raw []byte) (*Plan, error) {
	// An older schema fails strict decoding on its first old field: name
	// the version instead.
	var v struct {
		Version int `yaml:"version"`
	}
	if yaml.Unmarshal(raw, &v) == nil && v.Version >= 1 && v.Version < Version {
		where := "plan"
		if file != "" {
			where = file
		}
		return nil, fmt.Errorf("%s: version %s", where, versionMessage(v.Version))
	}
	var p Plan
	if err := strictyaml.DecodeFile(file, raw, &p); err != nil {
		return nil, err
	}
	r := strictyaml.NewReport(file, raw)
	p.check(r)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Write saves the plan as YAML atomically (a temporary file renamed into
// place). It refuses to replace an existing file unless overwrite is set.
func (p *Plan) Write(path string, overwrite bool) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return atomicfile.Write(path, buf.Bytes(), overwrite)
}
