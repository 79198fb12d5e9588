package optimizer

import (
	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/placement"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Granularity is what the optimizer places: whole blocks (cuts only at
// block boundaries, heads whole) or every layer (any DAG cut).
type Granularity string

// The granularities.
const (
	BlockLevel Granularity = "block"
	LayerLevel Granularity = "layer"
)

// units is the placement graph: what can be put on a side, its latency on
// each side, the tensor it outputs and who consumes it. Unit 0 is the input
// and always on the edge.
type units struct {
	name      []string
	nodes     [][]int     // graph nodes of each unit
	ms        [][]float64 // per tier: each unit's latency there
	elems     []int64     // elements of the unit's output tensor
	consumers [][]int
	task      []int    // -1 for the backbone, else the task index
	cut       []string // block cut name where the output is a block boundary ("input" for unit 0), else ""
	cutAt     []int    // index of that cut in profile.Cuts (blocks on the edge), 0 where there is none
	heads     [][]int  // per task: its units in order, the last one giving the result
}

// units builds the placement graph of p at granularity gr.
func (p *Problem) units(gr Granularity) *units {
	g := p.Graph
	u := &units{heads: make([][]int, len(g.Heads)), ms: make([][]float64, p.numTiers())}
	// lat is a unit's latency on every tier, given how to read one profile,
	// at the tier's compute scale (fitted by 'calibrate --runtime' where the
	// profile over-predicts a run): a constant factor of a tier's compute
	// keeps every cost affine in 1/uplink, so the scale is in the costs the
	// search and its proof see, not added afterwards like the idle term.
	lat := func(f func(l *profile.Latency) float64) []float64 {
		out := make([]float64, p.numTiers())
		for k := range out {
			out[k] = f(p.side(k).Latency) * p.side(k).Cost.Scale()
		}
		return out
	}
	add := func(name string, nodes []int, ms []float64, elems int64, task int, cut string, cutAt int) int {
		u.name = append(u.name, name)
		u.nodes = append(u.nodes, nodes)
		for k := range u.ms {
			u.ms[k] = append(u.ms[k], ms[k])
		}
		u.elems = append(u.elems, elems)
		u.consumers = append(u.consumers, nil)
		u.task = append(u.task, task)
		u.cut = append(u.cut, cut)
		u.cutAt = append(u.cutAt, cutAt)
		if task >= 0 {
			u.heads[task] = append(u.heads[task], len(u.name)-1)
		}
		return len(u.name) - 1
	}
	link := func(from, to int) {
		for _, c := range u.consumers[from] {
			if c == to {
				return // x + x reads one tensor
			}
		}
		u.consumers[from] = append(u.consumers[from], to)
	}
	if gr == LayerLevel {
		blockOut := map[int]int{} // node → blocks up to and including its own
		for i, b := range g.Blocks {
			blockOut[b.Output] = i + 1
		}
		for _, n := range g.Nodes {
			cut, k := "", blockOut[n.ID]
			switch {
			case n.ID == 0:
				cut = profile.InputCut
			case k > 0:
				cut = g.Blocks[k-1].Name
			}
			id := add(nodeName(n), []int{n.ID}, lat(func(l *profile.Latency) float64 { return l.NodeMS[n.ID] }), n.OutShape.Elems(), n.Task, cut, k)
			for _, in := range n.Inputs {
				link(in, id)
			}
		}
		return u
	}
	add(profile.InputCut, []int{0}, make([]float64, p.numTiers()), g.Input.Elems(), -1, profile.InputCut, 0)
	for i, b := range g.Blocks {
		var nodes []int
		for id := b.First; id <= b.Output; id++ {
			nodes = append(nodes, id)
		}
		id := add(b.Name, nodes, lat(func(l *profile.Latency) float64 { return l.BlockMS[i] }), b.OutShape.Elems(), -1, b.Name, i+1)
		link(id-1, id)
	}
	last := len(g.Blocks)
	for t, h := range g.Heads {
		id := add(h.Task, h.Nodes, lat(func(l *profile.Latency) float64 { return l.HeadMS[t] }), int64(h.Classes), t, "", 0)
		link(last, id)
	}
	return u
}

// nodeName is a unique name for a node: its module path, with the node ID
// when a module runs more than once (resnet's relu).
func nodeName(n model.Node) string {
	if n.ID == 0 {
		return profile.InputCut
	}
	return n.Name + "#" + itoa(n.ID)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// last is the unit giving task t's result.
func (u *units) last(t int) int { return u.heads[t][len(u.heads[t])-1] }

// unitPlacement puts every unit on a tier (0 = the device) and encodes
// every tensor that crosses a tier boundary: the searches' working form of
// a placement, at their granularity.
type unitPlacement struct {
	Tier []int
	// Encoding[i][h-1] is the encoding of unit i's output over hop h (into
	// tier h), empty where it does not cross that boundary.
	Encoding [][]codec.Encoding
}

func newPlacement(n, tiers int) unitPlacement {
	pl := unitPlacement{Tier: make([]int, n), Encoding: make([][]codec.Encoding, n)}
	for i := range pl.Encoding {
		pl.Encoding[i] = make([]codec.Encoding, tiers-1)
	}
	return pl
}

// crosses reports whether unit i's output crosses boundary h (into tier h).
func (u *units) crosses(pl unitPlacement, i, h int) bool {
	if pl.Tier[i] >= h {
		return false
	}
	for _, c := range u.consumers[i] {
		if pl.Tier[c] >= h {
			return true
		}
	}
	return false
}

// blockChoice is a point of the exhaustive search: k blocks on the device,
// the cut tensor's encoding (empty: nothing is sent) and where each head
// runs. It only enumerates; what the search returns is its placement.
type blockChoice struct {
	cut         int
	enc         codec.Encoding
	headsOnEdge []bool
}

func (b blockChoice) sends() bool { return b.enc != "" }

// placementOf places a block choice's units on the device and the server
// (the first two of tiers).
func (u *units) placementOf(b blockChoice, tiers int) unitPlacement {
	pl := newPlacement(len(u.name), tiers)
	for i := range u.name {
		onServer := i > b.cut
		if u.task[i] >= 0 {
			onServer = !b.headsOnEdge[u.task[i]]
		}
		if onServer {
			pl.Tier[i] = 1
		}
	}
	if b.sends() {
		pl.Encoding[b.cut][0] = b.enc
	}
	return pl
}

// nodePlacement turns a unit placement into the placement of every graph
// node, the form searches return, plans record and the runtime runs.
func (p *Problem) nodePlacement(u *units, upl unitPlacement) placement.Placement {
	g := p.Graph
	pl := placement.Placement{NodeTier: make([]int, len(g.Nodes)), HeadTier: make([]int, len(u.heads))}
	for i, nodes := range u.nodes {
		for _, n := range nodes {
			pl.NodeTier[n] = upl.Tier[i]
		}
	}
	for t := range u.heads {
		pl.HeadTier[t] = upl.Tier[u.last(t)]
	}
	for i, encs := range upl.Encoding {
		for h, e := range encs {
			if e != "" {
				n, _ := p.tensorBytes(u, i, e)
				pl.Sends = append(pl.Sends, placement.Tensor{Node: u.nodes[i][len(u.nodes[i])-1], Hop: h + 1, Encoding: e, Bytes: n})
			}
		}
	}
	pl.Sort()
	return pl
}

// fromPlacement is a node placement on u's units: each unit on the tier of
// the node giving its output, each sent node's tensor on its unit.
func (u *units) fromPlacement(pl placement.Placement, tiers int) unitPlacement {
	upl := newPlacement(len(u.name), tiers)
	out := map[int]int{} // node → the unit whose output it is
	for i, nodes := range u.nodes {
		last := nodes[len(nodes)-1]
		out[last] = i
		if last < len(pl.NodeTier) {
			upl.Tier[i] = pl.NodeTier[last]
		}
	}
	for _, t := range pl.Sends {
		if i, ok := out[t.Node]; ok && t.Hop >= 1 && t.Hop < tiers {
			upl.Encoding[i][t.Hop-1] = t.Encoding
		}
	}
	return upl
}
