package profile

import (
	"github.com/mtlsplit/mtlsplit/model"

	"github.com/mtlsplit/mtlsplit/codec"
)

// Cut is a single-tensor split point at a block boundary.
type Cut struct {
	// Index is the number of backbone blocks that run on the edge: 0 sends
	// the input (remote-only), len(Blocks) sends the backbone output.
	Index int
	// Name is "input" or the name of the last block on the edge.
	Name  string
	Shape model.Shape
}

// InputCut is the name of the cut that sends the raw image.
const InputCut = "input"

// Cuts lists every block-boundary cut of g, input first.
func Cuts(g *model.Graph) []Cut {
	cuts := []Cut{{Index: 0, Name: InputCut, Shape: g.Input}}
	for i, b := range g.Blocks {
		cuts = append(cuts, Cut{Index: i + 1, Name: b.Name, Shape: b.OutShape})
	}
	return cuts
}

// Bytes is the size of the cut tensor on the wire in encoding e; the input
// cut always travels as the raw uint8 image.
func (c Cut) Bytes(e codec.Encoding) int64 {
	if c.Index == 0 {
		return codec.Raw.Bytes(c.Shape.Elems())
	}
	return e.Bytes(c.Shape.Elems())
}
