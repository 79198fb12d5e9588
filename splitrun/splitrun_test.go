package splitrun_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// planFor solves a small problem and then forces the choice under test.
func planFor(t *testing.T, cut, enc string, heads map[string]string) *splitrun.Deployment {
	t.Helper()
	pl, g := solvedPlan(t)
	blockCut(g, pl, cut, enc, heads)
	d, err := splitrun.Prepare(pl)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// solvedPlan is the plan of mobilenet_v3_small at 64 px from an EPYC core
// pair to a 16-core EPYC over ethernet, fp32 and fp16 allowed.
func solvedPlan(t *testing.T) (*plan.Plan, *model.Graph) {
	t.Helper()
	g, err := model.New("mobilenet_v3_small", 64, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	return solve(t, g, nil), g
}

// solve plans g from an EPYC core pair to a 16-core EPYC over ethernet.
func solve(t *testing.T, g *model.Graph, src *plan.Source) *plan.Plan {
	t.Helper()
	cat, _ := hwprofiles.Default()
	dev, _ := cat.Device("epyc-2c")
	srv, _ := cat.Server("epyc-16c")
	net, _ := cat.Network("ethernet")
	p, err := optimizer.NewProblem(g, dev, srv, net)
	if err != nil {
		t.Fatal(err)
	}
	r, err := optimizer.Solve(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.Plan(r, optimizer.PlanInfo{Granularity: optimizer.BlockLevel, Source: src})
}

// TestEverySwitchRowRuns: every feasible row of a switch table is a
// placement the runtime runs as it is, over the socket, with every task's
// logits those of the whole network (bit for bit when nothing lossy
// crosses).
func TestEverySwitchRowRuns(t *testing.T) {
	pl, _ := solvedPlan(t)
	const seed = 11
	in := make([]float32, 3*64*64)
	for i := range in {
		in[i] = float32(i*7%256) / 256 // exact in the raw image's 8-bit codes
	}
	ran := 0
	for i, row := range pl.SwitchTable {
		if !row.Feasible {
			continue
		}
		t.Run(fmt.Sprintf("row%d/%s/%s", i, row.Cut, row.Encoding), func(t *testing.T) {
			d, err := splitrun.PrepareRow(pl, i)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pl.RowPlacement(row)
			if err != nil || !d.Placement.Equal(want) {
				t.Fatalf("prepared %+v, the row places %+v (%v)", d.Placement, want, err)
			}
			got, whole := splitAndWhole(t, d, seed, in)
			lossless := true
			for _, c := range row.CutTensors {
				lossless = lossless && (c.Encoding == "fp32" || c.Encoding == "uint8")
			}
			for task := range whole {
				worst := 0.0
				for j := range whole[task] {
					worst = max(worst, math.Abs(float64(got.Logits[task][j]-whole[task][j])))
				}
				if (lossless && worst != 0) || worst > 0.5 {
					t.Errorf("task %d: max abs difference %g", task, worst)
				}
			}
		})
		ran++
	}
	if ran < 2 {
		t.Errorf("the switch table has %d feasible rows; the test wants a switch", ran)
	}
	if _, err := splitrun.PrepareRow(pl, len(pl.SwitchTable)); err == nil {
		t.Error("a row past the table prepared")
	}
}

// blockCut places the plan's choice as a block cut: the blocks up to cut
// on the device, the heads where heads says, the cut tensor in enc.
func blockCut(g *model.Graph, pl *plan.Plan, cut, enc string, heads map[string]string) {
	k, out := 0, 0 // blocks on the device, the node sent
	for i, b := range g.Blocks {
		if b.Name == cut {
			k, out = i+1, b.Output
		}
	}
	c := &pl.Choice
	c.Cut, c.Encoding, c.Heads = cut, enc, heads
	c.NodeTiers = make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		switch {
		case n.Task >= 0:
			if heads[g.Heads[n.Task].Task] == "server" {
				c.NodeTiers[n.ID] = 1
			}
		case n.Block >= k:
			c.NodeTiers[n.ID] = 1
		}
	}
	pl.CutTensors = nil
	if enc != "none" {
		pl.CutTensors = []plan.CutTensor{{Name: cut, Node: out, Hop: 1, Encoding: enc}}
	}
}

// TestSplitOverSocketEqualsWhole runs deployments over a real loopback
// socket and compares every task's logits with running the whole network
// in one process: exactly equal in fp32, within the quantization's reach
// in int8.
func TestSplitOverSocketEqualsWhole(t *testing.T) {
	const idleGap = 15 * time.Millisecond
	tests := []struct {
		name, cut, enc string
		heads          map[string]string
		exact          bool
	}{
		{"fp32 mid cut", "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"}, true},
		{"int8 mid cut", "features.8", "int8", map[string]string{"task1": "server", "task2": "server"}, false},
		{"heads split", "features.12", "fp16", map[string]string{"task1": "edge", "task2": "server"}, false},
		{"remote-only", "input", "uint8", map[string]string{"task1": "server", "task2": "server"}, false},
		{"local-only", "features.12", "none", map[string]string{"task1": "edge", "task2": "edge"}, true},
	}
	const seed = 5
	in := make([]float32, 3*64*64)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range in {
		in[i] = float32(rng.NormFloat64())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := planFor(t, tc.cut, tc.enc, tc.heads)
			_, want, err := compiled(t, d, seed).RunAll(in)
			if err != nil {
				t.Fatal(err)
			}
			edgeProg := compiled(t, d, seed)
			e := dial(t, d, edgeProg, serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed}), seed)
			for k := range 3 {
				if k > 0 {
					// Both sides idle at least this long before the next
					// input's compute, which the timing reports.
					time.Sleep(idleGap)
				}
				got, err := e.Infer(in)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case k == 0 && got.EdgeIdleMS != -1:
					t.Errorf("first input: edge idle %g ms, want -1 (unknown)", got.EdgeIdleMS)
				case k > 0 && got.EdgeIdleMS < idleGap.Seconds()*1e3:
					t.Errorf("input %d: edge idle %g ms, want ≥ %v", k, got.EdgeIdleMS, idleGap)
				case k > 0 && d.Sends() && got.ServerIdleMS < idleGap.Seconds()*1e3:
					t.Errorf("input %d: server idle %g ms, want ≥ %v", k, got.ServerIdleMS, idleGap)
				case !d.Sends() && got.ServerIdleMS != -1:
					t.Errorf("input %d sends nothing: server idle %g ms, want -1", k, got.ServerIdleMS)
				}
				for task := range want {
					worst := 0.0
					for i := range want[task] {
						worst = max(worst, math.Abs(float64(got.Logits[task][i]-want[task][i])))
					}
					if (tc.exact && worst != 0) || worst > 0.5 {
						t.Errorf("task %d: max abs difference %g", task, worst)
					}
				}
				if !(got.TotalMS > 0) || (d.Sends() && (got.Bytes == 0 || !(got.ServerMS > 0))) {
					t.Errorf("timing %+v", got)
				}
			}
			// A server running another seed refuses the edge.
			other := serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed + 1})
			e2 := &splitrun.Edge{D: d, Prog: edgeProg}
			if err := e2.Dial(other, seed); d.Sends() && err == nil {
				t.Error("a server with other weights accepted the edge")
			}
		})
	}
}

