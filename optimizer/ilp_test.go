package optimizer

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// TestILPBlockMatchesExhaustive: at block level the ILP's space is the
// exhaustive method's, so both must find the same optimum on every zoo
// model, objective and constraint set.
func TestILPBlockMatchesExhaustive(t *testing.T) {
	needCBC(t)
	constraints := []struct {
		name string
		set  func(p *Problem)
	}{
		{"none", func(p *Problem) {}},
		{"deadline", func(p *Problem) { p.Constraints.DeadlineMS = 150 }},
		{"bytes", func(p *Problem) { p.Constraints.MaxBytes = 60000 }},
		{"memory", func(p *Problem) { p.Constraints.MaxEdgeMemoryBytes = 40e6 }},
	}
	for _, name := range model.Zoo() {
		for _, obj := range Objectives {
			for _, cs := range constraints {
				for _, uplink := range []float64{0.5, 5.85, 60} {
					t.Run(fmt.Sprintf("%s/%s/%s/%gMbps", name, obj, cs.name, uplink), func(t *testing.T) {
						p := zooProblem(t, name, []int{8, 4, 2}, obj)
						p.Links[0].UplinkMbps = uplink
						if obj == Weighted {
							p.TaskWeights = []float64{1, 2, 0.5}
						}
						cs.set(p)
						want, errE := Exhaustive{}.Optimize(p)
						got, errI := ILP{Granularity: BlockLevel}.Optimize(p)
						if (errE == nil) != (errI == nil) {
							t.Fatalf("exhaustive error %v, ilp error %v", errE, errI)
						}
						if errE != nil {
							return
						}
						if !near(got.Best.Cost.Objective, want.Best.Cost.Objective) {
							t.Errorf("ilp %s = %.9g, exhaustive %s = %.9g", got.Best.Label, got.Best.Cost.Objective, want.Best.Label, want.Best.Cost.Objective)
						}
						if !near(got.Objective, got.Best.Cost.Objective) && obj != Weighted {
							t.Errorf("ilp objective %.9g, its placement costs %.9g", got.Objective, got.Best.Cost.Objective)
						}
						if !got.Proven || got.Best.Label.Block < 0 {
							t.Errorf("proven %v, cut %d", got.Proven, got.Best.Label.Block)
						}
					})
				}
			}
		}
	}
}

// TestILPLayerNeverWorse: allowing every layer cut can only help.
func TestILPLayerNeverWorse(t *testing.T) {
	needCBC(t)
	for _, name := range model.Zoo() {
		for _, obj := range Objectives {
			t.Run(name+"/"+string(obj), func(t *testing.T) {
				p := zooProblem(t, name, []int{8, 4}, obj)
				p.Links[0].UplinkMbps = 3
				block, err := Exhaustive{}.Optimize(p)
				if err != nil {
					t.Fatal(err)
				}
				layer, err := ILP{Granularity: LayerLevel}.Optimize(p)
				if err != nil {
					t.Fatal(err)
				}
				if layer.Best.Cost.Objective > block.Best.Cost.Objective*(1+1e-9) {
					t.Errorf("layer %s = %g worse than block %s = %g", layer.Best.Label, layer.Best.Cost.Objective, block.Best.Label, block.Best.Cost.Objective)
				}
				if obj != Weighted && !near(layer.Objective, layer.Best.Cost.Objective) {
					t.Errorf("ilp objective %.9g, its placement costs %.9g", layer.Objective, layer.Best.Cost.Objective)
				}
			})
		}
	}
}

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

// TestILPInfeasibleNamesGroup: the ILP says which constraint group cannot
// be met, found by dropping each in turn.
func TestILPInfeasibleNamesGroup(t *testing.T) {
	needCBC(t)
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	p.Constraints.DeadlineMS = 1
	_, err := ILP{Granularity: LayerLevel}.Optimize(p)
	ie, ok := err.(*InfeasibleError)
	if !ok || ie.Constraint != ConstraintDeadline {
		t.Fatalf("error %v", err)
	}
}

