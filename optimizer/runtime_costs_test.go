package optimizer

import (
	"math"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
)

// TestRuntimeCostTerms checks the fixed per-request and per-tensor terms:
// zero leaves every cost as it was (so catalogs without them plan as
// before), and set, they add exactly once per request and per tensor, to
// the side and stage that pays them, at every uplink — and the ILP costs
// them as the block-level search does.
func TestRuntimeCostTerms(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("resnet18", 224, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := cat.Device("jetson-nano")
	srv, _ := cat.Server("h100")
	net, _ := cat.Network("4g")
	base, err := NewProblem(g, dev, srv, net)
	if err != nil {
		t.Fatal(err)
	}
	base.Encodings = []codec.Encoding{codec.FP32, codec.FP16, codec.Int8}
	const overhead, enc, dec = 3.25, 0.5, 0.75
	withTerms := *base
	withTerms.Tiers = append([]Side(nil), base.Tiers...)
	withTerms.Links = append([]Network(nil), base.Links...)
	withTerms.Links[0].OverheadMS = overhead
	withTerms.Tiers[0].Cost.TensorEncodeMS = enc
	withTerms.Tiers[1].Cost.TensorDecodeMS = dec

	r, err := Solve(base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A real split (layer3 in fp16, the heads on the server) beside the baselines.
	split := r.Baselines.MTLSplit
	cases := []struct {
		name string
		e    Evaluated
		// extra the terms add to the edge, network and server stages
		edge, network, server float64
	}{
		{"local-only sends nothing", r.Baselines.LocalOnly, 0, 0, 0},
		{"remote-only sends the image", r.Baselines.RemoteOnly, enc, overhead, dec},
		{"mtl-split sends the features", split, enc, overhead, dec},
	}
	for _, tc := range cases {
		for _, mbps := range []float64{1, 50, 1000} {
			b, err := base.Evaluate(tc.e.Placement, mbps)
			if err != nil {
				t.Fatal(err)
			}
			w, err := withTerms.Evaluate(tc.e.Placement, mbps)
			if err != nil {
				t.Fatal(err)
			}
			got := [4]float64{w.Cost.EdgeMS - b.Cost.EdgeMS, w.Cost.NetworkMS - b.Cost.NetworkMS, w.Cost.ServerMS - b.Cost.ServerMS,
				w.Cost.TotalMS - b.Cost.TotalMS}
			want := [4]float64{tc.edge, tc.network, tc.server, tc.edge + tc.network + tc.server}
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-9 {
					t.Errorf("%s at %g Mbps: edge/network/server/total moved by %v, want %v", tc.name, mbps, got, want)
					break
				}
			}
		}
	}
	// Zero terms: the same optimum and switch table as a problem that never
	// heard of them.
	zero := *base
	zero.Links = append([]Network(nil), base.Links...)
	zero.Links[0].OverheadMS = 0
	r0, err := Solve(&zero, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r0.Best.Cost.TotalMS != r.Best.Cost.TotalMS || len(r0.Switch) != len(r.Switch) {
		t.Errorf("zero terms changed the plan: %g ms, %d rows; want %g ms, %d rows", r0.Best.Cost.TotalMS, len(r0.Switch), r.Best.Cost.TotalMS, len(r.Switch))
	}
}

// TestRuntimeCostTermsILP checks the ILP adds the same terms: its optimum
// with them equals the exhaustive search's.
func TestRuntimeCostTermsILP(t *testing.T) {
	needCBC(t)
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("resnet18", 224, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := cat.Device("rpi4")
	srv, _ := cat.Server("h100")
	net, _ := cat.Network("wifi")
	p, err := NewProblem(g, dev, srv, net)
	if err != nil {
		t.Fatal(err)
	}
	p.Links[0].OverheadMS = 40
	p.Tiers[0].Cost.TensorEncodeMS, p.Tiers[1].Cost.TensorDecodeMS = 7, 9
	ex, err := Solve(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	il, err := Solve(p, nil, ILP{Granularity: BlockLevel})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ex.Best.Cost.TotalMS-il.Best.Cost.TotalMS) > 1e-6*ex.Best.Cost.TotalMS {
		t.Errorf("ILP optimum %g ms, exhaustive %g ms", il.Best.Cost.TotalMS, ex.Best.Cost.TotalMS)
	}
	if math.Abs(il.Objective-ex.Best.Cost.TotalMS) > 1e-6*ex.Best.Cost.TotalMS {
		t.Errorf("ILP objective %g ms, exhaustive optimum %g ms: the ILP costs the terms differently", il.Objective, ex.Best.Cost.TotalMS)
	}
}
