package optimizer

import (
	"strings"

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
	nodes     [][]int // graph nodes of each unit
	edgeMS    []float64
	serverMS  []float64
	elems     []int64 // elements of the unit's output tensor
	consumers [][]int
	task      []int    // -1 for the backbone, else the task index
	cut       []string // block cut name where the output is a block boundary ("input" for unit 0), else ""
	heads     [][]int  // per task: its units in order, the last one giving the result
}

// units builds the placement graph of p at granularity gr.
func (p *Problem) units(gr Granularity) *units {
	g := p.Graph
	u := &units{heads: make([][]int, len(g.Heads))}
	add := func(name string, nodes []int, e, s float64, elems int64, task int, cut string) int {
		u.name = append(u.name, name)
		u.nodes = append(u.nodes, nodes)
		u.edgeMS, u.serverMS = append(u.edgeMS, e), append(u.serverMS, s)
		u.elems = append(u.elems, elems)
		u.consumers = append(u.consumers, nil)
		u.task = append(u.task, task)
		u.cut = append(u.cut, cut)
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
		blockOut := map[int]string{0: profile.InputCut}
		for _, b := range g.Blocks {
			blockOut[b.Output] = b.Name
		}
		for _, n := range g.Nodes {
			id := add(nodeName(n), []int{n.ID}, p.Edge.Latency.NodeMS[n.ID], p.Server.Latency.NodeMS[n.ID], n.OutShape.Elems(), n.Task, blockOut[n.ID])
			for _, in := range n.Inputs {
				link(in, id)
			}
		}
		return u
	}
	add(profile.InputCut, []int{0}, 0, 0, g.Input.Elems(), -1, profile.InputCut)
	for i, b := range g.Blocks {
		var nodes []int
		for id := b.First; id <= b.Output; id++ {
			nodes = append(nodes, id)
		}
		id := add(b.Name, nodes, p.Edge.Latency.BlockMS[i], p.Server.Latency.BlockMS[i], b.OutShape.Elems(), -1, b.Name)
		link(id-1, id)
	}
	last := len(g.Blocks)
	for t, h := range g.Heads {
		id := add(h.Task, h.Nodes, p.Edge.Latency.HeadMS[t], p.Server.Latency.HeadMS[t], int64(h.Classes), t, "")
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

// Placement puts every unit on the edge or the server and encodes every
// tensor that crosses.
type Placement struct {
	OnServer []bool
	// Encoding of each unit's output where it crosses to the server; empty
	// where it does not.
	Encoding []profile.Encoding
}

// crosses reports whether unit i's output goes to the server.
func (u *units) crosses(pl Placement, i int) bool {
	if pl.OnServer[i] {
		return false
	}
	for _, c := range u.consumers[i] {
		if pl.OnServer[c] {
			return true
		}
	}
	return false
}

// valid reports whether a placement keeps the input on the edge, never
// sends a tensor back towards the device, and encodes exactly the tensors
// that cross.
func (u *units) valid(pl Placement) bool {
	if pl.OnServer[0] {
		return false
	}
	for i := range u.name {
		for _, c := range u.consumers[i] {
			if pl.OnServer[i] && !pl.OnServer[c] {
				return false
			}
		}
		if u.crosses(pl, i) != (pl.Encoding[i] != "") {
			return false
		}
	}
	return true
}

// placementOf turns a block-level choice into a placement.
func (u *units) placementOf(c Choice) Placement {
	pl := Placement{OnServer: make([]bool, len(u.name)), Encoding: make([]profile.Encoding, len(u.name))}
	for i := range u.name {
		switch {
		case u.task[i] >= 0:
			pl.OnServer[i] = !c.HeadsOnEdge[u.task[i]]
		default:
			pl.OnServer[i] = i > c.Cut
		}
	}
	if c.Sends() {
		pl.Encoding[c.Cut] = c.Encoding
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
		c.HeadsOnEdge[t] = !pl.OnServer[u.last(t)]
	}
	onEdge := make([]bool, len(g.Nodes))
	for i, nodes := range u.nodes {
		for _, n := range nodes {
			onEdge[n] = !pl.OnServer[i]
		}
	}
	var names []string
	for i, e := range pl.Encoding {
		if e == "" {
			continue
		}
		name := u.name[i]
		if len(u.nodes[i]) == 1 && i > 0 {
			name = g.Nodes[u.nodes[i][0]].Name // a layer: its module path
		}
		c.Tensors = append(c.Tensors, CutTensor{Name: name, Encoding: e, Bytes: e.Bytes(u.elems[i])})
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
	if block && len(c.Tensors) <= 1 {
		c.Cut, c.CutName = k, profile.Cuts(g)[k].Name
		return c
	}
	for n, on := range onEdge {
		if on {
			c.EdgeNodes = append(c.EdgeNodes, n)
		}
	}
	c.CutName = strings.Join(names, "+")
	return c
}
