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
	// OnEdge and Tensors describe a layer-level cut (Cut is then −1): the
	// nodes the edge runs, and every tensor sent with its encoding, in the
	// order they go on the wire.
	OnEdge  []bool
	Tensors []Tensor
}

// Tensor is one tensor a layer-level cut sends.
type Tensor struct {
	Node     int
	Encoding engine.Encoding
}

// Layer reports whether the deployment cuts between layers (Tensors) rather
// than at a block boundary (Cut).
func (d *Deployment) Layer() bool { return d.OnEdge != nil }

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
	if err := d.heads(); err != nil {
		return nil, err
	}
	if len(p.Choice.EdgeNodes) > 0 {
		return d, d.layerCut()
	}
	if p.Choice.Cut == "input" {
		d.Cut = 0
	}
	for i, b := range g.Blocks {
		if b.Name == p.Choice.Cut {
			d.Cut = i + 1
		}
	}
	if d.Cut < 0 || len(p.CutTensors) > 1 {
		return nil, fmt.Errorf("plan cuts at %q, neither a block boundary nor a listed set of edge nodes", p.Choice.Cut)
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
	return d, nil
}

// heads reads which side every task's result comes from.
func (d *Deployment) heads() error {
	p := d.Plan
	for _, t := range p.Model.Tasks {
		switch p.Choice.Heads[t.Name] {
		case "edge":
			d.HeadsOnEdge = append(d.HeadsOnEdge, true)
		case "server":
			d.HeadsOnEdge = append(d.HeadsOnEdge, false)
		default:
			return fmt.Errorf("plan puts head %s on %q", t.Name, p.Choice.Heads[t.Name])
		}
	}
	return nil
}

// layerCut resolves a layer-level cut and checks it: the edge's nodes are
// closed under their inputs, and the plan sends exactly the tensors that
// cross.
func (d *Deployment) layerCut() error {
	g, p := d.Graph, d.Plan
	d.OnEdge = make([]bool, len(g.Nodes))
	d.OnEdge[0] = true
	for _, id := range p.Choice.EdgeNodes {
		if id < 0 || id >= len(g.Nodes) {
			return fmt.Errorf("plan runs node %d on the edge; %s has %d", id, g.Name, len(g.Nodes))
		}
		d.OnEdge[id] = true
	}
	crossing := map[int]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if d.OnEdge[n.ID] && !d.OnEdge[in] {
				return fmt.Errorf("plan runs %q on the edge but its input %q on the server", n.Name, g.Nodes[in].Name)
			}
			if d.OnEdge[in] && !d.OnEdge[n.ID] {
				crossing[in] = true
			}
		}
	}
	for _, t := range p.CutTensors {
		if !crossing[t.Node] {
			return fmt.Errorf("plan sends %q (node %d), which does not cross", t.Name, t.Node)
		}
		delete(crossing, t.Node)
		e := engine.Encoding(t.Encoding)
		if t.Node == 0 {
			e = engine.Int8 // the raw image, as 8-bit codes of the float input
		}
		d.Tensors = append(d.Tensors, Tensor{Node: t.Node, Encoding: e})
	}
	for id := range crossing {
		return fmt.Errorf("plan does not say how to send %q (node %d), which crosses", g.Nodes[id].Name, id)
	}
	if len(d.Tensors) > 0 {
		d.Encoding = d.Tensors[0].Encoding // marks that something is sent
	}
	return nil
}

// tensorsKey names the layer cut's tensors for the handshake.
func (d *Deployment) tensorsKey() string {
	key := ""
	for _, t := range d.Tensors {
		key += fmt.Sprintf("%d:%s,", t.Node, t.Encoding)
	}
	return key
}

// Compile builds the engine program of the deployment's graph with seeded
// weights (the edge and the server must use the same seed).
func (d *Deployment) Compile(seed uint64, opts engine.Options) (*engine.Program, error) {
	w, err := engine.RandomWeights(d.Graph, seed)
	if err != nil {
		return nil, err
	}
	for _, t := range d.Tensors {
		opts.Keep = append(opts.Keep, t.Node) // never fused away: it is sent
	}
	return engine.Compile(d.Graph, w, opts)
}

// runsOnEdge reports whether the edge runs node id before sending (every
// edge node but the heads of tasks the edge finishes).
func (d *Deployment) runsOnEdge(id int, beforeSend bool) bool {
	n := d.Graph.Nodes[id]
	if !d.OnEdge[id] {
		return false
	}
	edgeTask := n.Task >= 0 && d.HeadsOnEdge[n.Task]
	return edgeTask != beforeSend
}
