package stackfit

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/profile"
)

var update = flag.Bool("update", false, "refit every stack with leave-one-out and rewrite "+CatalogFile+", "+LOOFile+" and the README's tables")

const root = "../.."

// readmeBegin and readmeEnd fence the README's generated tables.
const (
	readmeBegin = "<!-- stacks:begin (make calibrate-stacks) -->\n"
	readmeEnd   = "<!-- stacks:end -->"
)

// TestRegenerate is "make calibrate-stacks": with -update it runs the whole
// fit and leave-one-out (a minute on two cores) and rewrites the files.
func TestRegenerate(t *testing.T) {
	if !*update {
		t.Skip("run with -update (make calibrate-stacks) to refit")
	}
	r, err := Fit(true)
	if err != nil {
		t.Fatal(err)
	}
	var cat, loo bytes.Buffer
	if err := r.WriteCatalog(&cat); err != nil {
		t.Fatal(err)
	}
	if err := WriteLOO(&loo, r.Predictions()); err != nil {
		t.Fatal(err)
	}
	write(t, CatalogFile, cat.Bytes())
	write(t, LOOFile, loo.Bytes())
	preds, err := ReadLOO(&loo)
	if err != nil {
		t.Fatal(err)
	}
	readme := read(t, "README.md")
	i, j := strings.Index(readme, readmeBegin), strings.Index(readme, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", readmeBegin, readmeEnd)
	}
	write(t, "README.md", []byte(readme[:i+len(readmeBegin)]+Markdown(preds)+readme[j:]))
	t.Log(Markdown(preds))
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// publishedRuns are the embedded published rows and the runs fitted.
func publishedRuns(t *testing.T) ([]Row, []profile.StackRun) {
	t.Helper()
	rows, err := Published()
	if err != nil {
		t.Fatal(err)
	}
	runs, err := Runs(rows)
	if err != nil {
		t.Fatal(err)
	}
	return rows, runs
}

func committedLOO(t *testing.T) []Prediction {
	t.Helper()
	preds, err := ReadLOO(strings.NewReader(read(t, LOOFile)))
	if err != nil {
		t.Fatal(err)
	}
	return preds
}

// TestPublishedRows resolves every published row: 118 rows, three left out
// with a reason, the rest on a known board, stack and classifier.
func TestPublishedRows(t *testing.T) {
	rows, err := Published()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 118 {
		t.Fatalf("%d published rows, want 118", len(rows))
	}
	var out []string
	groups := map[string]int{}
	for _, r := range rows {
		if r.Excluded != "" {
			out = append(out, r.Row+" "+r.Precision)
			continue
		}
		groups[r.Setup.group()]++
	}
	if want := []string{"X2 int8", "X5 fp16", "X5 int8"}; !slices.Equal(out, want) {
		t.Errorf("left out %v, want %v", out, want)
	}
	want := map[string]int{"ncnn/cpu": 59, "ncnn-vulkan/gpu": 17, "ncnn-vulkan/gpu-videocore": 3, "tensorrt/gpu": 6, "tensorrt/gpu/int8": 2,
		"opencv/cpu": 6, "opencv-cuda/gpu": 8, "tflite/cpu": 6, "pytorch/cpu": 5, "pytorch/gpu": 1, "tensorflow/gpu": 2}
	for g, n := range want {
		if groups[g] != n {
			t.Errorf("%s: %d rows, want %d", g, groups[g], n)
		}
	}
	if len(groups) != len(want) {
		t.Errorf("groups %v, want %v", groups, want)
	}
}

// TestGPUPeaks: ncnn's Vulkan shaders on the Nano are measured against the
// fp32 rate (the estimate its rows support), every other stack on a GPU
// against the datasheet peak of its precision.
func TestGPUPeaks(t *testing.T) {
	for _, c := range []struct {
		name string
		s    setup
		want float64
		src  string
	}{
		{"ncnn vulkan on the nano: fp32 rate", setup{board: "nano", stack: "ncnn-vulkan", unit: "gpu", precision: "fp16"}, 236, "estimate:"},
		{"tensorrt on the nano: half2 rate", setup{board: "nano", stack: "tensorrt", unit: "gpu", precision: "fp16"}, 472, "derived:"},
		{"opencv cuda fp32 on the nano", setup{board: "nano", stack: "opencv-cuda", unit: "gpu", precision: "fp32"}, 236, "derived:"},
		{"ncnn vulkan on the tx2 nx: half2 rate", setup{board: "tx2nx", stack: "ncnn-vulkan", unit: "gpu", precision: "fp16"}, 1331, "derived:"},
		{"ncnn vulkan on the orin nano", setup{board: "orin", stack: "ncnn-vulkan", unit: "gpu", precision: "fp16"}, 1280, "derived:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, src, err := c.s.peak()
			if err != nil {
				t.Fatal(err)
			}
			if p != c.want || !strings.HasPrefix(src, c.src) {
				t.Errorf("peak %g (%.40s...), want %g (%s)", p, src, c.want, c.src)
			}
		})
	}
}

