package model

import "testing"

// TestSubgraphHeads builds heads that are not the MTL-Split head — a conv
// sub-graph and a bare pooling — on one backbone: each counts its own
// nodes, params and MACs, and with classes 0 its output size.
func TestSubgraphHeads(t *testing.T) {
	b := NewBuilder("two-heads", 3, 8)
	b.Block("stem", "Conv2d")
	x := b.Conv2d("stem", b.Input(), Conv{OutChannels: 4, Kernel: 3, Stride: 1, Padding: 1}) // [4 8 8]
	b.Head("seg", 0)
	y := b.Conv2d("seg.conv", x, Conv{OutChannels: 2, Kernel: 1, Stride: 1, Bias: true})
	b.Activation("seg.act", OpSigmoid, y)
	b.Head("pool", 0)
	b.AdaptiveAvgPool2d("pool.avg", x, 1)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		task              string
		classes, nodes    int
		params, macs, out int64
	}{
		// 1×1 conv 4→2 with bias on 8×8: 4·2+2 params, 2·8·8·4 MACs.
		{"seg", 2 * 8 * 8, 2, 10, 512, 128},
		{"pool", 4, 1, 0, 0, 4},
	} {
		h := g.Heads[i]
		if h.Task != want.task || h.Classes != want.classes || len(h.Nodes) != want.nodes || h.Params != want.params ||
			h.MACs != want.macs || g.Nodes[h.Output].OutShape.Elems() != want.out {
			t.Errorf("head %d: %+v, want %+v", i, h, want)
		}
	}
	if g.BackboneParams() != 4*3*9 || g.Backbone() != x {
		t.Errorf("backbone: %d params, output %d", g.BackboneParams(), g.Backbone())
	}
}
