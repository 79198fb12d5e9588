package optimizer

import (
	"errors"
	"math"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// TestRuntimeCostTerms checks the fixed per-request and per-tensor terms:
// set, they add exactly once per request and per tensor, to the side and
// stage that pays them, at every uplink, and nothing to a choice that
// sends nothing. (That a catalog without them plans as before is what the
// plan goldens of cli/testdata check, unchanged by the terms.)
func TestRuntimeCostTerms(t *testing.T) {
	base := catalogProblem(t, "resnet18", "jetson-nano", "h100", "4g")
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
}

// TestRuntimeCostTermsILP checks the ILP adds the same terms: its optimum
// with them equals the exhaustive search's.
func TestRuntimeCostTermsILP(t *testing.T) {
	needCBC(t)
	p := catalogProblem(t, "resnet18", "rpi4", "h100", "wifi")
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

// catalogProblem is a two-task problem of a zoo model on catalog entries.
func catalogProblem(t *testing.T, m, device, server, network string) *Problem {
	t.Helper()
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New(m, 224, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	dev, err1 := cat.Device(device)
	srv, err2 := cat.Server(server)
	net, err3 := cat.Network(network)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	p, err := NewProblem(g, dev, srv, net)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCodecMSKeepsFixedTerm: a lossy encoding pays its pass over the tensor
// on top of the fixed per-tensor term, not instead of it (a calibrated
// tensor_encode_ms was dropped for every fp16 and int8 cut).
func TestCodecMSKeepsFixedTerm(t *testing.T) {
	p := catalogProblem(t, "resnet18", "jetson-nano", "h100", "4g")
	s := p.Tiers[0]
	const elems = 1 << 14
	for _, e := range []codec.Encoding{codec.FP32, codec.FP16, codec.Int8} {
		for _, decode := range []bool{false, true} {
			without := codecMS(s, e, elems, decode)
			with := s
			with.Cost.TensorEncodeMS, with.Cost.TensorDecodeMS = 2, 3
			want := 2.0
			if decode {
				want = 3
			}
			if got := codecMS(with, e, elems, decode) - without; math.Abs(got-want) > 1e-12 {
				t.Errorf("%s decode=%v: the fixed term added %g ms, want %g", e, decode, got, want)
			}
		}
	}
}

// TestPredictedAfterIdle checks the idle-gap terms: the plan's predicted
// stages are the fixed point of profile.SequentialStages on the warm
// costs, the tasks move with the stages that answer them, the search (the
// choice and its objective) stays on the warm costs, and without terms the
// prediction is the warm cost.
func TestPredictedAfterIdle(t *testing.T) {
	base := catalogProblem(t, "resnet18", "jetson-nano", "h100", "4g")
	cold := *base
	cold.Tiers = append([]Side(nil), base.Tiers...)
	cold.Tiers[0].Cost.ColdFrac, cold.Tiers[0].Cost.ColdTauMS = 0.3, 50
	cold.Tiers[1].Cost.ColdFrac, cold.Tiers[1].Cost.ColdTauMS = 1.5, 100
	for _, mbps := range []float64{1, 1000} {
		base.Links = []Network{base.Links[0]}
		base.Links[0].UplinkMbps = mbps
		cold.Links = base.Links
		rb, err := Solve(base, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := Solve(&cold, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rb.Best.Label.String() != rc.Best.Label.String() || rb.Objective != rc.Objective {
			t.Errorf("%g Mbps: the terms moved the search: %s %g → %s %g", mbps, rb.Best.Label, rb.Objective, rc.Best.Label, rc.Objective)
		}
		for _, e := range []Evaluated{rc.Best, rc.Baselines.RemoteOnly, rc.Baselines.LocalOnly} {
			c := e.Cost
			warm := base.Predicted(e)
			got := cold.Predicted(e)
			if c.Bytes == 0 {
				if got.EdgeMS != warm.EdgeMS || got.TotalMS != warm.TotalMS {
					t.Errorf("%g Mbps %s sends nothing: edge %g, total %g; want the warm %g, %g", mbps, e.Label, got.EdgeMS, got.TotalMS, warm.EdgeMS, warm.TotalMS)
				}
				continue
			}
			we, ws := profile.SequentialStages(c.EdgeMS, c.NetworkMS, c.ServerMS, cold.Tiers[0].Cost, cold.Tiers[1].Cost)
			if warm.EdgeMS != c.EdgeMS || warm.ServerMS != c.ServerMS {
				t.Errorf("%g Mbps %s without terms: edge %g, server %g; want the warm %g, %g", mbps, e.Label, warm.EdgeMS, warm.ServerMS, c.EdgeMS, c.ServerMS)
			}
			if math.Abs(got.EdgeMS-we) > 1e-9 || math.Abs(got.ServerMS-ws) > 1e-9 || got.NetworkMS != c.NetworkMS {
				t.Errorf("%g Mbps %s: edge %g, network %g, server %g; want %g, %g, %g", mbps, e.Label, got.EdgeMS, got.NetworkMS, got.ServerMS, we, c.NetworkMS, ws)
			}
			de, ds := we-c.EdgeMS, ws-c.ServerMS
			for i, h := range cold.Graph.Heads {
				want := c.TaskMS[i] + de
				if e.Label.Heads[i] != "edge" {
					want += ds
				}
				if math.Abs(got.TaskMS[h.Task]-want) > 1e-9 {
					t.Errorf("%g Mbps %s: task %s %g ms, want %g", mbps, e.Label, h.Task, got.TaskMS[h.Task], want)
				}
			}
			if got.TotalMS <= warm.TotalMS {
				t.Errorf("%g Mbps %s: total %g, want above the warm %g", mbps, e.Label, got.TotalMS, warm.TotalMS)
			}
		}
	}
}

// TestComputeScale checks a tier's compute scale: the edge's stage of every
// choice (its layers and its pass over the tensor sent) scales by it exactly
// at every uplink, the network and server stages do not move, and the ILP
// costs it as the exhaustive search does.
func TestComputeScale(t *testing.T) {
	base := catalogProblem(t, "resnet18", "jetson-nano", "h100", "4g")
	base.Encodings = []codec.Encoding{codec.FP32, codec.FP16, codec.Int8}
	const k = 0.87
	scaled := *base
	scaled.Tiers = append([]Side(nil), base.Tiers...)
	scaled.Tiers[0].Cost.ComputeScale = k
	r, err := Solve(base, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    Evaluated
	}{
		{"local-only", r.Baselines.LocalOnly},
		{"remote-only", r.Baselines.RemoteOnly},
		{"mtl-split", r.Baselines.MTLSplit},
	} {
		for _, mbps := range []float64{1, 50, 1000} {
			b, err := base.Evaluate(tc.e.Placement, mbps)
			if err != nil {
				t.Fatal(err)
			}
			s, err := scaled.Evaluate(tc.e.Placement, mbps)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(s.Cost.EdgeMS-k*b.Cost.EdgeMS) > 1e-9 || s.Cost.NetworkMS != b.Cost.NetworkMS || math.Abs(s.Cost.ServerMS-b.Cost.ServerMS) > 1e-12 {
				t.Errorf("%s at %g Mbps: edge/network/server %g/%g/%g ms, want %g·%g/%g/%g", tc.name, mbps,
					s.Cost.EdgeMS, s.Cost.NetworkMS, s.Cost.ServerMS, k, b.Cost.EdgeMS, b.Cost.NetworkMS, b.Cost.ServerMS)
			}
		}
	}
	if r.Baselines.LocalOnly.Cost.EdgeMS <= 0 {
		t.Fatalf("local-only edge %g ms: nothing to scale", r.Baselines.LocalOnly.Cost.EdgeMS)
	}
	needCBC(t)
	scaled.Tiers[1].Cost.ComputeScale = 0.5
	ex, err := Solve(&scaled, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	il, err := Solve(&scaled, nil, ILP{Granularity: BlockLevel})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(il.Objective-ex.Best.Cost.TotalMS) > 1e-6*ex.Best.Cost.TotalMS {
		t.Errorf("ILP objective %g ms, exhaustive optimum %g ms: the ILP costs the scale differently", il.Objective, ex.Best.Cost.TotalMS)
	}
}