// TestLayerCutOverSocket runs a cut inside a squeeze-excitation block
// (several tensors cross) over the socket against the whole network
// compiled the same way: the logits are equal bit for bit.
func TestLayerCutOverSocket(t *testing.T) {
	d0 := planFor(t, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	pl := *d0.Plan
	g := d0.Graph
	// The edge runs the backbone up to features.4's squeeze-excitation
	// pool: the pooled vector and the feature map it scales both cross.
	cut := -1
	for _, n := range g.Nodes {
		if n.Name == "features.4.block.2.avgpool" {
			cut = n.ID
		}
	}
	edge := map[int]bool{}
	for _, n := range g.Nodes {
		if n.ID <= cut && n.Task < 0 {
			edge[n.ID] = true
		}
	}
	pl.Choice.Heads = map[string]string{"task1": "server", "task2": "server"}
	pl.Choice.NodeTiers, pl.CutTensors = make([]int, len(g.Nodes)), nil
	for id := range g.Nodes {
		if !edge[id] && id > 0 {
			pl.Choice.NodeTiers[id] = 1
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if edge[in] && !edge[n.ID] && !containsNode(pl.CutTensors, in) {
				pl.CutTensors = append(pl.CutTensors, plan.CutTensor{Name: g.Nodes[in].Name, Node: in, Hop: 1, Encoding: "fp32"})
			}
		}
	}
	if len(pl.CutTensors) < 2 {
		t.Fatalf("cut sends %v", pl.CutTensors)
	}
	d, err := splitrun.Prepare(&pl)
	if err != nil {
		t.Fatal(err)
	}
	const seed = 9
	in := make([]float32, 3*64*64)
	for i := range in {
		in[i] = float32(i%13) * 0.05
	}
	got, want := splitAndWhole(t, d, seed, in)
	sameLogits(t, got.Logits, want)
	var bytes int64
	for _, c := range pl.CutTensors {
		bytes += int64(4 * g.Nodes[c.Node].OutShape.Elems())
	}
	if int64(got.Bytes) != bytes {
		t.Errorf("sent %d bytes, the tensors are %d", got.Bytes, bytes)
	}
}

func containsNode(ts []plan.CutTensor, node int) bool {
	for _, t := range ts {
		if t.Node == node {
			return true
		}
	}
	return false
}

// TestThreeTiersOverSockets plans device → edge server → cloud with the
// ILP, runs the three parts as separate programs over two sockets and
// compares every task's logits with the whole network.
func TestThreeTiersOverSockets(t *testing.T) {
	g, err := model.New("resnet18", 64, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := hwprofiles.Default()
	dev, _ := cat.Device("rpi4")
	mid, _ := cat.Server("epyc-16c")
	top, _ := cat.Server("h100")
	wifi, _ := cat.Network("wifi6")
	wan, _ := cat.Network("4g")
	p, err := optimizer.NewProblem(g, dev, mid, wifi)
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := optimizer.NewSide(g, top)
	if err != nil {
		t.Fatal(err)
	}
	// A slow device and a fast WAN push work past the edge server.
	p.Links[0].UplinkMbps = 50
	p.Tiers = append(p.Tiers, cloud)
	p.Links = append(p.Links, optimizer.Network{Name: "wan", UplinkMbps: 900, DownlinkMbps: 900, RTTMS: 0.5, TxPowerW: wan.TxPowerW.Value})
	p.Tiers[1].Latency = p.Tiers[1].Latency.Scaled(50) // the edge server is busy
	p.Encodings = []codec.Encoding{codec.FP32}
	r, err := optimizer.Solve(p, nil, optimizer.ILP{Granularity: optimizer.LayerLevel})
	if err != nil {
		t.Fatal(err)
	}
	pl := p.Plan(r, optimizer.PlanInfo{})
	d, err := splitrun.Prepare(pl)
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for _, k := range d.Placement.NodeTier {
		used[k] = true
	}
	if !used[2] {
		t.Fatalf("the plan leaves the cloud idle: %v", pl.Choice.Heads)
	}
	const seed = 3
	// m/256 for m in 0..255: exact in the 8-bit codes the raw image goes in.
	in := make([]float32, 3*64*64)
	for i := range in {
		in[i] = float32(i*7%256) / 256
	}
	_, want, _ := compiled(t, d, seed).RunAll(in)
	cloudAddr := serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed, Tier: 2})
	edgeServer := serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed, Tier: 1, Next: cloudAddr})
	got, err := dial(t, d, compiled(t, d, seed), edgeServer, seed).Infer(in)
	if err != nil {
		t.Fatal(err)
	}
	sameLogits(t, got.Logits, want)
}

