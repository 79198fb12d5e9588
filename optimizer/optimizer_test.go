package optimizer

import (
	"math"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// toyGraph is input 3×8×8 → b1: conv 3→4 (4×8×8) → b2: maxpool (4×4×4),
// with one 2-class head per task.
func toyGraph(t *testing.T, tasks int) *model.Graph {
	t.Helper()
	b := model.NewBuilder("toy", 3, 8)
	b.Block("b1", "Conv2d")
	x := b.Conv2d("b1", b.Input(), model.Conv{OutChannels: 4, Kernel: 3, Stride: 1, Padding: 1})
	b.Block("b2", "MaxPool2d")
	b.MaxPool2d("b2", x, 2, 2, 0)
	for i := range tasks {
		model.AddHead(b, []string{"task1", "task2"}[i], 2)
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// toyProblem has hand-set latencies so every plan can be computed by hand.
func toyProblem(t *testing.T, tasks int) *Problem {
	g := toyGraph(t, tasks)
	cm := func(bw, overhead float64) profile.CostModel {
		return profile.CostModel{Device: "toy", BytesPerElem: 4, PeakGFLOPS: 1, MemBandwidthGBps: bw, LayerOverheadMS: overhead,
			Efficiency: map[profile.OpClass]float64{"conv": 1, "depthwise": 1, "linear": 1, "elementwise": 1, "pool": 1}}
	}
	return &Problem{
		Graph: g,
		Tiers: []Side{
			{Name: "edge", ActivePowerW: 2, Cost: cm(1, 0.1),
				Latency: &profile.Latency{BlockMS: []float64{10, 5}, HeadMS: []float64{2, 3}[:tasks]}},
			{Name: "server", Cost: cm(10, 0.01),
				Latency: &profile.Latency{BlockMS: []float64{1, 0.5}, HeadMS: []float64{0.2, 0.3}[:tasks]}},
		},
		Links:     []Network{{Name: "net", UplinkMbps: 1, DownlinkMbps: 10, RTTMS: 4, TxPowerW: 1}},
		Encodings: []codec.Encoding{codec.FP32},
		Objective: Latency,
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

func TestHandComputedPlans(t *testing.T) {
	tests := []struct {
		name    string
		tasks   int
		setup   func(p *Problem)
		choice  string
		totalMS float64
		energy  float64
		bytes   int64
	}{
		{
			// remote-only: RTT 4 + 8 result bytes at 10 Mbps (0.0064) + 192
			// image bytes at 1 Mbps (1.536) + server 1 + 0.5 + 0.2.
			name: "one task, 1 Mbps: remote-only", tasks: 1, setup: func(p *Problem) {},
			choice: "input/uint8/S", totalMS: 7.2424, energy: 1.536, bytes: 192,
		},
		{
			// At 0.1 Mbps remote-only takes 21.0664 ms; local-only 10+5+2.
			name: "one task, 0.1 Mbps: local-only", tasks: 1, setup: func(p *Problem) { p.Links[0].UplinkMbps = 0.1 },
			choice: "b2/none/E", totalMS: 17, energy: 34, bytes: 0,
		},
		{
			// Only b2/int8 (64+8 bytes) or local fit 100 bytes. Edge energy of
			// b2/int8/SS: 2 W · (15 + encode 0.100512) + 1 W · 72 B at 1 Mbps
			// (0.576 ms); latency 15.100512 + 4 + 16 B back (0.0128) + 0.576 +
			// decode 0.0100512 + heads 0.5.
			name: "two tasks, energy, 100 bytes max", tasks: 2, setup: func(p *Problem) {
				p.Objective = Energy
				p.Encodings = []codec.Encoding{codec.FP32, codec.Int8}
				p.Constraints.MaxBytes = 100
			},
			choice: "b2/int8/SS", totalMS: 20.1993632, energy: 30.777024, bytes: 72,
		},
		{
			// Same space, makespan: task2 on the edge (15.100512 + 3) while
			// task1's features go to the server (15.100512 + 4.0064 + 0.576
			// + 0.0100512 + 0.2 = 19.8929632).
			name: "two tasks, latency, heads split", tasks: 2, setup: func(p *Problem) {
				p.Encodings = []codec.Encoding{codec.FP32, codec.Int8}
				p.Constraints.MaxBytes = 100
			},
			choice: "b2/int8/SE", totalMS: 19.8929632, energy: 2*18.100512 + 0.576, bytes: 72,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := toyProblem(t, tc.tasks)
			tc.setup(p)
			r, err := Solve(p, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := r.Best
			if b.Label.String() != tc.choice || !near(b.Cost.TotalMS, tc.totalMS) || !near(b.Cost.EdgeEnergyMJ, tc.energy) || b.Cost.Bytes != tc.bytes {
				t.Errorf("got %s %.7f ms %.7f mJ %d B, want %s %.7f ms %.7f mJ %d B",
					b.Label, b.Cost.TotalMS, b.Cost.EdgeEnergyMJ, b.Cost.Bytes, tc.choice, tc.totalMS, tc.energy, tc.bytes)
			}
			if lo, hi := r.ValidUplinkMbps[0], r.ValidUplinkMbps[1]; !(lo <= p.Links[0].UplinkMbps && p.Links[0].UplinkMbps <= hi) {
				t.Errorf("valid range [%g, %g] misses the uplink %g", lo, hi, p.Links[0].UplinkMbps)
			}
		})
	}
}

func TestToyBreakpoint(t *testing.T) {
	// Local-only (17 ms) against remote-only (5.7064 + 1.536/u ms) switch at
	// u = 1.536 / 11.2936 Mbps; nothing else is ever optimal.
	p := toyProblem(t, 1)
	segs, err := Sweep(p, 0.01, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Label.String() != "b2/none/E" || segs[1].Label.String() != "input/uint8/S" {
		t.Fatalf("segments %+v", segs)
	}
	if want := 1.536 / 11.2936; !near(segs[0].ToMbps, want) || !near(segs[1].FromMbps, want) {
		t.Errorf("breakpoint %.12g, want %.12g", segs[0].ToMbps, want)
	}
}

func TestBaselines(t *testing.T) {
	p := toyProblem(t, 2)
	r, err := Solve(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := r.Baselines
	for _, tc := range []struct {
		name   string
		got    Evaluated
		choice string
	}{
		{"local-only", b.LocalOnly, "b2/none/EE"},
		{"remote-only", b.RemoteOnly, "input/uint8/SS"},
		{"mtl-split", b.MTLSplit, "b2/fp32/SS"},
	} {
		if tc.got.Label.String() != tc.choice {
			t.Errorf("%s: %s, want %s", tc.name, tc.got.Label, tc.choice)
		}
		if tc.got.Cost.TotalMS < r.Best.Cost.TotalMS-1e-9 {
			t.Errorf("%s beats the optimum: %g < %g", tc.name, tc.got.Cost.TotalMS, r.Best.Cost.TotalMS)
		}
	}
}

func TestInfeasibleNamesConstraint(t *testing.T) {
	tests := []struct {
		name, want string
		setup      func(p *Problem)
	}{
		{"deadline", "deadline", func(p *Problem) { p.Constraints.DeadlineMS = 5 }},
		// Remote-only fits 1000 bytes of edge memory but sends 192 bytes;
		// local-only sends nothing but needs the weights on the edge.
		{"together", "constraints", func(p *Problem) { p.Constraints.MaxBytes = 10; p.Constraints.MaxEdgeMemoryBytes = 1000 }},
		{"memory", "edge memory", func(p *Problem) { p.Constraints.MaxEdgeMemoryBytes = 10 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := toyProblem(t, 1)
			tc.setup(p)
			_, err := Solve(p, nil, nil)
			ie, ok := err.(*InfeasibleError)
			if !ok || ie.Constraint != tc.want {
				t.Fatalf("error %v, want an infeasible %s", err, tc.want)
			}
		})
	}
}
