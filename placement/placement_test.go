package placement

import (
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
)

func TestEqualIsStructural(t *testing.T) {
	base := func() Placement {
		return Placement{NodeTier: []int{0, 0, 1, 1}, HeadTier: []int{1},
			Sends: []Tensor{{Node: 1, Hop: 1, Encoding: codec.Int8, Bytes: 100}}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(p *Placement)
		equal bool
	}{
		{"same", func(p *Placement) {}, true},
		{"another node on the server", func(p *Placement) { p.NodeTier[1] = 1 }, false},
		{"result on the device", func(p *Placement) { p.HeadTier[0] = 0 }, false},
		{"another encoding", func(p *Placement) { p.Sends[0].Encoding = codec.FP16 }, false},
		{"another hop", func(p *Placement) { p.Sends[0].Hop = 2 }, false},
		{"another size", func(p *Placement) { p.Sends[0].Bytes = 99 }, false},
		{"one more tensor", func(p *Placement) { p.Sends = append(p.Sends, Tensor{Node: 0, Hop: 1, Encoding: codec.Raw, Bytes: 3}) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.edit(&b)
			if got := a.Equal(b); got != tc.equal {
				t.Errorf("Equal = %v, want %v", got, tc.equal)
			}
		})
	}
}

func TestLabelsAndHops(t *testing.T) {
	p := Placement{NodeTier: []int{0, 0, 1, 2}, HeadTier: []int{2, 0},
		Sends: []Tensor{{Node: 2, Hop: 2, Encoding: codec.FP32, Bytes: 40}, {Node: 1, Hop: 1, Encoding: codec.Int8, Bytes: 10}, {Node: 0, Hop: 1, Encoding: codec.FP16, Bytes: 6}}}
	p.Sort()
	if p.Sends[0].Node != 0 || p.Sends[1].Node != 1 || p.Sends[2].Hop != 2 {
		t.Errorf("wire order %+v", p.Sends)
	}
	if got := p.Encoding(); got != Mixed {
		t.Errorf("uplink encoding %q, want mixed", got)
	}
	if p.Bytes(1) != 16 || p.Bytes(2) != 40 || p.Tiers() != 3 {
		t.Errorf("bytes %d %d, tiers %d", p.Bytes(1), p.Bytes(2), p.Tiers())
	}
	if got := (Placement{NodeTier: []int{0, 0}, HeadTier: []int{0}}).Encoding(); got != "" {
		t.Errorf("local-only uplink encoding %q", got)
	}
}
