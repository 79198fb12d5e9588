package optimizer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// chainGraph is n ReLUs in a row on a [3 8 8] input, one block each — how
// the ONNX importer cuts such a file — or with residual, n blocks
// x → relu → add(x, relu(x)), whose only single-tensor cut is the add.
func chainGraph(tb testing.TB, n int, residual bool, tasks []int) *model.Graph {
	tb.Helper()
	b := model.NewBuilder("chain", 3, 8)
	x := b.Input()
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		if !residual {
			b.Block(name, "ReLU")
			x = b.Activation(name, model.OpReLU, x)
			continue
		}
		b.Block(name, "Subgraph")
		x = b.Add(name+".add", x, b.Activation(name, model.OpReLU, x))
	}
	for i, k := range tasks {
		model.AddHead(b, fmt.Sprintf("task%d", i+1), k)
	}
	g, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkPlanChain is a block-level plan (exhaustive search, baselines,
// Pareto set, switch table) of long chains: its cost should grow linearly
// with the number of blocks.
func BenchmarkPlanChain(b *testing.B) {
	// chain-local swaps the sides: the device is fast, the optimum is to
	// run everything there, and every cut is dominated by later ones (a
	// quadratic Pareto filter showed here). chain-deadline gives every
	// candidate its own deadline limit, each a breakpoint of the sweep.
	for _, shape := range []string{"chain", "residual", "chain-local", "chain-deadline"} {
		for _, n := range []int{1000, 10000, 100000} {
			p := graphProblem(b, chainGraph(b, n, shape == "residual", []int{8, 4}), Latency)
			switch shape {
			case "chain-local":
				p.Tiers[0], p.Tiers[1] = p.Tiers[1], p.Tiers[0]
			case "chain-deadline":
				p.Constraints.DeadlineMS = 0.9 * p.BaselinesAt(5).LocalOnly.Cost.TotalMS
			}
			b.Run(fmt.Sprintf("%s/%dk", shape, n/1000), func(b *testing.B) {
				var r *Result
				for b.Loop() {
					var err error
					if r, err = Solve(p, nil, Exhaustive{}); err != nil {
						b.Fatal(err)
					}
				}
				// The raw image, 4 encodings at each inner cut, and at the
				// backbone's end 3 head placements × 4 encodings + local-only.
				if nb := len(p.Graph.Blocks); r.Status != Optimal || r.Candidates != 1+4*(nb-1)+3*4+1 {
					b.Fatalf("%s, %d candidates", r.Status, r.Candidates)
				}
			})
		}
	}
}

// TestBlockSpaceMatchesPlacement checks the block space's O(tasks)
// candidates against costing each choice's full placement (newCandidate),
// field by field: on every zoo model, with one to three tasks, with an
// accuracy table and without, with a tier behind the server, and on a
// graph whose block boundaries are not all single-tensor cuts (there the
// memory falls back to a pass over the graph).
func TestBlockSpaceMatchesPlacement(t *testing.T) {
	acc, err := profile.ParseAccuracy([]byte(`version: 1
entries:
  - {task: task1, cut: layer2, encoding: fp32, accuracy: 0.9}
  - {task: task1, cut: layer2, encoding: int8, accuracy: 0.85}
  - {task: task1, cut: features.4, encoding: int4, accuracy: 0.7}
  - {task: task2, cut: features.4, encoding: int8, accuracy: 0.8}
  - {task: task2, cut: input, encoding: uint8, accuracy: 0.95}
`))
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name string
		p    *Problem
	}
	var cases []tc
	for _, name := range model.Zoo() {
		for _, tasks := range [][]int{{8}, {8, 4}, {8, 4, 2}} {
			p := zooProblem(t, name, tasks, Latency)
			cases = append(cases, tc{fmt.Sprintf("%s/%dtasks", name, len(tasks)), p})
		}
		p := zooProblem(t, name, []int{8, 4}, Energy)
		p.Accuracy = acc
		cases = append(cases, tc{name + "/accuracy", p})
		p = zooProblem(t, name, []int{8, 4}, Latency)
		p.Tiers = append(p.Tiers, p.Tiers[1])
		p.Links = append(p.Links, Network{Name: "fiber", UplinkMbps: 1000, DownlinkMbps: 1000, RTTMS: 5})
		cases = append(cases, tc{name + "/3tiers", p})
	}
	// Two blocks per residual unit: the boundary between the relus and the
	// add leaves two tensors live, and running the first block alone frees
	// x before its second relu, which the whole backbone cannot.
	b := model.NewBuilder("split-residual", 3, 8)
	x := b.Input()
	for i := range 20 {
		b.Block(fmt.Sprintf("r%d", i), "Sequential")
		r := b.Activation(fmt.Sprintf("r%d.0", i), model.OpReLU, x)
		r = b.Activation(fmt.Sprintf("r%d.1", i), model.OpReLU, r)
		b.Block(fmt.Sprintf("a%d", i), "Add")
		x = b.Add(fmt.Sprintf("a%d", i), x, r)
	}
	model.AddHead(b, "task1", 8)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"split residual", graphProblem(t, g, Latency)})
	cases = append(cases, tc{"residual chain", graphProblem(t, chainGraph(t, 30, true, []int{8, 4}), Weighted)})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.p.newBlockSpace()
			if c.name == "split residual" && s.memory[1] != -1 {
				t.Errorf("boundary r0|a0 counted as a single-tensor cut")
			}
			for i, ch := range c.p.choices() {
				got, want := s.candidate(ch, i), c.p.newCandidate(s.u, ch, i)
				if err := sameCandidate(c.p, &got, &want); err != "" {
					t.Fatalf("%+v: %s", ch, err)
				}
			}
		})
	}
}

