package placement

import (
	"cmp"
	"slices"

	"github.com/mtlsplit/mtlsplit/codec"
)

// Placement maps every graph node and every task's result to a tier (0 is
// the device) and lists what crosses each hop.
type Placement struct {
	// NodeTier is the tier of every graph node, by node ID; the input
	// (node 0) is on the device.
	NodeTier []int
	// HeadTier is the tier that gives each task's result, by task index.
	HeadTier []int
	// Sends lists every tensor crossing a hop, ordered by hop then node
	// (see Sort): the order tensors go on the wire.
	Sends []Tensor
}

// Tensor is one node's output crossing one hop.
type Tensor struct {
	// Node is the graph node whose output it is (0: the input image).
	Node int
	// Hop is the hop it crosses, into tier Hop (1: the device's uplink).
	Hop      int
	Encoding codec.Encoding
	// Bytes is its size on the wire (measured for a compressed encoding).
	Bytes int64
}

// Mixed labels the uplink of a placement whose tensors travel in
// different encodings.
const Mixed codec.Encoding = "mixed"

// Equal reports whether two placements run the same nodes on the same
// tiers, give the same results from the same tiers and send the same
// tensors the same way.
func (p Placement) Equal(o Placement) bool {
	return slices.Equal(p.NodeTier, o.NodeTier) && slices.Equal(p.HeadTier, o.HeadTier) && slices.Equal(p.Sends, o.Sends)
}

// Sort puts Sends in wire order: by hop, then by node.
func (p Placement) Sort() {
	slices.SortFunc(p.Sends, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(a.Hop, b.Hop), cmp.Compare(a.Node, b.Node))
	})
}

// Hop lists the tensors crossing hop h, in wire order.
func (p Placement) Hop(h int) []Tensor {
	var out []Tensor
	for _, t := range p.Sends {
		if t.Hop == h {
			out = append(out, t)
		}
	}
	return out
}

// Bytes is what hop h carries per inference.
func (p Placement) Bytes(h int) int64 {
	var n int64
	for _, t := range p.Hop(h) {
		n += t.Bytes
	}
	return n
}

// Encoding labels the device's uplink: empty when nothing leaves the
// device, the encoding of its tensors, or Mixed.
func (p Placement) Encoding() codec.Encoding {
	var e codec.Encoding
	for _, t := range p.Hop(1) {
		switch {
		case e == "":
			e = t.Encoding
		case e != t.Encoding:
			return Mixed
		}
	}
	return e
}

// Tiers is the number of tiers the placement uses at least: one more than
// the highest tier of a node, a result or a hop.
func (p Placement) Tiers() int {
	n := 1
	for _, k := range p.NodeTier {
		n = max(n, k+1)
	}
	for _, k := range p.HeadTier {
		n = max(n, k+1)
	}
	for _, t := range p.Sends {
		n = max(n, t.Hop+1)
	}
	return n
}
