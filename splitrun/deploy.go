package splitrun

import (
	"fmt"
	"slices"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/placement"
	"github.com/mtlsplit/mtlsplit/plan"
)

// Deployment is a plan made executable: the graph it was made for and the
// placement it runs. A block cut, a cut between layers and a placement
// over more than two tiers run the same way: every tier runs its nodes and
// sends on what crosses the hop after it.
type Deployment struct {
	Plan      *plan.Plan
	Graph     *model.Graph
	Placement placement.Placement
	// Hops[h-1] are the tensors hop h carries, in wire order, in the
	// encoding this runtime sends them in.
	Hops  [][]Tensor
	model *Model
}

// NumTiers counts the tiers, the device included.
func (d *Deployment) NumTiers() int { return len(d.Plan.Tiers) }

// Tensor is one tensor a hop carries.
type Tensor struct {
	Node     int
	Encoding codec.Encoding
}

// Sends reports whether anything leaves the device.
func (d *Deployment) Sends() bool { return len(d.Hops) > 0 && len(d.Hops[0]) > 0 }

// Prepare checks that a plan's choice can run here and resolves it against
// its graph (Open with the plan's own file path).
func Prepare(p *plan.Plan) (*Deployment, error) {
	m, err := Open(p, "")
	if err != nil {
		return nil, err
	}
	return m.Prepare()
}

// PrepareRow is Prepare for row i of the plan's switch table.
func PrepareRow(p *plan.Plan, i int) (*Deployment, error) {
	m, err := Open(p, "")
	if err != nil {
		return nil, err
	}
	return m.PrepareRow(i)
}

func (m *Model) prepare(pl placement.Placement) (*Deployment, error) {
	d := &Deployment{Plan: m.Plan, Graph: m.Graph, Placement: pl, model: m}
	return d, d.resolve()
}

// resolve checks the placement against the graph — every node on a tier,
// none on a tier before one of its inputs, each result from its head's
// tier — and that the plan sends exactly the tensors that cross, hop by
// hop.
func (d *Deployment) resolve() error {
	g, pl := d.Graph, d.Placement
	tiers := d.NumTiers()
	if len(pl.NodeTier) != len(g.Nodes) {
		return fmt.Errorf("plan places %d nodes; %s has %d", len(pl.NodeTier), g.Name, len(g.Nodes))
	}
	if pl.NodeTier[0] != 0 {
		return fmt.Errorf("plan does not keep the input on the device")
	}
	for id, k := range pl.NodeTier {
		if k < 0 || k >= tiers {
			return fmt.Errorf("plan puts node %d on tier %d of %d", id, k, tiers)
		}
	}
	for t, h := range g.Heads {
		if k := pl.NodeTier[h.Output]; pl.HeadTier[t] != k {
			return fmt.Errorf("plan gives task %s's result from tier %d, but its head ends on tier %d", h.Task, pl.HeadTier[t], k)
		}
	}
	// crossing[h] holds the nodes whose output crosses into tier h.
	crossing := make([]map[int]bool, tiers)
	for h := range crossing {
		crossing[h] = map[int]bool{}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if pl.NodeTier[n.ID] < pl.NodeTier[in] {
				return fmt.Errorf("plan runs %q on tier %d but its input %q on tier %d", n.Name, pl.NodeTier[n.ID], g.Nodes[in].Name, pl.NodeTier[in])
			}
			for h := pl.NodeTier[in] + 1; h <= pl.NodeTier[n.ID]; h++ {
				crossing[h][in] = true
			}
		}
	}
	d.Hops = make([][]Tensor, tiers-1)
	for _, t := range pl.Sends {
		if t.Hop < 1 || t.Hop >= tiers || !crossing[t.Hop][t.Node] {
			return fmt.Errorf("plan sends node %d over hop %d, where it does not cross", t.Node, t.Hop)
		}
		delete(crossing[t.Hop], t.Node)
		e := t.Encoding
		if t.Node == 0 {
			e = codec.Int8 // the raw image, as 8-bit codes of the float input
		}
		d.Hops[t.Hop-1] = append(d.Hops[t.Hop-1], Tensor{Node: t.Node, Encoding: e})
	}
	for h := 1; h < tiers; h++ {
		for id := range crossing[h] {
			return fmt.Errorf("plan does not say how to send %q (node %d) over hop %d", g.Nodes[id].Name, id, h)
		}
	}
	return nil
}

// Model is the network the deployment runs.
func (d *Deployment) Model() *Model { return d.model }

// Compile builds the engine program of the deployment's graph with its
// weights: an ONNX file's, seeded random ones for a zoo model and for heads
// the plan added (the edge and the server must use the same seed). It is
// compiled as the model's server compiles it (Model.Compile), so both
// sides run the same kernels.
func (d *Deployment) Compile(seed uint64, opts engine.Options) (*engine.Program, error) {
	for _, hop := range d.Hops {
		for _, t := range hop {
			opts.Keep = append(opts.Keep, t.Node) // never fused away: it is sent
		}
	}
	return d.model.Compile(seed, opts)
}

// Compile builds the engine program of the model, keeping every tensor a
// cut of its plan may send (cutTensors) besides opts.Keep.
func (m *Model) Compile(seed uint64, opts engine.Options) (*engine.Program, error) {
	opts.Keep = append(slices.Clone(opts.Keep), m.cutTensors()...)
	// The weights are the first large allocation: check the budget first.
	if err := engine.CheckMemory(m.Graph, opts); err != nil {
		return nil, err
	}
	w, err := m.weights(seed)
	if err != nil {
		return nil, err
	}
	return engine.Compile(m.Graph, w, opts)
}

// Weights are the weights Compile gives the engine, for writing the
// deployment's halves as files (mtlsplit export).
func (d *Deployment) Weights(seed uint64) (*engine.Weights, error) { return d.model.weights(seed) }

// runsOn reports whether tier k runs node id before sending on (every node
// of the tier but the heads of tasks it finishes) or after.
func (d *Deployment) runsOn(k, id int, beforeSend bool) bool {
	n := d.Graph.Nodes[id]
	if d.Placement.NodeTier[id] != k {
		return false
	}
	own := n.Task >= 0 && d.Placement.HeadTier[n.Task] == k
	return own != beforeSend
}
