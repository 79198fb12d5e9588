package optimizer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/model"
)

// matrixCase is one catalog scenario planned at layer level.
type matrixCase struct {
	model, device, server, network string
	encodings                      []codec.Encoding
	tasks                          []int
}

func (c matrixCase) String() string {
	var encs []string
	for _, e := range c.encodings {
		encs = append(encs, string(e))
	}
	return fmt.Sprintf("%s/%s/%s/%s/%s/%dtasks", c.model, c.device, c.server, c.network, strings.Join(encs, "+"), len(c.tasks))
}

// crashMatrix is every zoo model × three devices × two servers × five
// networks × two encoding sets, two tasks each: 300 plans.
func crashMatrix() []matrixCase {
	var out []matrixCase
	for _, m := range []string{"vgg16", "vgg16_bn", "resnet18", "mobilenet_v3_small", "efficientnet_b0"} {
		for _, d := range []string{"rpi4", "rpi5", "jetson-nano"} {
			for _, s := range []string{"epyc-16c", "h100"} {
				for _, n := range []string{"3g", "wifi", "5g", "wifi6", "ethernet"} {
					for _, e := range [][]codec.Encoding{{codec.FP32}, codec.Encodings} {
						out = append(out, matrixCase{m, d, s, n, e, []int{8, 4}})
					}
				}
			}
		}
	}
	return out
}

// TestILPCrashMatrix plans catalog scenarios at layer level with the
// switch table: no solver failure (before the feasibility pump was turned
// off, CBC aborted the process on resnet18 with fp32 over epyc-16c), every
// plan valid, never worse than the exhaustive block-level optimum. By
// default it runs the scenarios that crashed and a fixed sample of the
// rest (every 50th: one per model) to keep the package's tests short;
// MTLSPLIT_FULL_MATRIX=1 runs all 300.
func TestILPCrashMatrix(t *testing.T) {
	needCBC(t)
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	// The scenarios of the issue: they aborted the process.
	cases := []matrixCase{
		{"resnet18", "rpi4", "epyc-16c", "wifi", []codec.Encoding{codec.FP32}, []int{8}},
		{"resnet18", "rpi5", "epyc-16c", "3g", []codec.Encoding{codec.FP32}, []int{8, 4}},
		{"resnet18", "rpi4", "epyc-16c", "wifi6", []codec.Encoding{codec.FP32}, []int{8, 4}},
	}
	full := os.Getenv("MTLSPLIT_FULL_MATRIX") == "1"
	for i, c := range crashMatrix() {
		if full || i%50 == 7 {
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			g, err := model.New(c.model, 224, c.tasks)
			if err != nil {
				t.Fatal(err)
			}
			edge, err1 := cat.Device(c.device)
			server, err2 := cat.Server(c.server)
			net, err3 := cat.Network(c.network)
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
			p, err := NewProblem(g, edge, server, net)
			if err != nil {
				t.Fatal(err)
			}
			p.Encodings = c.encodings
			r, err := Solve(p, nil, ILP{Granularity: LayerLevel})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != Optimal || len(r.Notes) > 0 {
				t.Errorf("status %s, notes %q", r.Status, r.Notes)
			}
			pl := p.Plan(r, PlanInfo{CreatedAt: "2026-01-01T00:00:00Z", Granularity: LayerLevel})
			if err := pl.Validate(); err != nil {
				t.Errorf("plan: %v", err)
			}
			block, err := Exhaustive{}.Optimize(p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Best.Cost.Objective > block.Best.Cost.Objective*(1+1e-9) {
				t.Errorf("layer %s = %g worse than block %s = %g", r.Best.Label, r.Best.Cost.Objective, block.Best.Label, block.Best.Cost.Objective)
			}
			for _, sg := range r.Switch {
				if sg.FromMbps <= net.UplinkMbps.Value && net.UplinkMbps.Value <= sg.ToMbps && sg.Feasible &&
					!near(sg.ObjectiveAt(net.UplinkMbps.Value), r.Best.Cost.Objective) {
					t.Errorf("switch table at %g Mbps: %g, optimum %g", net.UplinkMbps.Value, sg.ObjectiveAt(net.UplinkMbps.Value), r.Best.Cost.Objective)
				}
			}
		})
	}
}

