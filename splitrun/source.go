package splitrun

import (
	"fmt"
	"slices"
	"sync"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
	"github.com/mtlsplit/mtlsplit/plan"
)

// Model is the network a plan deploys, loaded once for every placement of
// the plan (its choice and its switch table's rows).
type Model struct {
	Plan  *plan.Plan
	Graph *model.Graph
	// params are an ONNX file's weights by node and parameter name (nil
	// for a zoo model, whose weights are all seeded random).
	params map[string]map[string][]float32
	// sha is the SHA-256 of the file the weights come from, an ONNX file
	// or a zoo model's safetensors (LoadWeights); "" for seeded random
	// weights. Edge and server compare it before the first request.
	sha string
	// nm names the graph's tensors for the protocol (names).
	namesOnce sync.Once
	nm        names
	// deploys are the plan's placements (deployments).
	deployOnce sync.Once
	deploys    []*Deployment
}

// Open loads the network plan p was made for: a zoo model by name, or, for
// a plan made from an ONNX file, the file at path (see plan.File), which
// must have the SHA-256 the plan records and import to the plan's graph.
// A mismatch is refused naming both identities.
func Open(p *plan.Plan, path string) (*Model, error) {
	s := p.Model.Source
	if s == nil || s.Kind != plan.SourceONNX {
		g, err := model.New(p.Model.Name, p.Model.InputSize, p.Classes())
		if err != nil {
			return nil, fmt.Errorf("plan's model: %w", err)
		}
		if h := g.Hash(); h != p.Model.Hash {
			return nil, fmt.Errorf("plan was made for graph %s, this build's %s at %d px is %s", p.Model.Hash, g.Name, g.InputSize, h)
		}
		return &Model{Plan: p, Graph: g}, nil
	}
	if path == "" {
		path = p.File("", "")
	}
	sum, err := plan.FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("plan's ONNX file: %w (give its path with --model FILE)", err)
	}
	if sum != s.SHA256 {
		return nil, fmt.Errorf("%s has SHA-256 %s, but the plan was made from %s with SHA-256 %s", path, sum, s.Path, s.SHA256)
	}
	im, err := onnx.LoadAt(path, p.Model.InputSize)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(im.Outputs, s.Outputs) {
		return nil, fmt.Errorf("%s has outputs %v, the plan's file %v", path, im.Outputs, s.Outputs)
	}
	g := im.Graph
	if len(g.Heads) == 0 {
		// One output: the plan's tasks are MTL-Split heads on it, with
		// seeded random weights as a zoo model's.
		if g, err = model.WithHeads(g, p.Classes()); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	// The file's content is its identity: a copy under another name is the
	// same network, so it takes the plan's name before hashing.
	g.Name = p.Model.Name
	if h := g.Hash(); h != p.Model.Hash {
		return nil, fmt.Errorf("plan was made for graph %s, %s imports as graph %s", p.Model.Hash, path, h)
	}
	return &Model{Plan: p, Graph: g, params: im.Weights, sha: sum}, nil
}

// Prepare resolves the plan's choice against the model.
func (m *Model) Prepare() (*Deployment, error) {
	pl, err := m.Plan.Placement()
	if err != nil {
		return nil, err
	}
	return m.prepare(pl)
}

// PrepareRow is Prepare for row i of the plan's switch table: a runtime
// that measures its uplink runs the row it falls in.
func (m *Model) PrepareRow(i int) (*Deployment, error) {
	p := m.Plan
	if i < 0 || i >= len(p.SwitchTable) {
		return nil, fmt.Errorf("switch table row %d: the plan has rows 0 to %d", i, len(p.SwitchTable)-1)
	}
	pl, err := p.RowPlacement(p.SwitchTable[i])
	if err != nil {
		return nil, err
	}
	return m.prepare(pl)
}

// weights are the model's: seeded random, then an ONNX file's parameters
// over them (all of them but those of heads the plan added).
func (m *Model) weights(seed uint64) (*engine.Weights, error) {
	w, err := engine.RandomWeights(m.Graph, seed)
	if err != nil {
		return nil, err
	}
	for node, params := range m.params {
		for param, data := range params {
			if err := w.Set(node, param, data); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}
