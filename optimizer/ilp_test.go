package optimizer

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/model"
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

// BenchmarkLayerPlan is the whole layer-level plan the CLI makes — the ILP
// optimum, the baselines, the Pareto set and the switch table over 1 kbit/s
// to 1 Tbit/s — for every zoo model, 3 tasks and 4 encodings on the
// catalog's Jetson Nano and H100 over 4G, Wi-Fi and Ethernet, with the CBC
// solves it took (the goal: under 300 ms a plan).
func BenchmarkLayerPlan(b *testing.B) {
	needCBC(b)
	cat, err := hwprofiles.Default()
	if err != nil {
		b.Fatal(err)
	}
	edge, _ := cat.Device("jetson-nano")
	server, _ := cat.Server("h100")
	for _, name := range model.Zoo() {
		g, err := model.New(name, 224, []int{8, 4, 6})
		if err != nil {
			b.Fatal(err)
		}
		for _, netID := range []string{"4g", "wifi", "ethernet"} {
			net, _ := cat.Network(netID)
			p, err := NewProblem(g, edge, server, net)
			if err != nil {
				b.Fatal(err)
			}
			p.Encodings = codec.Encodings
			b.Run(fmt.Sprintf("%s/3tasks/4enc/%s", name, netID), func(b *testing.B) {
				var r *Result
				for b.Loop() {
					if r, err = Solve(p, nil, ILP{Granularity: LayerLevel}); err != nil {
						b.Fatal(err)
					}
				}
				if r.Status != Optimal {
					b.Fatal(r.Status)
				}
				b.ReportMetric(float64(r.Solves), "solves/plan")
			})
		}
	}
}