// TestSolverCrashFallsBack: when the CBC worker aborts on every solve (a
// test hook), the planner retries, then falls back to the exhaustive
// block-level optimum; the result and the plan say so, and the process
// lives on.
func TestSolverCrashFallsBack(t *testing.T) {
	needCBC(t)
	t.Setenv("MTLSPLIT_MILP_TEST_HOOK", "abort")
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	p.Links[0].UplinkMbps = 3
	r, err := Solve(p, nil, ILP{Granularity: LayerLevel})
	if err != nil {
		t.Fatal(err)
	}
	block, err := Exhaustive{}.Optimize(p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Fallback || r.Proven || r.Method != "exhaustive" {
		t.Errorf("status %s, proven %v, method %s; want fallback, false, exhaustive", r.Status, r.Proven, r.Method)
	}
	if !r.Best.Placement.Equal(block.Best.Placement) || !near(r.Best.Cost.Objective, block.Best.Cost.Objective) {
		t.Errorf("fallback %s %g, block-level optimum %s %g", r.Best.Label, r.Best.Cost.Objective, block.Best.Label, block.Best.Cost.Objective)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "CBC worker crashed: signal: aborted") ||
		!strings.Contains(r.Notes[0], "exhaustive block-level optimum") {
		t.Errorf("notes %q", r.Notes)
	}
	pl := p.Plan(r, PlanInfo{CreatedAt: "2026-01-01T00:00:00Z", Granularity: LayerLevel})
	if pl.Solver.Status != "fallback" || pl.Solver.Optimal || pl.Solver.Granularity != "block" || len(pl.Notes) < 1 || pl.Notes[0] != r.Notes[0] {
		t.Errorf("plan solver %+v, notes %q", pl.Solver, pl.Notes)
	}
	if err := pl.Validate(); err != nil {
		t.Errorf("fallback plan: %v", err)
	}
	// A switch table whose solves all fail is the block-level one, and
	// says where it was not checked.
	segs, info, err := SweepWith(p, 0.1, 1000, ILP{Granularity: LayerLevel})
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, segs, 0.1, 1000)
	if len(info.Notes) != 1 || !strings.HasPrefix(info.Notes[0], "switch table: not checked at 0.1, ") ||
		!strings.Contains(info.Notes[0], "signal: aborted") {
		t.Errorf("sweep notes %q", info.Notes)
	}
	// The worker is back for the next solve.
	t.Setenv("MTLSPLIT_MILP_TEST_HOOK", "")
	r, err = Solve(p, nil, ILP{Granularity: LayerLevel})
	if err != nil || r.Status != Optimal {
		t.Fatalf("after the crash: status %v, err %v", r.Status, err)
	}
}

// flaky fails its first n solves with a crash, then solves with CBC.
type flaky struct {
	n     *int
	seen  *[]milp.Settings
	inner milp.Solver
}

func (f flaky) Solve(m *milp.Model, s *milp.Settings) (*milp.Solution, error) {
	*f.seen = append(*f.seen, *s)
	if *f.n > 0 {
		*f.n--
		return &milp.Solution{Status: milp.Error}, fmt.Errorf("cbc: model %s: %w: signal: aborted", m.Name, milp.ErrSolverCrashed)
	}
	return f.inner.Solve(m, s)
}

// TestSolverRetry: one failure is retried without warm start the
// conservative way, and the answer is still the optimum; the note says so.
func TestSolverRetry(t *testing.T) {
	needCBC(t)
	p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
	p.Links[0].UplinkMbps = 3
	want, err := ILP{Granularity: LayerLevel}.Optimize(p)
	if err != nil {
		t.Fatal(err)
	}
	n := 1
	var seen []milp.Settings
	got, err := ILP{Granularity: LayerLevel, Solver: flaky{&n, &seen, milp.CBC{}}}.Optimize(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Optimal || !near(got.Best.Cost.Objective, want.Best.Cost.Objective) {
		t.Errorf("after a retry: %s %g, want optimal %g", got.Status, got.Best.Cost.Objective, want.Best.Cost.Objective)
	}
	if len(seen) != 2 || seen[0].Start == nil || seen[0].Conservative || seen[1].Start != nil || !seen[1].Conservative {
		t.Errorf("settings of the two solves: warm start %v/%v, conservative %v/%v",
			seen[0].Start != nil, seen[1].Start != nil, seen[0].Conservative, seen[1].Conservative)
	}
	if len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "solved again without warm start") {
		t.Errorf("notes %q", got.Notes)
	}
}

