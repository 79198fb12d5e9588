package profile

import "github.com/mtlsplit/mtlsplit/model"

// OnEdge reports which nodes run on the edge when the first cut blocks of
// the backbone and the heads marked in headsOnEdge run there.
func OnEdge(g *model.Graph, cut int, headsOnEdge []bool) []bool {
	on := make([]bool, len(g.Nodes))
	on[0] = true
	for _, n := range g.Nodes {
		switch {
		case n.Task >= 0:
			on[n.ID] = headsOnEdge[n.Task]
		case n.Block >= 0:
			on[n.ID] = n.Block < cut
		}
	}
	return on
}

// MemoryBytes is the memory the nodes marked in on need: their weights plus
// the peak of the activations alive at once while they run in order (a
// tensor lives from its producer until its last consumer on the same side).
func MemoryBytes(g *model.Graph, on []bool, bytesPerElem int) int64 {
	lastUse := make([]int, len(g.Nodes))
	for i := range lastUse {
		lastUse[i] = i
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if on[n.ID] {
				lastUse[in] = max(lastUse[in], n.ID)
			}
		}
	}
	var weights, live, peak int64
	for _, n := range g.Nodes {
		if !on[n.ID] {
			continue
		}
		weights += n.Params
		live += n.OutShape.Elems()
		peak = max(peak, live)
		for _, in := range n.Inputs {
			if on[in] && lastUse[in] == n.ID {
				live -= g.Nodes[in].OutShape.Elems()
			}
		}
		if lastUse[n.ID] == n.ID {
			live -= n.OutShape.Elems()
		}
	}
	return (weights + peak) * int64(bytesPerElem)
}
