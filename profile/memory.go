package profile

import "github.com/mtlsplit/mtlsplit/model"

// MemoryBytes is the memory the nodes marked in on need: their weights plus
// the peak of the activations alive at once while they run in order.
func MemoryBytes(g *model.Graph, on []bool, bytesPerElem int) int64 {
	var weights, peak int64
	for _, n := range g.Nodes {
		if on[n.ID] {
			weights += n.Params * int64(bytesPerElem)
		}
	}
	for _, l := range LiveBytes(g, on, bytesPerElem) {
		peak = max(peak, l)
	}
	return weights + peak
}

// LiveBytes is, for each node marked in on, the bytes of activations alive
// right after it runs (0 for the others): a tensor lives from its producer
// until its last consumer on the same side.
func LiveBytes(g *model.Graph, on []bool, bytesPerElem int) []int64 {
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
	out := make([]int64, len(g.Nodes))
	var live int64
	for _, n := range g.Nodes {
		if !on[n.ID] {
			continue
		}
		live += n.OutShape.Elems()
		out[n.ID] = live * int64(bytesPerElem)
		for _, in := range n.Inputs {
			if on[in] && lastUse[in] == n.ID {
				live -= g.Nodes[in].OutShape.Elems()
			}
		}
		if lastUse[n.ID] == n.ID {
			live -= n.OutShape.Elems()
		}
	}
	return out
}