// TestCatalogMatchesFit refits every stack in sample and rebuilds the
// catalog with the committed leave-one-out errors: the committed stacks.yaml
// must agree (to 1%: the fit's own convergence) — a hand edit, a changed
// published row or a changed fit makes it fail; make calibrate-stacks
// rewrites it.
func TestCatalogMatchesFit(t *testing.T) {
	r, err := Fit(false)
	if err != nil {
		t.Fatal(err)
	}
	preds := committedLOO(t)
	if len(preds) != len(r.Runs) {
		t.Fatalf("%s has %d rows, the fit %d: run make calibrate-stacks", LOOFile, len(preds), len(r.Runs))
	}
	r.Fit.LeaveOneOut = make([]profile.StackPoint, len(preds))
	for i, p := range preds {
		if got := r.Predictions()[i]; got.Row != p.Row || got.Model != p.Model || got.PublishedMS != round4(p.PublishedMS) && math.Abs(got.PublishedMS-p.PublishedMS) > 1e-3*p.PublishedMS {
			t.Fatalf("%s row %d is %s %s %g ms, the fit's %s %s %g ms", LOOFile, i+2, p.Row, p.Model, p.PublishedMS, got.Row, got.Model, got.PublishedMS)
		}
		if d := math.Abs(r.Fit.InSample[i].PredictMS-p.InSampleMS) / p.InSampleMS; d > 0.01 {
			t.Errorf("%s %s: in-sample prediction %.4g ms, committed %.4g ms", p.Row, p.Model, r.Fit.InSample[i].PredictMS, p.InSampleMS)
		}
		r.Fit.LeaveOneOut[i] = profile.StackPoint{PredictMS: p.LeaveOneOutMS, RelativeErr: p.LOOErr()}
	}
	var buf bytes.Buffer
	if err := r.WriteCatalog(&buf); err != nil {
		t.Fatal(err)
	}
	got, want := decodeStacks(t, buf.Bytes()), decodeStacks(t, []byte(read(t, CatalogFile)))
	if len(got) != len(want) {
		t.Fatalf("fit has %d stack entries, %s %d", len(got), CatalogFile, len(want))
	}
	for i := range got {
		compareStack(t, got[i], want[i])
	}
}

