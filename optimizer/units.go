package optimizer

import (
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
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
	// lat is a unit's latency on every tier, given how to read one profile.
	lat := func(f func(l *profile.Latency) float64) []float64 {
		out := make([]float64, p.numTiers())
		for k := range out {
			out[k] = f(p.side(k).Latency)
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

// Placement puts every unit on a tier (0 = the device) and encodes every
// tensor that crosses a tier boundary.
type Placement struct {
	Tier []int
	// Encoding[i][h-1] is the encoding of unit i's output over hop h (into
	// tier h), empty where it does not cross that boundary.
	Encoding [][]codec.Encoding
}

func newPlacement(n, tiers int) Placement {
	pl := Placement{Tier: make([]int, n), Encoding: make([][]codec.Encoding, n)}
	for i := range pl.Encoding {
		pl.Encoding[i] = make([]codec.Encoding, tiers-1)
	}
	return pl
}

// crosses reports whether unit i's output crosses boundary h (into tier h).
func (u *units) crosses(pl Placement, i, h int) bool {
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

// placementOf turns a block-level choice into a placement on the device
// and the server (the first two of tiers).
func (u *units) placementOf(c Choice, tiers int) Placement {
	pl := newPlacement(len(u.name), tiers)
	for i := range u.name {
		onServer := i > c.Cut
		if u.task[i] >= 0 {
			onServer = !c.HeadsOnEdge[u.task[i]]
		}
		if onServer {
			pl.Tier[i] = 1
		}
	}
	if c.Sends() {
		pl.Encoding[c.Cut][0] = c.Encoding
	}
	return pl
}

// choiceOf describes a placement as a choice. A placement that is a block
// cut (blocks before it on the edge, after it on the server, heads whole)
// gets that cut's index and name, as the exhaustive method names it; any
// other cut is named by its crossing tensors.
func (p *Problem) choiceOf(u *units, pl Placement) Choice {
	g := p.Graph
	c := Choice{Cut: -1, HeadsOnEdge: make([]bool, len(u.heads))}
	for t := range u.heads {
		c.HeadsOnEdge[t] = pl.Tier[u.last(t)] == 0
	}
	if p.numTiers() > 2 {
		c.tiers = p.tierNames()
		for t := range u.heads {
			c.HeadTier = append(c.HeadTier, pl.Tier[u.last(t)])
		}
		c.NodeTier = make([]int, len(g.Nodes))
		for i, nodes := range u.nodes {
			for _, n := range nodes {
				c.NodeTier[n] = pl.Tier[i]
			}
		}
	}
	onEdge := make([]bool, len(g.Nodes))
	for i, nodes := range u.nodes {
		for _, n := range nodes {
			onEdge[n] = pl.Tier[i] == 0
		}
	}
	var names []string
	for i, encs := range pl.Encoding {
		name := u.name[i]
		if len(u.nodes[i]) == 1 && i > 0 {
			name = g.Nodes[u.nodes[i][0]].Name // a layer: its module path
		}
		node := u.nodes[i][len(u.nodes[i])-1]
		// Tensors forwarded between later tiers.
		for h := 2; h <= len(encs); h++ {
			if e := encs[h-1]; e != "" {
				n, _ := p.tensorBytes(u, i, e)
				c.Forward = append(c.Forward, CutTensor{Name: name, Node: node, Hop: h, Encoding: e, Bytes: n})
			}
		}
		// The device's uplink carries what the plan calls the cut.
		e := encs[0]
		if e == "" {
			continue
		}
		n, _ := p.tensorBytes(u, i, e)
		c.Tensors = append(c.Tensors, CutTensor{Name: name, Node: node, Hop: 1, Encoding: e, Bytes: n})
		names = append(names, name)
		if c.Encoding != "" && c.Encoding != e {
			c.Encoding = Mixed
		} else {
			c.Encoding = e
		}
	}
	// The block cut, if it is one: k whole blocks on the edge.
	k := 0
	for k < len(g.Blocks) && onEdge[g.Blocks[k].Output] {
		k++
	}
	block := true
	for _, n := range g.Nodes {
		switch {
		case n.Task >= 0:
			block = block && onEdge[n.ID] == c.HeadsOnEdge[n.Task] && (!onEdge[n.ID] || k == len(g.Blocks))
		case n.Block >= 0:
			block = block && onEdge[n.ID] == (n.Block < k)
		}
	}
	if block && len(c.Tensors) <= 1 && p.numTiers() == 2 {
		c.Cut, c.CutName = k, profile.Cuts(g)[k].Name
		return c
	}
	for n, on := range onEdge {
		if on {
			c.EdgeNodes = append(c.EdgeNodes, n)
		}
	}
	c.CutName = strings.Join(names, "+")
	if len(names) == 0 { // nothing leaves the device
		c.CutName = profile.Cuts(g)[len(g.Blocks)].Name
	}
	return c
}
