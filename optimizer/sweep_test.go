package optimizer

import (
	"fmt"
	"math"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/placement"
	"github.com/mtlsplit/mtlsplit/profile"
)

func costModel(name string, gflops, bw, overhead float64, bpe int) profile.CostModel {
	return profile.CostModel{Device: name, BytesPerElem: bpe, PeakGFLOPS: gflops, MemBandwidthGBps: bw, LayerOverheadMS: overhead,
		Efficiency: map[profile.OpClass]float64{"conv": 0.5, "depthwise": 0.1, "linear": 0.3, "elementwise": 0.2, "pool": 0.2}}
}

// zooProblem is a zoo model on a Jetson-like edge and an H100-like server.
func zooProblem(t testing.TB, name string, tasks []int, obj Objective) *Problem {
	t.Helper()
	g, err := model.New(name, 224, tasks)
	if err != nil {
		t.Fatal(err)
	}
	return graphProblem(t, g, obj)
}

// graphProblem is g on a Jetson-like edge and an H100-like server over 4G,
// every encoding allowed.
func graphProblem(t testing.TB, g *model.Graph, obj Objective) *Problem {
	t.Helper()
	side := func(n string, cm profile.CostModel, w float64) Side {
		l, err := cm.Latency(g)
		if err != nil {
			t.Fatal(err)
		}
		return Side{Name: n, Latency: l, Cost: cm, ActivePowerW: w}
	}
	return &Problem{
		Graph:     g,
		Tiers:     []Side{side("edge", costModel("edge", 472, 25.6, 0.08, 2), 10), side("server", costModel("server", 989000, 3350, 0.014, 2), 700)},
		Links:     []Network{{Name: "4g", UplinkMbps: 5.85, DownlinkMbps: 20, RTTMS: 40, TxPowerW: 1.5}},
		Encodings: codec.Encodings,
		Objective: obj,
	}
}

// TestSweepMatchesBruteForce checks the exact breakpoints against the
// exhaustive optimum on a dense log grid: inside every segment the segment's
// choice is optimal, and at every breakpoint the two neighbours tie.
func TestSweepMatchesBruteForce(t *testing.T) {
	for _, name := range model.Zoo() {
		for _, obj := range Objectives {
			for _, deadline := range []float64{0, 60} {
				t.Run(fmt.Sprintf("%s/%s/deadline%g", name, obj, deadline), func(t *testing.T) {
					p := zooProblem(t, name, []int{8, 4}, obj)
					p.Constraints.DeadlineMS = deadline
					p.TaskWeights = []float64{1, 3}
					if obj != Weighted {
						p.TaskWeights = nil
					}
					segs, err := Sweep(p, 0.1, 1000)
					if err != nil {
						t.Fatal(err)
					}
					checkCover(t, segs, 0.1, 1000)
					feasible, _ := p.candidates()
					const n = 1500
					for i := 0; i <= n; i++ {
						u := 0.1 * math.Pow(1e4, float64(i)/n)
						seg := segmentAt(segs, u)
						best := p.bestAt(feasible, 1/u)
						if !seg.Feasible {
							if best != nil {
								t.Fatalf("%g Mbps: sweep says infeasible, exhaustive finds %s", u, best.label)
							}
							continue
						}
						if best == nil {
							t.Fatalf("%g Mbps: sweep picks %s, exhaustive finds nothing feasible", u, seg.Label)
						}
						if want := p.cost(best, 1/u).Objective; !best.placement(p).Equal(seg.Placement) && !near(evalAt(t, p, seg.Placement, u), want) {
							t.Fatalf("%g Mbps: sweep picks %s (%g), exhaustive %s (%g)", u, seg.Label, evalAt(t, p, seg.Placement, u), best.label, want)
						}
					}
					// Neighbours tie at a breakpoint unless the faster one
					// stops meeting the deadline there.
					for i := 1; i < len(segs); i++ {
						a, b := segs[i-1], segs[i]
						if !a.Feasible || !b.Feasible || near(a.ObjectiveTo, b.ObjectiveFrom) {
							continue
						}
						if p.Objective == Latency || !near(totalAt(t, p, b.Placement, b.FromMbps), deadline) {
							t.Errorf("breakpoint %g Mbps: %s ends at %g, %s starts at %g", a.ToMbps, a.Label, a.ObjectiveTo, b.Label, b.ObjectiveFrom)
						}
					}
				})
			}
		}
	}
}

// checkCover asserts the segments tile [from, to] and neighbours differ.
func checkCover(t *testing.T, segs []Segment, from, to float64) {
	t.Helper()
	if len(segs) == 0 || segs[0].FromMbps != from || segs[len(segs)-1].ToMbps != to {
		t.Fatalf("segments do not cover [%g, %g]: %+v", from, to, segs)
	}
	for i := 1; i < len(segs); i++ {
		if !near(segs[i-1].ToMbps, segs[i].FromMbps) || !(segs[i].FromMbps < segs[i].ToMbps) {
			t.Fatalf("gap or empty segment at %d: %+v %+v", i, segs[i-1], segs[i])
		}
		if segs[i-1].Feasible == segs[i].Feasible && (!segs[i].Feasible || segs[i-1].Placement.Equal(segs[i].Placement)) {
			t.Fatalf("neighbours %d and %d keep the same choice %s", i-1, i, segs[i].Label)
		}
	}
}

func segmentAt(segs []Segment, u float64) Segment {
	for _, s := range segs {
		if u <= s.ToMbps {
			return s
		}
	}
	return segs[len(segs)-1]
}

func evalAt(t *testing.T, p *Problem, c placement.Placement, u float64) float64 {
	return costAt(t, p, c, u).Objective
}

func totalAt(t *testing.T, p *Problem, c placement.Placement, u float64) float64 {
	return costAt(t, p, c, u).TotalMS
}

func costAt(t *testing.T, p *Problem, c placement.Placement, u float64) Cost {
	t.Helper()
	_, all := p.candidates()
	for _, cd := range all {
		if cd.placement(p).Equal(c) {
			return p.cost(cd, 1/u)
		}
	}
	t.Fatalf("placement %v not in the space", c)
	return Cost{}
}

func BenchmarkSolve(b *testing.B) {
	for _, name := range model.Zoo() {
		p := zooProblem(b, name, []int{8, 4}, Latency)
		b.Run(name+"/2tasks", func(b *testing.B) {
			var r *Result
			for b.Loop() {
				var err error
				if r, err = Solve(p, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			if r.Status != Optimal {
				b.Fatal(r.Status)
			}
		})
	}
}

func BenchmarkSweep(b *testing.B) {
	for _, name := range model.Zoo() {
		p := zooProblem(b, name, []int{8, 4}, Latency)
		b.Run(name+"/2tasks/0.1-1000Mbps", func(b *testing.B) {
			var segs []Segment
			for b.Loop() {
				var err error
				if segs, err = Sweep(p, 0.1, 1000); err != nil {
					b.Fatal(err)
				}
			}
			if len(segs) == 0 {
				b.Fatal("no segments")
			}
		})
	}
}
