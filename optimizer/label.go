package optimizer

import (
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/placement"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Label is how people read a placement: the cut's name (a block, "input",
// or the tensors crossing the device's uplink joined by "+"), the uplink's
// encoding and the tier of each task's result. It is derived for display
// and never decides identity (placement.Placement.Equal does).
type Label struct {
	Cut string
	// Encoding is empty when nothing leaves the device, placement.Mixed
	// when the uplink's tensors use different encodings.
	Encoding codec.Encoding
	// Heads names the tier of each task's result, by task index.
	Heads []string
	// Block is the number of blocks on the device when the placement is a
	// block cut (blocks before it on the device, after it beyond, heads
	// whole, at most one tensor sent), −1 otherwise.
	Block int
}

// String is a compact label such as "layer3/int8/SS" (one letter per task:
// the first of its tier's name).
func (l Label) String() string {
	var b strings.Builder
	for _, h := range l.Heads {
		b.WriteString(strings.ToUpper(h[:1]))
	}
	return l.Cut + "/" + EncodingName(l.Encoding) + "/" + b.String()
}

// label derives a placement's label.
func (p *Problem) label(pl placement.Placement) Label {
	g := p.Graph
	names := p.tierNames()
	l := Label{Encoding: pl.Encoding(), Block: -1}
	for _, k := range pl.HeadTier {
		l.Heads = append(l.Heads, names[k])
	}
	uplink := pl.Hop(1)
	if k := blockCut(g, pl); k >= 0 && len(uplink) <= 1 && p.numTiers() == 2 {
		l.Cut, l.Block = cutName(g, k), k
		return l
	}
	var cut []string
	for _, t := range uplink {
		cut = append(cut, TensorName(g, t.Node))
	}
	l.Cut = strings.Join(cut, "+")
	if len(cut) == 0 { // nothing leaves the device
		l.Cut = cutName(g, len(g.Blocks))
	}
	return l
}

// blockLabel is the label of a block choice, without placing it.
func (p *Problem) blockLabel(b blockChoice) Label {
	names := p.tierNames()
	l := Label{Cut: cutName(p.Graph, b.cut), Encoding: b.enc, Block: b.cut}
	for _, edge := range b.headsOnEdge {
		k := 1
		if edge {
			k = 0
		}
		l.Heads = append(l.Heads, names[k])
	}
	return l
}

// cutName names the cut after k blocks as profile.Cuts does.
func cutName(g *model.Graph, k int) string {
	if k == 0 {
		return profile.InputCut
	}
	return g.Blocks[k-1].Name
}

// blockCut is the number of blocks on the device when a placement is a
// block cut — every backbone node of the first k blocks on the device and
// none after, each head wholly on the device or wholly off it, and heads
// on the device only after the whole backbone — and −1 otherwise.
func blockCut(g *model.Graph, pl placement.Placement) int {
	onEdge := func(n int) bool { return pl.NodeTier[n] == 0 }
	k := 0
	for k < len(g.Blocks) && onEdge(g.Blocks[k].Output) {
		k++
	}
	for _, n := range g.Nodes {
		switch {
		case n.Task >= 0:
			if onEdge(n.ID) != (pl.HeadTier[n.Task] == 0) || (onEdge(n.ID) && k < len(g.Blocks)) {
				return -1
			}
		case n.Block >= 0:
			if onEdge(n.ID) != (n.Block < k) {
				return -1
			}
		}
	}
	return k
}

// TensorName names a node's output for people: "input" for the image, the
// block's name for a block's output, else the node's module path.
func TensorName(g *model.Graph, node int) string {
	if node == 0 {
		return profile.InputCut
	}
	for _, b := range g.Blocks {
		if b.Output == node {
			return b.Name
		}
	}
	return g.Nodes[node].Name
}