func decodeStacks(t *testing.T, b []byte) []hwprofiles.Stack {
	t.Helper()
	var f struct {
		Version int                `yaml:"version"`
		Stacks  []hwprofiles.Stack `yaml:"stacks"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Stacks
}

func compareStack(t *testing.T, got, want hwprofiles.Stack) {
	t.Helper()
	id := want.Device + "/" + want.Stack
	close := func(what string, g, w hwprofiles.Number) {
		if math.Abs(g.Value-w.Value) > 0.01*math.Abs(w.Value)+1e-9 {
			t.Errorf("%s %s: fit %g, committed %g", id, what, g.Value, w.Value)
		}
	}
	if got.Device != want.Device || got.Stack != want.Stack || got.Precision != want.Precision || got.Threads != want.Threads ||
		got.Unit != want.Unit || got.PublishedRows != want.PublishedRows || got.FoldNormAct != want.FoldNormAct {
		t.Errorf("%s: fit gives %s/%s %s %s ×%d (%d rows), committed %s/%s %s %s ×%d (%d rows)", id, got.Device, got.Stack, got.Unit,
			got.Precision, got.Threads, got.PublishedRows, want.Device, want.Stack, want.Unit, want.Precision, want.Threads, want.PublishedRows)
	}
	close("peak_gflops", got.PeakGFLOPS, want.PeakGFLOPS)
	close("mem_bandwidth_gbps", got.MemBandwidthGBps, want.MemBandwidthGBps)
	close("layer_overhead_ms", got.LayerOverheadMS, want.LayerOverheadMS)
	close("call_overhead_ms", got.CallOverheadMS, want.CallOverheadMS)
	close("expected_error_pct", got.ExpectedErrorPct, want.ExpectedErrorPct)
	for k, w := range want.Efficiency {
		close("efficiency."+k, got.Efficiency[k], w)
	}
	if len(got.Efficiency) != len(want.Efficiency) {
		t.Errorf("%s: efficiency keys differ", id)
	}
}

// TestLeaveOneOutSubset recomputes the leave-one-out predictions of three
// stacks (each row refitted without it; stacks are fitted independently,
// so a subset gives the same numbers) and checks them against the committed
// table the README and the catalog's expected errors come from.
func TestLeaveOneOutSubset(t *testing.T) {
	_, runs := publishedRuns(t)
	preds := committedLOO(t)
	subset := []string{"tensorrt/gpu", "tflite/cpu", "pytorch/cpu"}
	var sub []profile.StackRun
	var want []Prediction
	for i, r := range runs {
		if slices.Contains(subset, r.Stack) {
			sub = append(sub, r)
			want = append(want, preds[i])
		}
	}
	f, err := profile.FitStacks(sub, Specs, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) != 17 {
		t.Fatalf("%d runs in %v, want 17", len(sub), subset)
	}
	for i, p := range f.LeaveOneOut {
		if d := math.Abs(p.PredictMS-want[i].LeaveOneOutMS) / want[i].LeaveOneOutMS; d > 0.01 {
			t.Errorf("%s: left out, predicted %.4g ms, committed %.4g ms", p.Run.ID, p.PredictMS, want[i].LeaveOneOutMS)
		}
	}
}

// TestREADME checks that the README shows the committed leave-one-out table.
func TestREADME(t *testing.T) {
	readme := read(t, "README.md")
	i, j := strings.Index(readme, readmeBegin), strings.Index(readme, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no generated stacks section")
	}
	if got, want := readme[i+len(readmeBegin):j], Markdown(committedLOO(t)); got != want {
		t.Errorf("README's stack tables differ from %s: run make calibrate-stacks\n got: %s\nwant: %s", LOOFile, got, want)
	}
}

// TestEmbeddedStacks loads the embedded catalog and gets a device with
// every stack it lists.
func TestEmbeddedStacks(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Stacks) != len(entries) {
		t.Fatalf("embedded catalog has %d stack entries, want %d", len(cat.Stacks), len(entries))
	}
	for _, s := range cat.Stacks {
		d, err := cat.DeviceStack(s.Device, s.Stack)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.CostModel().Validate(); err != nil {
			t.Errorf("%s/%s: %v", s.Device, s.Stack, err)
		}
	}
}

// TestCatalogPredictsLikeFit predicts, through the embedded catalog
// (DeviceStack → CostModel, plus the per-call cost), every published row
// run exactly as a catalog entry describes it, and compares with the fit's
// own in-sample prediction: the catalog's folding of thread scaling into
// efficiency, of memory efficiency into bandwidth and of fork/join cost
// into the layer overhead must lose nothing but rounding.
func TestCatalogPredictsLikeFit(t *testing.T) {
	cat, err := hwprofiles.Default()
	if err != nil {
		t.Fatal(err)
	}
	preds := committedLOO(t)
	rows, runs := publishedRuns(t)
	k, checked := 0, 0
	for _, row := range rows {
		if row.Excluded != "" {
			continue
		}
		i := k
		k++
		s := row.Setup
		var match bool
		for _, e := range entries {
			if e.board == s.board && e.stack == s.stack && e.unit == s.unit && e.precision == s.precision && e.storage == s.storage &&
				e.threads == s.threads && e.clockGHz == s.clockGHz && e.tensor == s.tensor {
				match = true
			}
		}
		if !match {
			continue
		}
		d, err := cat.DeviceStack(boards[s.board].device, s.stack)
		if err != nil {
			t.Fatal(err)
		}
		lat, err := d.CostModel().Latency(runs[i].Graph)
		if err != nil {
			t.Fatal(err)
		}
		got := d.CallOverheadMS.Value
		for _, ms := range lat.NodeMS {
			got += ms
		}
		if want := preds[i].InSampleMS; math.Abs(got-want) > 0.005*want {
			t.Errorf("%s %s on %s/%s: catalog predicts %.4g ms, the fit %.4g ms", row.Row, row.Model, d.ID, d.Stack, got, want)
		}
		checked++
	}
	if checked < 50 {
		t.Errorf("only %d rows ran as a catalog entry describes", checked)
	}
	t.Logf("%d rows checked", checked)
}
