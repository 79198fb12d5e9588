package optimizer

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/placement"
)

// TestPlacementsCompareStructurally: resnet18 runs one relu module twice
// per basic block, so two layer cuts sending either call's output carry
// the same label; they are different placements all the same, and the
// switch table tells them apart.
func TestPlacementsCompareStructurally(t *testing.T) {
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	g := p.Graph
	byName := map[string][]int{}
	for _, n := range g.Nodes {
		if n.Task < 0 && n.ID > 0 {
			byName[n.Name] = append(byName[n.Name], n.ID)
		}
	}
	var twice []int
	for _, n := range g.Nodes {
		if ids := byName[n.Name]; len(ids) > 1 && twice == nil {
			twice = ids
		}
	}
	if twice == nil {
		t.Fatal("no module of resnet18 runs twice")
	}
	cutAfter := func(last int) placement.Placement {
		pl := placement.Placement{NodeTier: make([]int, len(g.Nodes)), HeadTier: []int{1, 1}}
		for i := last + 1; i < len(g.Nodes); i++ {
			pl.NodeTier[i] = 1
		}
		pl.Sends = []placement.Tensor{{Node: last, Hop: 1, Encoding: codec.FP16, Bytes: codec.FP16.Bytes(g.Nodes[last].OutShape.Elems())}}
		return pl
	}
	a, b := cutAfter(twice[0]), cutAfter(twice[1])
	if la, lb := p.label(a), p.label(b); la.String() != lb.String() {
		t.Fatalf("labels %s and %s differ; the test wants equal labels", la, lb)
	}
	if a.Equal(b) {
		t.Errorf("placements cutting after node %d and node %d compare equal", twice[0], twice[1])
	}
	if !a.Equal(cutAfter(twice[0])) {
		t.Errorf("a placement differs from its copy")
	}
}

// TestBlockCutEqualsLayerPlacement: every block choice, placed on the
// layer units, costs the same and gives the same plan choice as the block
// space's candidate — a block cut is a placement like any other.
func TestBlockCutEqualsLayerPlacement(t *testing.T) {
	for _, name := range []string{"resnet18", "efficientnet_b0", "vgg16"} {
		t.Run(name, func(t *testing.T) {
			p := zooProblem(t, name, []int{8, 4}, Latency)
			s := p.newBlockSpace()
			layer := p.units(LayerLevel)
			const x = 1 / 10.0
			for i, c := range p.choices() {
				if _, ok := p.tensorBytes(s.u, c.cut, c.enc); c.sends() && !ok {
					continue
				}
				block := s.candidate(c, i)
				pl := block.placement(p)
				lc := p.candidateOf(layer, layer.fromPlacement(pl, 2), i)
				if !lc.placement(p).Equal(pl) {
					t.Fatalf("%s: the layer placement is not the block one", block.label)
				}
				bc, cc := p.cost(&block, x), p.cost(&lc, x)
				if !near(bc.TotalMS, cc.TotalMS) || !near(bc.EdgeEnergyMJ, cc.EdgeEnergyMJ) || bc.Bytes != cc.Bytes || bc.EdgeMemoryBytes != cc.EdgeMemoryBytes {
					t.Fatalf("%s: block %+v, layer %+v", block.label, bc, cc)
				}
				be, le := p.evaluate(&block, x), p.evaluate(&lc, x)
				if pb, pc := p.planChoice(be), p.planChoice(le); !reflect.DeepEqual(pb, pc) {
					t.Fatalf("%s: plan choice %+v, layer %+v", block.label, pb, pc)
				}
				// The public entry point agrees.
				ev, err := p.Evaluate(pl, 1/x)
				if err != nil || !near(ev.Cost.TotalMS, bc.TotalMS) || ev.Cost.Bytes != bc.Bytes || ev.Label.String() != block.label.String() {
					t.Fatalf("%s: Evaluate %s %+v (%v), block %+v", block.label, ev.Label, ev.Cost, err, bc)
				}
			}
		})
	}
}

// TestEvaluateRefusesWhatCannotRun: placements a runtime could not execute
// are errors naming what is wrong, not costs.
func TestEvaluateRefusesWhatCannotRun(t *testing.T) {
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	ok := p.BaselinesAt(10).MTLSplit.Placement
	if _, err := p.Evaluate(ok, 10); err != nil {
		t.Fatalf("MTL-Split's placement: %v", err)
	}
	clone := func() placement.Placement {
		return placement.Placement{NodeTier: append([]int(nil), ok.NodeTier...), HeadTier: append([]int(nil), ok.HeadTier...),
			Sends: append([]placement.Tensor(nil), ok.Sends...)}
	}
	for _, tc := range []struct {
		name, want string
		edit       func(pl *placement.Placement)
	}{
		{"nothing sent", "crosses hop 1: true, sent: false", func(pl *placement.Placement) { pl.Sends = nil }},
		{"input off the device", "node 0 on tier 1", func(pl *placement.Placement) { pl.NodeTier[0] = 1 }},
		{"result from the device", "result from tier 0", func(pl *placement.Placement) { pl.HeadTier[0] = 0 }},
		{"a node before its input", "before its input", func(pl *placement.Placement) { pl.NodeTier[1] = 1 }},
		{"too few nodes", "placement of", func(pl *placement.Placement) { pl.NodeTier = pl.NodeTier[:3] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := clone()
			tc.edit(&pl)
			if _, err := p.Evaluate(pl, 10); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