// sameCandidate says how two candidates differ ("" when they agree up to
// rounding).
func sameCandidate(p *Problem, a, b *candidate) string {
	if !a.placement(p).Equal(b.placement(p)) || a.label.String() != b.label.String() {
		return fmt.Sprintf("placement %s %v, want %s %v", a.label, a.pl.Sends, b.label, b.pl.Sends)
	}
	if a.bytes != b.bytes || a.memory != b.memory {
		return fmt.Sprintf("%d bytes, memory %d; want %d, %d", a.bytes, a.memory, b.bytes, b.memory)
	}
	nums := [][2]float64{{a.edgeMS, b.edgeMS}, {a.serverMS, b.serverMS}, {a.fixedNetMS, b.fixedNetMS}, {a.txPerX, b.txPerX},
		{a.energy.a, b.energy.a}, {a.energy.b, b.energy.b}}
	for i := range a.tasks {
		nums = append(nums, [2]float64{a.tasks[i].a, b.tasks[i].a}, [2]float64{a.tasks[i].b, b.tasks[i].b})
	}
	for _, n := range nums {
		if !near(n[0], n[1]) {
			return fmt.Sprintf("%v differs: got %v, want %v", n, a, b)
		}
	}
	for i := range a.accuracy {
		if x, y := a.accuracy[i], b.accuracy[i]; x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			return fmt.Sprintf("task %d accuracy %g, want %g", i+1, x, y)
		}
	}
	return ""
}

