package runtime

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/plan"
)

// Deployment is a plan made executable: the graph it was made for, the cut
// as a block index, the wire encoding and the side of every head.
type Deployment struct {
	Plan  *plan.Plan
	Graph *model.Graph
	// Cut is the number of blocks the edge runs (0: it sends the input).
	Cut int
	// Encoding of the cut tensor on the wire; empty when nothing is sent.
	Encoding    engine.Encoding
	HeadsOnEdge []bool
}

// Sends reports whether the deployment uses the server.
func (d *Deployment) Sends() bool { return d.Encoding != "" }

// Prepare checks that a plan can run here and resolves it against its
// graph, which it rebuilds and compares by hash.
func Prepare(p *plan.Plan) (*Deployment, error) {
	if len(p.Tiers) > 0 {
		return nil, fmt.Errorf("plan has %d tiers: the runtime runs a device and one server", len(p.Tiers))
	}
	var classes []int
	for _, t := range p.Model.Tasks {
		classes = append(classes, t.Classes)
	}
	g, err := model.New(p.Model.Name, p.Model.InputSize, classes)
	if err != nil {
		return nil, fmt.Errorf("plan's model: %w", err)
	}
	if h := g.Hash(); h != p.Model.Hash {
		return nil, fmt.Errorf("plan was made for graph %s, this build's %s at %d px is %s", p.Model.Hash, g.Name, g.InputSize, h)
	}
	d := &Deployment{Plan: p, Graph: g, Cut: -1}
	if p.Choice.Cut == "input" {
		d.Cut = 0
	}
	for i, b := range g.Blocks {
		if b.Name == p.Choice.Cut {
			d.Cut = i + 1
		}
	}
	if d.Cut < 0 || len(p.CutTensors) > 1 || len(p.Choice.EdgeLayers) > 0 {
		return nil, fmt.Errorf("plan cuts at %q: the runtime executes cuts at block boundaries (plan with --granularity block)", p.Choice.Cut)
	}
	switch e := p.Choice.Encoding; e {
	case "none":
	case "uint8":
		// The raw camera image: this runtime holds a float input, so it
		// sends 8-bit codes of it (8 bytes of scale and zero point more).
		d.Encoding = engine.Int8
	default:
		d.Encoding = engine.Encoding(e)
	}
	for _, t := range p.Model.Tasks {
		switch p.Choice.Heads[t.Name] {
		case "edge":
			d.HeadsOnEdge = append(d.HeadsOnEdge, true)
		case "server":
			d.HeadsOnEdge = append(d.HeadsOnEdge, false)
		default:
			return nil, fmt.Errorf("plan puts head %s on %q", t.Name, p.Choice.Heads[t.Name])
		}
	}
	return d, nil
}

// Compile builds the engine program of the deployment's graph with seeded
// weights (the edge and the server must use the same seed).
func (d *Deployment) Compile(seed uint64, opts engine.Options) (*engine.Program, error) {
	w, err := engine.RandomWeights(d.Graph, seed)
	if err != nil {
		return nil, err
	}
	return engine.Compile(d.Graph, w, opts)
}
