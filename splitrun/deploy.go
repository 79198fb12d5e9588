package splitrun

import (
	"fmt"
	"slices"

	"github.com/mtlsplit/mtlsplit/codec"
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
	Encoding    codec.Encoding
	HeadsOnEdge []bool
	// OnEdge and Tensors describe a layer-level cut (Cut is then −1): the
	// nodes the edge runs, and every tensor sent with its encoding, in the
	// order they go on the wire.
	OnEdge  []bool
	Tensors []Tensor
	// With more than two tiers: every node's tier, every task's result's
	// tier, and the tensors each hop carries (Hops[0] = Tensors).
	NodeTier []int
	HeadTier []int
	Hops     [][]Tensor
}

// NumTiers counts the tiers, the device included.
func (d *Deployment) NumTiers() int { return max(2, len(d.Hops)+1) }

// Tensor is one tensor a layer-level cut sends.
type Tensor struct {
	Node     int
	Encoding codec.Encoding
}

// Layer reports whether the deployment cuts between layers (Tensors) rather
// than at a block boundary (Cut).
func (d *Deployment) Layer() bool { return d.OnEdge != nil }

// Sends reports whether the deployment uses the server.
func (d *Deployment) Sends() bool { return d.Encoding != "" }

// Prepare checks that a plan can run here and resolves it against its
// graph, which it rebuilds and compares by hash.
func Prepare(p *plan.Plan) (*Deployment, error) {
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
	if len(p.Choice.EdgeNodes) > 0 || len(p.Choice.NodeTiers) > 0 {
		return d, d.layerCut()
	}
	if len(p.Tiers) > 0 {
		return nil, fmt.Errorf("plan has %d tiers but no node placement", len(p.Tiers))
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
		d.Encoding = codec.Int8
	default:
		d.Encoding = codec.Encoding(e)
	}
	return d, nil
}

// heads reads which side (tier) every task's result comes from.
func (d *Deployment) heads() error {
	p := d.Plan
	names := []string{"edge", "server"}
	if len(p.Tiers) > 0 {
		names = nil
		for _, t := range p.Tiers {
			names = append(names, t.Name)
		}
	}
	for _, t := range p.Model.Tasks {
		k := slices.Index(names, p.Choice.Heads[t.Name])
		if k < 0 {
			return fmt.Errorf("plan puts head %s on %q (tiers: %v)", t.Name, p.Choice.Heads[t.Name], names)
		}
		d.HeadTier = append(d.HeadTier, k)
		d.HeadsOnEdge = append(d.HeadsOnEdge, k == 0)
	}
	return nil
}

// layerCut resolves a layer-level cut and checks it: no node runs on a
// tier before one of its inputs, and the plan sends exactly the tensors
// that cross, hop by hop.
func (d *Deployment) layerCut() error {
	g, p := d.Graph, d.Plan
	tiers := max(2, len(p.Tiers))
	d.NodeTier = make([]int, len(g.Nodes))
	if len(p.Choice.NodeTiers) > 0 {
		if len(p.Choice.NodeTiers) != len(g.Nodes) {
			return fmt.Errorf("plan places %d nodes; %s has %d", len(p.Choice.NodeTiers), g.Name, len(g.Nodes))
		}
		copy(d.NodeTier, p.Choice.NodeTiers)
	} else {
		for i := range d.NodeTier {
			d.NodeTier[i] = 1
		}
		d.NodeTier[0] = 0
		for _, id := range p.Choice.EdgeNodes {
			if id < 0 || id >= len(g.Nodes) {
				return fmt.Errorf("plan runs node %d on the edge; %s has %d", id, g.Name, len(g.Nodes))
			}
			d.NodeTier[id] = 0
		}
	}
	if d.NodeTier[0] != 0 {
		return fmt.Errorf("plan does not keep the input on the device")
	}
	d.OnEdge = make([]bool, len(g.Nodes))
	for id, k := range d.NodeTier {
		if k < 0 || k >= tiers {
			return fmt.Errorf("plan puts node %d on tier %d of %d", id, k, tiers)
		}
		d.OnEdge[id] = k == 0
	}
	// crossing[h] holds the nodes whose output crosses into tier h.
	crossing := make([]map[int]bool, tiers)
	for h := range crossing {
		crossing[h] = map[int]bool{}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if d.NodeTier[n.ID] < d.NodeTier[in] {
				return fmt.Errorf("plan runs %q on tier %d but its input %q on tier %d", n.Name, d.NodeTier[n.ID], g.Nodes[in].Name, d.NodeTier[in])
			}
			for h := d.NodeTier[in] + 1; h <= d.NodeTier[n.ID]; h++ {
				crossing[h][in] = true
			}
		}
	}
	d.Hops = make([][]Tensor, tiers-1)
	for _, t := range p.CutTensors {
		h := max(t.Hop, 1)
		if h >= tiers || !crossing[h][t.Node] {
			return fmt.Errorf("plan sends %q (node %d) over hop %d, where it does not cross", t.Name, t.Node, h)
		}
		delete(crossing[h], t.Node)
		e := codec.Encoding(t.Encoding)
		if t.Node == 0 {
			e = codec.Int8 // the raw image, as 8-bit codes of the float input
		}
		d.Hops[h-1] = append(d.Hops[h-1], Tensor{Node: t.Node, Encoding: e})
	}
	for h := 1; h < tiers; h++ {
		for id := range crossing[h] {
			return fmt.Errorf("plan does not say how to send %q (node %d) over hop %d", g.Nodes[id].Name, id, h)
		}
	}
	d.Tensors = d.Hops[0]
	if len(d.Tensors) > 0 {
		d.Encoding = d.Tensors[0].Encoding // marks that something is sent
	}
	return nil
}

// tensorsKey names the tensors of hop h (1: the device's uplink) for the
// handshake.
func (d *Deployment) tensorsKey(h int) string {
	if h-1 >= len(d.Hops) {
		return ""
	}
	key := ""
	for _, t := range d.Hops[h-1] {
		key += fmt.Sprintf("%d:%s,", t.Node, t.Encoding)
	}
	return key
}

// Compile builds the engine program of the deployment's graph with seeded
// weights (the edge and the server must use the same seed).
func (d *Deployment) Compile(seed uint64, opts engine.Options) (*engine.Program, error) {
	for _, hop := range d.Hops {
		for _, t := range hop {
			opts.Keep = append(opts.Keep, t.Node) // never fused away: it is sent
		}
	}
	// The weights are the first large allocation: check the budget first.
	if err := engine.CheckMemory(d.Graph, opts); err != nil {
		return nil, err
	}
	w, err := engine.RandomWeights(d.Graph, seed)
	if err != nil {
		return nil, err
	}
	return engine.Compile(d.Graph, w, opts)
}

// runsOn reports whether tier k runs node id before sending on (every node
// of the tier but the heads of tasks it finishes) or after.
func (d *Deployment) runsOn(k, id int, beforeSend bool) bool {
	n := d.Graph.Nodes[id]
	if d.NodeTier[id] != k {
		return false
	}
	own := n.Task >= 0 && d.HeadTier[n.Task] == k
	return own != beforeSend
}

func (d *Deployment) runsOnEdge(id int, beforeSend bool) bool { return d.runsOn(0, id, beforeSend) }