// limited solves with CBC and reports what a limit would: a feasible,
// unproven answer (time limit) or an optimal one within a gap.
type limited struct {
	status milp.Status
	gap    float64
}

func (l limited) Solve(m *milp.Model, s *milp.Settings) (*milp.Solution, error) {
	sol, err := milp.CBC{}.Solve(m, s)
	if err == nil && sol.Status == milp.Optimal {
		sol.Status, sol.Proven, sol.Gap = l.status, l.status == milp.Optimal, l.gap
	}
	return sol, err
}

// TestStatusSaysWhatWasProven: a time-limited or gap-limited ILP is not
// reported optimal, in the result or the plan; the notes say why.
func TestStatusSaysWhatWasProven(t *testing.T) {
	needCBC(t)
	for _, tc := range []struct {
		name   string
		m      ILP
		status Status
		note   string
	}{
		{"proven", ILP{Granularity: LayerLevel}, Optimal, ""},
		{"time limit", ILP{Granularity: LayerLevel, Solver: limited{milp.Feasible, 0.05}}, TimeLimit, "time limit stopped the ILP: the choice is the best found, within 5% of the lower bound"},
		{"gap", ILP{Granularity: LayerLevel, Solver: limited{milp.Optimal, 0.02}, Settings: &milp.Settings{RelGap: 0.1}}, WithinGap, "stopped at the requested gap: the choice is within 2% of the lower bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := zooProblem(t, "resnet18", []int{8, 4}, Latency)
			p.Links[0].UplinkMbps = 3
			r, err := Solve(p, nil, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			pl := p.Plan(r, PlanInfo{CreatedAt: "2026-01-01T00:00:00Z", Granularity: LayerLevel})
			if r.Status != tc.status || pl.Solver.Status != string(tc.status) || pl.Solver.Optimal != (tc.status == Optimal) {
				t.Errorf("result %s, plan %s optimal %v; want %s", r.Status, pl.Solver.Status, pl.Solver.Optimal, tc.status)
			}
			joined := strings.Join(pl.Notes, "\n")
			if tc.note != "" && !strings.Contains(joined, tc.note) {
				t.Errorf("notes %q, want %q", pl.Notes, tc.note)
			}
			if tc.status == TimeLimit && !strings.Contains(joined, "switch table: the time limit stopped the solves at") {
				t.Errorf("notes %q should say the switch table's solves were limited", pl.Notes)
			}
		})
	}
}

// TestSweepCapSaysSo: a layer-level switch table stopped by the solve cap
// says so in the result's notes, and counts exactly the cap.
func TestSweepCapSaysSo(t *testing.T) {
	needCBC(t)
	p := zooProblem(t, "mobilenet_v3_small", []int{8, 4}, Energy)
	p.Tiers[0].Latency, p.Tiers[1].Latency = p.Tiers[0].Latency.Scaled(20), p.Tiers[1].Latency.Scaled(1)
	for _, tc := range []struct {
		max    int
		capped bool
	}{{3, true}, {0, false}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			segs, info, err := SweepWith(p, 0.1, 1000, ILP{Granularity: LayerLevel, MaxSweepSolves: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			checkCover(t, segs, 0.1, 1000)
			note := strings.Join(info.Notes, "\n")
			if got := strings.Contains(note, "stopped at the cap of 3 MILP solves"); got != tc.capped {
				t.Errorf("notes %q; capped %v", info.Notes, tc.capped)
			}
			if tc.capped && info.Solves != 3 {
				t.Errorf("%d solves, want the cap 3", info.Solves)
			}
			if !tc.capped && (info.Solves <= 3 || len(info.Notes) > 0) {
				t.Errorf("uncapped: %d solves, notes %q", info.Solves, info.Notes)
			}
		})
	}
}
