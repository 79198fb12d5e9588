package experiments

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/dataset/shapes3d"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// TestRecipes: the paper's protocol is the (five backbones, 30
// epochs over the whole train split, ≥ 3 seeds, lr 1e-4, batch 32, 64 px),
// and both recipes validate.
func TestRecipes(t *testing.T) {
	p := PaperRecipe()
	if len(p.Backbones) != 5 || p.Epochs != 30 || len(p.Seeds) < 3 || p.LR != 1e-4 || p.Batch != 32 || p.Size != 64 ||
		p.TrainN != 350000 || p.HoldoutN != 10000 || p.TestN != 120000 || p.Seeds[0] != 1234 {
		t.Errorf("paper recipe %+v", p)
	}
	for name, r := range map[string]Recipe{"paper": p, "reduced": ReducedRecipe()} {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if ReducedRecipe().fingerprint() == p.fingerprint() {
		t.Error("two recipes share a cache fingerprint")
	}
	// The paper's inputs carry its noise; the reduced recipe's are clean,
	// and noise alone changes the cache name.
	if !p.Noise || ReducedRecipe().Noise {
		t.Errorf("noise: paper %v, reduced %v", p.Noise, ReducedRecipe().Noise)
	}
	noisy := ReducedRecipe()
	noisy.Noise = true
	if noisy.fingerprint() == ReducedRecipe().fingerprint() {
		t.Error("noise does not change the cache fingerprint")
	}
}

func TestRecipeValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Recipe)
		want string
	}{
		{"no backbones", func(r *Recipe) { r.Backbones = nil }, "no backbones"},
		{"one task", func(r *Recipe) { r.Tasks = []string{"shape"} }, "at least two tasks"},
		{"unknown task", func(r *Recipe) { r.Tasks = []string{"shape", "colour"} }, `unknown task "colour"`},
		{"unknown backbone", func(r *Recipe) { r.Backbones = []string{"resnet19"} }, `unknown backbone "resnet19"`},
		{"fewer scenes than a batch", func(r *Recipe) { r.TrainN = 8 }, "8 training scenes"},
		{"hold-out too big", func(r *Recipe) { r.HoldoutN = 359000 }, "do not fit"},
		{"paper's hold-out too big", func(r *Recipe) { *r = PaperRecipe(); r.HoldoutN = 10001 }, "do not fit"},
		{"accuracy beyond test", func(r *Recipe) { r.AccuracyN = r.TestN + 1 }, "accuracy scenes"},
		{"size", func(r *Recipe) { r.Size = 4 }, "size 4 px"},
		{"zero lr", func(r *Recipe) { r.LR = 0 }, "must all be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ReducedRecipe()
			tt.edit(&r)
			if err := r.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestHoldout: a seed's in-distribution hold-out lies in the train split
// and shares no scene with that seed's training sample, even when training
// takes all but the hold-out (the paper recipe).
func TestHoldout(t *testing.T) {
	for _, r := range []Recipe{ReducedRecipe(), PaperRecipe()} {
		s := r.Seeds[0]
		hold, err := r.holdoutIndices(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(hold) != r.HoldoutN || !slices.IsSorted(hold) {
			t.Fatalf("%d hold-out scenes (sorted %v), want %d", len(hold), slices.IsSorted(hold), r.HoldoutN)
		}
		tr, _ := shapes3d.Sample(shapes3d.Train, r.TrainN, s)
		for _, i := range hold {
			if _, found := slices.BinarySearch(tr, i); found {
				t.Fatalf("hold-out scene %d is in seed %d's training sample", i, s)
			}
			if f, _ := shapes3d.FromIndex(i); f.Split() != shapes3d.Train {
				t.Fatalf("hold-out scene %d (%+v) is not in the train split", i, f)
			}
		}
	}
}

// TestAccuracyBytes: on a hand-made table, the Pareto front is the points
// no other beats on bytes and accuracy, MTL-Split's cut is the last block
// in fp32, and the raw input carries the plain pass's accuracy.
func TestAccuracyBytes(t *testing.T) {
	g, err := model.New("mobilenet_v3_small", 64, []int{4})
	if err != nil {
		t.Fatal(err)
	}
	g.Heads[0].Task = "shape"
	last := g.Blocks[len(g.Blocks)-1].Name
	tab := &profile.AccuracyTable{Version: 1, Tasks: []profile.AccuracyTask{{Task: "shape", Accuracy: 0.9}}}
	for _, e := range []profile.AccuracyEntry{
		{Task: "shape", Cut: "features.0", Encoding: codec.FP32, Accuracy: 0.9},
		{Task: "shape", Cut: "features.0", Encoding: codec.Int4, Accuracy: 0.5},
		{Task: "shape", Cut: last, Encoding: codec.FP32, Accuracy: 0.9},
		{Task: "shape", Cut: last, Encoding: codec.Int8, Accuracy: 0.89},
		{Task: "shape", Cut: last, Encoding: codec.Int4, Accuracy: 0.80},
	} {
		tab.Entries = append(tab.Entries, e)
	}
	run := &Run{Backbone: g.Name, Tasks: []string{"shape"}, Seed: 1, Graph: g}
	pts := AccuracyBytes([]*Run{run}, []*profile.AccuracyTable{tab})
	got := map[string]AccBytesPoint{}
	for _, p := range pts {
		got[p.Cut+"/"+string(p.Encoding)] = p
	}
	elems := g.Blocks[len(g.Blocks)-1].OutShape.Elems()
	tests := []struct {
		key            string
		bytes          int64
		pareto, mtlcut bool
	}{
		{"input/uint8", 3 * 64 * 64, false, false}, // the fp32 backbone output is smaller at the same accuracy
		{"features.0/fp32", 4 * 16 * 32 * 32, false, false},
		{"features.0/int4", 16*32*32/2 + codec.QuantHeaderBytes, false, false}, // last/int4 is smaller and better
		{last + "/fp32", 4 * elems, true, true},
		{last + "/int8", elems + codec.QuantHeaderBytes, true, false},
		{last + "/int4", (elems+1)/2 + codec.QuantHeaderBytes, true, false},
	}
	if len(pts) != len(tests) {
		t.Fatalf("%d points, want %d: %+v", len(pts), len(tests), pts)
	}
	for _, tt := range tests {
		p, ok := got[tt.key]
		if !ok || p.Bytes != tt.bytes || p.Pareto != tt.pareto || p.MTLSplit != tt.mtlcut {
			t.Errorf("%s = %+v, want %d bytes, pareto %v, MTL-Split %v", tt.key, p, tt.bytes, tt.pareto, tt.mtlcut)
		}
	}
}

// TestDADSPublished: the published figures are the issue's.
func TestDADSPublished(t *testing.T) {
	want := []DADSFigure{{"cat1", 1.46, -64}, {"3g", 4.14, -26}, {"4g", 7.23, -7}, {"wifi", 8.32, 0}}
	if !slices.Equal(DADSPublished, want) {
		t.Errorf("DADSPublished = %v, want %v", DADSPublished, want)
	}
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range DADSPublished {
		n, err := cat.Network(f.Network)
		if err != nil || n.UplinkMbps.Value != dadsUplinkMbps[f.Network] {
			t.Errorf("catalog network %s: %v, %v; want DADS's %g Mbps", f.Network, n.UplinkMbps.Value, err, dadsUplinkMbps[f.Network])
		}
	}
	// Solved by hand from CAT1 and WiFi for a 150,528-byte image:
	// cloud/edge = 1/(1.46·0.36) and 1/8.32, transfer 1204.224 ms·Mbps.
	edge, fixed := DADSImplied(3 * 224 * 224)
	wantEdge := 1204.224 * (1/0.13 - 1/18.88) / (1/(1.46*0.36) - 1/8.32)
	if math.Abs(edge-wantEdge) > 1e-9*wantEdge || math.Abs(fixed-(wantEdge/8.32-1204.224/18.88)) > 1e-6 {
		t.Errorf("DADSImplied = %g, %g; want %g, %g", edge, fixed, wantEdge, wantEdge/8.32-1204.224/18.88)
	}
	if math.Round(edge) != 5161 || math.Round(fixed) != 557 {
		t.Errorf("DADSImplied = %.0f ms, %.0f ms; want 5161, 557", edge, fixed)
	}
}

// TestDADS: on the catalog, the speed-up over edge-only never falls as the
// uplink grows and never drops below 1, the plan is never slower than
// cloud-only, and the calibrated system has DADS's implied edge-only
// latency and its WiFi speed-up exactly.
func TestDADS(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultDADS()
	cal, err := CalibratedDADS(cat, d)
	if err != nil {
		t.Fatal(err)
	}
	for name, dd := range map[string]DADS{"catalog": d, "dads-implied": cal} {
		t.Run(name, func(t *testing.T) {
			rows, err := dd.Run(cat)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 4 {
				t.Fatalf("%d rows, want 4", len(rows))
			}
			for i, r := range rows {
				if r.SpeedupOverEdge() < 1-1e-12 || r.VsCloudPct() > 1e-9 {
					t.Errorf("%s: speed-up %g, vs cloud %+g%%: the plan must beat both baselines or be one", r.Network, r.SpeedupOverEdge(), r.VsCloudPct())
				}
				if i > 0 && r.SpeedupOverEdge() < rows[i-1].SpeedupOverEdge()-1e-12 {
					t.Errorf("speed-up falls from %g (%s) to %g (%s)", rows[i-1].SpeedupOverEdge(), rows[i-1].Network, r.SpeedupOverEdge(), r.Network)
				}
			}
			if name == "dads-implied" {
				edge, _ := DADSImplied(3 * 224 * 224)
				w := rows[3]
				if math.Abs(w.EdgeMS-edge) > 1e-6*edge || math.Abs(w.SpeedupOverEdge()-8.32) > 1e-6 {
					t.Errorf("calibrated WiFi: edge %g ms (want %g), speed-up %g (want 8.32)", w.EdgeMS, edge, w.SpeedupOverEdge())
				}
			}
		})
	}
	// The catalog's Pi 3 as the repository has it: ResNet18 at 224 px in
	// 0.66 s, a 2.34× gain over 4G by sending the image, 6.74× over WiFi.
	rows, _ := d.Run(cat)
	for i, want := range []float64{1, 1, 2.34, 6.74} {
		if got := rows[i].SpeedupOverEdge(); math.Abs(got-want) > 0.005 {
			t.Errorf("%s speed-up %.3f, want %.2f", rows[i].Network, got, want)
		}
	}
}

// TestUpdateReadme: sections are replaced in place and kept in order.
func TestUpdateReadme(t *testing.T) {
	root := t.TempDir()
	for _, s := range []struct{ name, body string }{
		{"dads", "## D\n\none"}, {"stl-vs-mtl", "## S\n\ntwo"}, {"dads", "## D\n\nthree"},
	} {
		if err := UpdateReadme(root, s.name, s.body); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "one") || !strings.Contains(s, "three") || strings.Index(s, "## S") > strings.Index(s, "## D") ||
		strings.Count(s, "<!-- begin dads -->") != 1 {
		t.Errorf("README:\n%s", s)
	}
}

// A noisy recipe's scored scenes carry the paper's noise (about 71% of the
// values replaced, by 5 or 250), drawn from the eval seed: the same each
// time; a clean recipe's carry none.
func TestRenderSetNoise(t *testing.T) {
	r := ReducedRecipe()
	r.Size = 32
	idx := []int{0, 4321, 99999}
	clean, err := renderSet(r, idx)
	if err != nil {
		t.Fatal(err)
	}
	r.Noise = true
	noisy, err := renderSet(r, idx)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := renderSet(r, idx)
	changed := 0
	for i, v := range noisy.pixels {
		if v != clean.pixels[i] {
			changed++
			if v != 5 && v != 250 {
				t.Fatalf("value %d at %d: want 5 or 250", v, i)
			}
		}
		if again.pixels[i] != v {
			t.Fatalf("noise differs between two renderings at %d", i)
		}
	}
	if f := float64(changed) / float64(len(noisy.pixels)); f < 0.6 || f > 0.75 {
		t.Errorf("%.1f%% of values changed, want about 71%%", 100*f)
	}
}