func BenchmarkILP(b *testing.B) {
	needCBC(b)
	for _, name := range model.Zoo() {
		p := zooProblem(b, name, []int{8, 4, 2}, Latency)
		p.Links[0].UplinkMbps = 3
		for _, way := range []struct {
			name string
			cbc  milp.CBC
		}{{"worker", milp.CBC{}}, {"in-process", milp.CBC{InProcess: true}}} {
			b.Run(fmt.Sprintf("%s/layer/3tasks/4enc/%s", name, way.name), func(b *testing.B) {
				var out Outcome
				for b.Loop() {
					var err error
					if out, err = (ILP{Granularity: LayerLevel, Solver: way.cbc}).Optimize(p); err != nil {
						b.Fatal(err)
					}
				}
				if !out.Proven {
					b.Fatal("not proven optimal")
				}
			})
		}
	}
}

// TestExportedLPSolvedByGLPK: the exported LP, solved by an independent
// solver (GLPK's glpsol), gives the optimum the plan reports.
func TestExportedLPSolvedByGLPK(t *testing.T) {
	needCBC(t)
	glpsol, err := exec.LookPath("glpsol")
	if err != nil {
		t.Skip("glpsol not installed (Debian glpk-utils)")
	}
	for _, tc := range []struct {
		model string
		gr    Granularity
		obj   Objective
	}{
		{"resnet18", LayerLevel, Latency},
		{"mobilenet_v3_small", BlockLevel, Energy},
		{"vgg16", LayerLevel, Weighted},
	} {
		t.Run(tc.model+"/"+string(tc.gr)+"/"+string(tc.obj), func(t *testing.T) {
			p := zooProblem(t, tc.model, []int{8, 4}, tc.obj)
			p.Links[0].UplinkMbps = 3
			p.Constraints.MaxBytes = 200000
			m := ILP{Granularity: tc.gr}
			out, err := m.Optimize(p)
			if err != nil {
				t.Fatal(err)
			}
			model, err := m.Model(p)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			lp := filepath.Join(dir, "model.lp")
			var buf bytes.Buffer
			if err := model.WriteLP(&buf); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(lp, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(dir, "out.txt")
			if msg, err := exec.Command(glpsol, "--lp", lp, "-o", report).CombinedOutput(); err != nil {
				t.Fatalf("glpsol: %v\n%s", err, msg)
			}
			text, _ := os.ReadFile(report)
			match := regexp.MustCompile(`Objective:\s+\S+\s+=\s+(\S+)`).FindSubmatch(text)
			if match == nil {
				t.Fatalf("no objective in glpsol's report:\n%s", text)
			}
			got, _ := strconv.ParseFloat(string(match[1]), 64)
			if math.Abs(got-out.Objective) > 1e-6*max(1, math.Abs(out.Objective)) {
				t.Errorf("glpsol optimum %.9g, CBC %.9g", got, out.Objective)
			}
		})
	}
}

// TestILPSweepMatchesPointSolves: the layer-level switch table, grown by
// re-solving at breakpoints, agrees with independent ILP solves on a grid.
func TestILPSweepMatchesPointSolves(t *testing.T) {
	needCBC(t)
	for _, obj := range []Objective{Energy, Latency} {
		t.Run(string(obj), func(t *testing.T) {
			p := zooProblem(t, "mobilenet_v3_small", []int{8, 4}, obj)
			p.Tiers[0].Latency, p.Tiers[1].Latency = p.Tiers[0].Latency.Scaled(20), p.Tiers[1].Latency.Scaled(1)
			segs, info, err := SweepWith(p, 0.1, 1000, ILP{Granularity: LayerLevel})
			if err != nil {
				t.Fatal(err)
			}
			checkCover(t, segs, 0.1, 1000)
			if len(segs) < 2 || info.Solves < len(segs) || len(info.Notes) > 0 {
				t.Fatalf("%d segments from %d solves, notes %q", len(segs), info.Solves, info.Notes)
			}
			for i := 0; i <= 24; i++ {
				u := 0.1 * math.Pow(1e4, float64(i)/24)
				q := *p
				q.Links = slices.Clone(p.Links)
				q.Links[0].UplinkMbps = u
				out, err := ILP{Granularity: LayerLevel}.Optimize(&q)
				if err != nil {
					t.Fatal(err)
				}
				if got := segmentAt(segs, u).ObjectiveAt(u); !near(got, out.Best.Cost.Objective) {
					t.Errorf("%g Mbps: switch table %g, ILP %g (%s)", u, got, out.Best.Cost.Objective, out.Best.Label)
				}
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

// TestCompressedEncodings: a lossless stage counts only with measured
// sizes; given them, both methods agree and pick it where it pays.
func TestCompressedEncodings(t *testing.T) {
	needCBC(t)
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	p.Encodings = []codec.Encoding{codec.Int8, "int8+zstd"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "measured cut sizes") {
		t.Fatalf("no measured sizes: %v", err)
	}
	// layer3's output compresses to a tenth (ReLU zeros), nothing else is
	// measured.
	g := p.Graph
	cuts := make([]map[codec.Encoding]int64, len(g.Blocks)+1)
	cuts[7] = map[codec.Encoding]int64{"int8+zstd": codec.Int8.Bytes(g.Blocks[6].OutShape.Elems()) / 10}
	p.Tiers[0].Latency = p.Tiers[0].Latency.Scaled(20) // a slow device
	p.Tiers[0].Latency.CutBytes = cuts
	p.Links[0].UplinkMbps = 1
	ex, err := Exhaustive{}.Optimize(p)
	if err != nil {
		t.Fatal(err)
	}
	ilp, err := ILP{Granularity: BlockLevel}.Optimize(p)
	if err != nil {
		t.Fatal(err)
	}
	if !near(ex.Best.Cost.Objective, ilp.Best.Cost.Objective) {
		t.Errorf("exhaustive %s %g, ilp %s %g", ex.Best.Label, ex.Best.Cost.Objective, ilp.Best.Label, ilp.Best.Cost.Objective)
	}
	if ex.Best.Label.String() != "layer3/int8+zstd/SS" || ex.Best.Cost.Bytes != cuts[7]["int8+zstd"] {
		t.Errorf("at 1 Mbps the compressed layer3 should win: %s, %d bytes", ex.Best.Label, ex.Best.Cost.Bytes)
	}
}

// TestCompressedOnlyLayerLevel: with only a lossless-stage encoding, most
// layer outputs have no measured size and cannot cross (no "row without
// terms"); the layer-level ILP then equals the block-level optimum, found
// at the one measured cut.
func TestCompressedOnlyLayerLevel(t *testing.T) {
	needCBC(t)
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	p.Encodings = []codec.Encoding{"int8+zstd"}
	g := p.Graph
	cuts := make([]map[codec.Encoding]int64, len(g.Blocks)+1)
	cuts[7] = map[codec.Encoding]int64{"int8+zstd": codec.Int8.Bytes(g.Blocks[6].OutShape.Elems()) / 10}
	p.Tiers[0].Latency = p.Tiers[0].Latency.Scaled(20)
	p.Tiers[0].Latency.CutBytes = cuts
	p.Links[0].UplinkMbps = 1
	ex, err := Exhaustive{}.Optimize(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Solve(p, nil, ILP{Granularity: LayerLevel})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Optimal || !near(r.Best.Cost.Objective, ex.Best.Cost.Objective) {
		t.Errorf("layer ilp %s %s %g, exhaustive %s %g", r.Status, r.Best.Label, r.Best.Cost.Objective, ex.Best.Label, ex.Best.Cost.Objective)
	}
	if r.Best.Cost.Bytes != cuts[7]["int8+zstd"] {
		t.Errorf("sends %d bytes, want the compressed layer3 output (%d)", r.Best.Cost.Bytes, cuts[7]["int8+zstd"])
	}
}

// needCBC skips a test in a build without CBC (CGO_ENABLED=0).
func needCBC(t testing.TB) {
	t.Helper()
	m := &milp.Model{}
	m.AddBinary("x")
	if _, err := (milp.CBC{}).Solve(m, nil); errors.Is(err, milp.ErrUnavailable) {
		t.Skip("CBC not available in this build")
	}
}