// TestLongChainPlan plans a 20000-block chain of 1×1 convolutions whose
// widths vary (a few very narrow layers make a cut worth sending) and checks
// the optimum against brute force over every cut, computed by hand from the
// latency profile: edge prefix + encode + RTT + bytes over the uplink +
// decode + server suffix and head + results back; the edge memory of a cut
// is its weights plus the largest input + output pair before it.
func TestLongChainPlan(t *testing.T) {
	const n, hw, inC = 20000, 8, 64
	rng := rand.New(rand.NewPCG(3, 5))
	width := make([]int, n+1) // width[0] is the input's
	width[0] = inC
	for i := 1; i <= n; i++ {
		width[i] = 8 + rng.IntN(57)
	}
	width[3], width[12], width[15000] = 16, 1, 1
	b := model.NewBuilder("chain", inC, hw)
	x := b.Input()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("c%d", i)
		b.Block(name, "Conv2d")
		x = b.Conv2d(name, x, model.Conv{OutChannels: width[i], Kernel: 1, Stride: 1})
	}
	model.AddHead(b, "task1", 10)
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	type cut struct {
		k       int
		enc     codec.Encoding
		totalMS float64
		memory  int64
	}
	// brute lists every choice with its hand-computed latency and memory.
	brute := func(p *Problem) []cut {
		edge, server := p.Tiers[0].Latency, p.Tiers[1].Latency
		bpe := int64(p.Tiers[0].Cost.BytesPerElem)
		suffix := make([]float64, n+2) // server time of blocks k+1..n, by k
		for k := n - 1; k >= 0; k-- {
			suffix[k] = suffix[k+1] + server.BlockMS[k]
		}
		back := p.Links[0].RTTMS/2 + 4*10*msPerMbps/p.Links[0].DownlinkMbps
		var out []cut
		var prefix float64
		var weights, peak int64
		for k := 0; k <= n; k++ {
			elems := int64(width[k] * hw * hw)
			if k == 0 {
				peak = elems * bpe
			} else {
				prefix += edge.BlockMS[k-1]
				weights += int64(width[k-1]*width[k]) * bpe
				peak = max(peak, (int64(width[k-1]*hw*hw)+elems)*bpe)
			}
			encs := p.Encodings
			if k == 0 {
				encs = []codec.Encoding{codec.Raw}
			}
			for _, e := range encs {
				var encode, decode float64
				if e == codec.Int8 {
					encode, decode = p.Tiers[0].Cost.ElementwiseMS(elems), p.Tiers[1].Cost.ElementwiseMS(elems)
				}
				total := prefix + encode + p.Links[0].RTTMS/2 + float64(e.Bytes(elems))*msPerMbps/p.Links[0].UplinkMbps +
					decode + suffix[k] + server.HeadMS[0] + back
				out = append(out, cut{k, e, total, weights + peak})
			}
		}
		on := make([]bool, len(g.Nodes))
		for i := range on {
			on[i] = true
		}
		return append(out, cut{n, "", prefix + edge.HeadMS[0], profile.MemoryBytes(g, on, int(bpe))})
	}
	for _, tc := range []struct {
		name     string
		memoryAt int // edge memory bound: that of the cut after this block (0: none)
		wantCut  int
	}{
		{"no memory bound", 0, 12},
		{"memory bound below block 12", 5, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := graphProblem(t, g, Latency)
			p.Encodings = []codec.Encoding{codec.FP32, codec.Int8}
			cuts := brute(p)
			if tc.memoryAt > 0 {
				p.Constraints.MaxEdgeMemoryBytes = cuts[1+2*(tc.memoryAt-1)].memory
			}
			best := cut{totalMS: math.Inf(1)}
			for _, c := range cuts {
				if (p.Constraints.MaxEdgeMemoryBytes == 0 || c.memory <= p.Constraints.MaxEdgeMemoryBytes) && c.totalMS < best.totalMS {
					best = c
				}
			}
			r, err := Solve(p, nil, Exhaustive{})
			if err != nil {
				t.Fatal(err)
			}
			got := r.Best
			if got.Label.Block != best.k || got.Label.Encoding != best.enc || !near(got.Cost.TotalMS, best.totalMS) || got.Cost.EdgeMemoryBytes != best.memory {
				t.Errorf("optimum %s: %.6f ms, %d B of memory; brute force: cut %d %s, %.6f ms, %d B",
					got.Label, got.Cost.TotalMS, got.Cost.EdgeMemoryBytes, best.k, best.enc, best.totalMS, best.memory)
			}
			if best.k != tc.wantCut {
				t.Errorf("brute force cuts after block %d, the test meant %d", best.k, tc.wantCut)
			}
			if want := 1 + 2*(n-1) + 2 + 1; r.Candidates != want {
				t.Errorf("%d candidates, want %d", r.Candidates, want)
			}
		})
	}
}

// TestUnbeaten checks the sweep's pruning on long chains with deadlines:
// whatever the exhaustive search picks at any uplink is never pruned, and
// most candidates are.
func TestUnbeaten(t *testing.T) {
	// By hand: for energy, a candidate may cost less yet miss the deadline
	// sooner; it must stay. Equal slopes; d = 100 ms: a meets it up to
	// x = 5, b up to 9, c (above b, later) up to 8.
	p := &Problem{Objective: Energy, Constraints: Constraints{DeadlineMS: 100}}
	a := &candidate{order: 1, energy: line{1, 3}, tasks: []line{{50, 10}}}
	b := &candidate{order: 0, energy: line{2, 3}, tasks: []line{{10, 10}}}
	c := &candidate{order: 2, energy: line{2.5, 3}, tasks: []line{{20, 10}}}
	if got := p.unbeaten([]*candidate{a, b, c}, 10); len(got) != 2 || got[0] != b || got[1] != a {
		t.Errorf("kept %d candidates, want b and a", len(got))
	}
	for _, residual := range []bool{false, true} {
		for _, obj := range Objectives {
			for _, deadlineFrac := range []float64{0, 0.9, 0.5} {
				t.Run(fmt.Sprintf("residual=%v/%s/deadline%g", residual, obj, deadlineFrac), func(t *testing.T) {
					p := graphProblem(t, chainGraph(t, 300, residual, []int{8, 4}), obj)
					p.Constraints.DeadlineMS = deadlineFrac * p.BaselinesAt(5).LocalOnly.Cost.TotalMS
					feasible, _ := p.candidates()
					const from, to = 0.1, 1000.0
					kept := map[*candidate]bool{}
					for _, cd := range p.unbeaten(feasible, 1/from) {
						kept[cd] = true
					}
					if len(kept) > len(feasible)/10 {
						t.Errorf("%d of %d candidates kept", len(kept), len(feasible))
					}
					const n = 2000
					for i := 0; i <= n; i++ {
						u := from * math.Pow(to/from, float64(i)/n)
						if best := p.bestAt(feasible, 1/u); best != nil && !kept[best] {
							t.Fatalf("%g Mbps: the optimum %s was pruned", u, best.label)
						}
					}
				})
			}
		}
	}
}