// splitAndWhole runs one input through the deployment over a loopback
// socket and through the whole network in one program.
func splitAndWhole(t *testing.T, d *splitrun.Deployment, seed uint64, in []float32) (splitrun.Timing, [][]float32) {
	t.Helper()
	_, whole, err := compiled(t, d, seed).RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed})
	got, err := dial(t, d, compiled(t, d, seed), addr, seed).Infer(in)
	if err != nil {
		t.Fatal(err)
	}
	return got, whole
}

// compiled compiles the deployment's program, closed when the test ends.
func compiled(t *testing.T, d *splitrun.Deployment, seed uint64) *engine.Program {
	t.Helper()
	p, err := d.Compile(seed, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// serve runs srv on a loopback port until the test ends and returns its
// address.
func serve(t *testing.T, srv *splitrun.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// dial connects an edge running prog to addr, closed when the test ends.
func dial(t *testing.T, d *splitrun.Deployment, prog *engine.Program, addr string, seed uint64) *splitrun.Edge {
	t.Helper()
	e := &splitrun.Edge{D: d, Prog: prog}
	if err := e.Dial(addr, seed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// sameLogits fails unless every task's logits equal the whole run's.
func sameLogits(t *testing.T, got, want [][]float32) {
	t.Helper()
	for task := range want {
		for i := range want[task] {
			if got[task][i] != want[task][i] {
				t.Fatalf("task %d logit %d: %g, whole %g", task, i, got[task][i], want[task][i])
			}
		}
	}
}

// TestEdgeWarmsWhileWaiting: while the reply crosses a slow link the edge
// warms its weights for the next input (EdgeWarmMS), and its logits stay
// the whole run's bit for bit, as with NoWarm, which never warms.
func TestEdgeWarmsWhileWaiting(t *testing.T) {
	const seed = 5
	d := planFor(t, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	in := make([]float32, d.Graph.Input.Elems())
	for i := range in {
		in[i] = float32(i%23) / 23
	}
	_, want, err := compiled(t, d, seed).RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed})
	for _, noWarm := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoWarm=%v", noWarm), func(t *testing.T) {
			e := dial(t, d, compiled(t, d, seed), addr, seed)
			e.Link = &splitrun.Link{UplinkMbps: 10, DownlinkMbps: 10, RTTMS: 20}
			e.NoWarm = noWarm
			for k := range 2 {
				got, err := e.Infer(in)
				if err != nil {
					t.Fatal(err)
				}
				sameLogits(t, got.Logits, want)
				if noWarm != (got.EdgeWarmMS == 0) {
					t.Errorf("input %d: edge warmed %g ms with NoWarm %v", k, got.EdgeWarmMS, noWarm)
				}
			}
		})
	}
}
