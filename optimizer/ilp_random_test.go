package optimizer

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// randomDAG builds a small random network: 1×1 convs, activations and
// residual adds over earlier nodes, each node its own block, then heads.
func randomDAG(t *testing.T, rng *rand.Rand, nodes, tasks int) *model.Graph {
	b := model.NewBuilder(fmt.Sprintf("dag%d", nodes), 2, 2)
	ids := []int{b.Input()}
	for i := 0; i < nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		b.Block(name, "Node")
		pick := ids[rng.Intn(len(ids))]
		var id int
		switch k := rng.Intn(3); {
		case k == 0 || i == 0:
			id = b.Conv2d(name, pick, model.Conv{OutChannels: 2 + rng.Intn(3)*0, Kernel: 1, Stride: 1})
		case k == 1:
			id = b.Activation(name, model.OpReLU, ids[len(ids)-1])
		default:
			// A residual add of the last node and an earlier one of the same shape.
			last := ids[len(ids)-1]
			other := ids[1+rng.Intn(len(ids)-1)]
			id = b.Add(name, last, other)
		}
		ids = append(ids, id)
	}
	// Every node feeds the heads, as in a real network: fold whatever
	// nothing reads into the output with residual adds.
	used := map[int]bool{}
	for _, n := range b.Nodes() {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	out := ids[len(ids)-1]
	for _, id := range ids[1 : len(ids)-1] {
		if !used[id] {
			name := fmt.Sprintf("fold%d", id)
			b.Block(name, "Node")
			out = b.Add(name, out, id)
		}
	}
	for i := 0; i < tasks; i++ {
		model.AddHead(b, fmt.Sprintf("task%d", i+1), 2+i)
	}
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// randomProblem gives every node random latencies on both sides.
func randomProblem(t *testing.T, rng *rand.Rand, g *model.Graph, obj Objective) *Problem {
	lat := func(scale float64) *profile.Latency {
		l := &profile.Latency{NodeMS: make([]float64, len(g.Nodes)), BlockMS: make([]float64, len(g.Blocks)), HeadMS: make([]float64, len(g.Heads))}
		for _, n := range g.Nodes[1:] {
			ms := scale * (0.1 + rng.Float64())
			l.NodeMS[n.ID] = ms
			if n.Task >= 0 {
				l.HeadMS[n.Task] += ms
			} else {
				l.BlockMS[n.Block] += ms
			}
		}
		return l
	}
	cm := costModel("rand", 1, 0.01, 0.05, 4)
	return &Problem{
		Graph:     g,
		Tiers:     []Side{{Name: "edge", Latency: lat(2), Cost: cm, ActivePowerW: 2}, {Name: "server", Latency: lat(1), Cost: cm, ActivePowerW: 100}},
		Links:     []Network{{Name: "net", UplinkMbps: 0.01 + rng.Float64()*0.2, DownlinkMbps: 1, RTTMS: rng.Float64() * 3, TxPowerW: 1 + rng.Float64()}},
		Encodings: []codec.Encoding{codec.FP32, codec.Int8},
		Objective: obj,
	}
}

// bruteForce enumerates every valid layer placement (each unit on a tier
// no lower than its inputs', every crossing tensor in every allowed encoding
// on every hop) and returns the best objective meeting the constraints,
// +Inf if none.
func bruteForce(p *Problem) (float64, string) {
	u := p.units(LayerLevel)
	x := 1 / p.Links[0].UplinkMbps
	n, nk := len(u.name), p.numTiers()
	pl := newPlacement(n, nk)
	best, label := math.Inf(1), ""
	var encode func(i, h int)
	encode = func(i, h int) {
		switch {
		case i == n:
			cd := p.candidateOf(u, pl, 0)
			if p.violation(&cd) != "" || p.deadlineX(&cd) < x {
				return
			}
			if v := p.cost(&cd, x).Objective; v < best {
				best, label = v, cd.label.String()
			}
			return
		case h == nk:
			encode(i+1, 1)
			return
		case !u.crosses(pl, i, h):
			pl.Encoding[i][h-1] = ""
			encode(i, h+1)
			return
		}
		encs := p.Encodings
		if i == 0 {
			encs = []codec.Encoding{codec.Raw}
		}
		for _, e := range encs {
			pl.Encoding[i][h-1] = e
			encode(i, h+1)
		}
		pl.Encoding[i][h-1] = ""
	}
	inputs := make([][]int, n)
	for i, cs := range u.consumers {
		for _, c := range cs {
			inputs[c] = append(inputs[c], i)
		}
	}
	// Units are in topological order: each goes on a tier no lower than
	// its inputs'; the input stays on the device.
	var place func(i int)
	place = func(i int) {
		if i == n {
			encode(0, 1)
			return
		}
		lo := 0
		for _, in := range inputs[i] {
			lo = max(lo, pl.Tier[in])
		}
		hi := nk - 1
		if i == 0 {
			hi = 0
		}
		for k := lo; k <= hi; k++ {
			pl.Tier[i] = k
			place(i + 1)
		}
		pl.Tier[i] = 0
	}
	place(0)
	return best, label
}

// TestILPEqualsBruteForceOnRandomDAGs is the property test of the
// formulation: on random DAGs with 2–3 tasks, under every objective and
// with random deadlines and byte limits, the ILP optimum equals the best of
// all valid placements.
func TestILPEqualsBruteForceOnRandomDAGs(t *testing.T) {
	needCBC(t)
	if testing.Short() {
		t.Skip("property test")
	}
	rng := rand.New(rand.NewSource(1))
	for seed := 0; seed < 120; seed++ {
		nodes := 3 + rng.Intn(5)
		tasks := 2 + rng.Intn(2)
		obj := Objectives[seed%len(Objectives)]
		g := randomDAG(t, rng, nodes, tasks)
		p := randomProblem(t, rng, g, obj)
		if obj == Weighted {
			p.TaskWeights = []float64{1, 2, 3}[:tasks]
		}
		if seed%4 == 1 {
			p.Constraints.MaxBytes = int64(8 + rng.Intn(40))
		}
		if seed%4 == 2 {
			p.Constraints.DeadlineMS = 10 + rng.Float64()*20
		}
		t.Run(fmt.Sprintf("seed%d/%dnodes/%dtasks/%s", seed, nodes, tasks, obj), func(t *testing.T) {
			want, label := bruteForce(p)
			got, err := ILP{Granularity: LayerLevel}.Optimize(p)
			if math.IsInf(want, 1) {
				if _, ok := err.(*InfeasibleError); !ok {
					t.Fatalf("brute force finds nothing feasible; ilp: %v %v", got.Best.Label, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ilp: %v (brute force %s = %g)", err, label, want)
			}
			if !near(got.Best.Cost.Objective, want) {
				t.Errorf("ilp %s = %.9g, brute force %s = %.9g", got.Best.Label, got.Best.Cost.Objective, label, want)
			}
			if !near(got.Objective, want) {
				t.Errorf("ilp objective value %.9g, brute force %.9g", got.Objective, want)
			}
		})
	}
}

// TestILPThreeTiersEqualsBruteForce: device → edge server → cloud, one
// network per hop, on random DAGs: the ILP equals the best of every valid
// three-tier placement.
func TestILPThreeTiersEqualsBruteForce(t *testing.T) {
	needCBC(t)
	if testing.Short() {
		t.Skip("property test")
	}
	rng := rand.New(rand.NewSource(3))
	for seed := 0; seed < 30; seed++ {
		nodes := 2 + rng.Intn(3)
		obj := Objectives[seed%len(Objectives)]
		g := randomDAG(t, rng, nodes, 2)
		p := randomProblem(t, rng, g, obj)
		cloud := randomProblem(t, rng, g, obj).Tiers[1]
		p.Tiers = append(p.Tiers, cloud)
		p.Links = append(p.Links, Network{Name: "wan", UplinkMbps: 0.05 + rng.Float64(), DownlinkMbps: 1, RTTMS: rng.Float64() * 5})
		for k, name := range []string{"device", "edge-server", "cloud"} {
			p.Tiers[k].Tier = name
		}
		if obj == Weighted {
			p.TaskWeights = []float64{1, 3}
		}
		if seed%3 == 1 {
			p.Constraints.MaxBytes = int64(8 + rng.Intn(40))
		}
		t.Run(fmt.Sprintf("seed%d/%dnodes/%s", seed, nodes, obj), func(t *testing.T) {
			want, label := bruteForce(p)
			got, err := ILP{Granularity: LayerLevel}.Optimize(p)
			if math.IsInf(want, 1) {
				if _, ok := err.(*InfeasibleError); !ok {
					t.Fatalf("brute force finds nothing feasible; ilp: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ilp: %v (brute force %s = %g)", err, label, want)
			}
			if !near(got.Best.Cost.Objective, want) || !near(got.Objective, want) {
				t.Errorf("ilp %s = %.9g (milp %.9g), brute force %s = %.9g", got.Best.Label, got.Best.Cost.Objective, got.Objective, label, want)
			}
		})
	}
}
