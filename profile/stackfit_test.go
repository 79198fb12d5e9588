package profile

import (
	"math"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// TestFolded checks which nodes a folding stack runs for free: batch norm
// after a conv, the activation after it, dropout; not a residual add, nor
// the ReLU after one, nor a batch norm of an add.
func TestFolded(t *testing.T) {
	g, err := model.Classifier("resnet18", 224)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"bn1": true, "relu": true, "layer1.0.bn1": true, "layer1.0.relu": true, "layer1.0.add": false,
		"conv1": false, "maxpool": false, "fc.fc": false}
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		w, ok := want[n.Name]
		if !ok || seen[n.Name] {
			continue
		}
		seen[n.Name] = true // the block's second "relu" follows the add
		if got := Folded(g, n); got != w {
			t.Errorf("Folded(%s %s) = %v, want %v", n.Op, n.Name, got, w)
		}
	}
	var afterAdd model.Node
	for _, n := range g.Nodes {
		if n.Name == "layer1.0.relu" && g.Nodes[n.Inputs[0]].Op == model.OpAdd {
			afterAdd = n
		}
	}
	if afterAdd.Name == "" || Folded(g, afterAdd) {
		t.Errorf("the ReLU after a residual add must run as its own layer")
	}
}

// synthetic builds runs of one stack on two devices from known numbers.
func synthetic(t testing.TB, p StackParams, spec StackSpec) []StackRun {
	t.Helper()
	var runs []StackRun
	for _, name := range []string{"resnet18", "resnet50", "vgg16", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0"} {
		g, err := model.Classifier(name, 224)
		if err != nil {
			t.Fatal(err)
		}
		for _, dev := range []struct {
			peak, bw float64
			threads  int
		}{{20, 12.8, 4}, {60, 68, 6}, {60, 68, 1}} {
			r := StackRun{ID: name, Stack: "s", Graph: g, PeakGFLOPS: dev.peak, Threads: dev.threads, MemBandwidthGBps: dev.bw, BytesPerElem: 4}
			r.MeasuredMS = p.PredictMS(r, spec)
			runs = append(runs, r)
			if dev.threads == 4 && name != "vgg16" { // an int8 run at twice the peak
				r.Int8, r.PeakGFLOPS, r.BytesPerElem = true, 2*dev.peak, 1
				r.MeasuredMS = p.PredictMS(r, spec)
				runs = append(runs, r)
			}
		}
	}
	return runs
}

// TestFitStacksRecovers fits runs made from known numbers: the in-sample
// and leave-one-out predictions come back to within 2%.
func TestFitStacksRecovers(t *testing.T) {
	truth := StackParams{Efficiency: map[OpClass]float64{ClassConv: 0.5, ClassConv3x3: 1.5, ClassDepthwise: 0.08, ClassLinear: 0.4, ClassElementwise: 0.05},
		MemEfficiency: 0.7, LayerOverheadMS: 0.01, CallOverheadMS: 0.2, ThreadScaling: 0.8, ThreadSyncMS: 0.004, Int8Speed: 0.6}
	spec := StackSpec{FoldNormAct: true}
	runs := synthetic(t, truth, spec)
	f, err := FitStacks(runs, map[string]StackSpec{"s": spec}, true)
	if err != nil {
		t.Fatal(err)
	}
	if m := MAPE(f.InSample); m > 0.02 {
		t.Errorf("in-sample MAPE %.3f, want ≤ 0.02", m)
	}
	if m := MAPE(f.LeaveOneOut); m > 0.02 {
		t.Errorf("leave-one-out MAPE %.3f, want ≤ 0.02", m)
	}
	if got := f.Params["s"].ThreadScaling; math.Abs(got-0.8) > 0.05 {
		t.Errorf("thread scaling %.3f, want 0.8", got)
	}
	if got := f.Params["s"].Int8Speed; math.Abs(got-0.6) > 0.05 {
		t.Errorf("int8 speed %.3f, want 0.6", got)
	}
	// The same runs give the same numbers, whatever ran first.
	g, err := FitStacks(runs, map[string]StackSpec{"s": spec}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.InSample {
		if g.InSample[i].PredictMS != f.InSample[i].PredictMS {
			t.Fatalf("run %d: %g then %g ms", i, f.InSample[i].PredictMS, g.InSample[i].PredictMS)
		}
	}
}

// threadRuns times every network of names on one device at each thread
// count, under the numbers p.
func threadRuns(t testing.TB, p StackParams, device string, peak, bw float64, threads ...int) []StackRun {
	t.Helper()
	var runs []StackRun
	for _, name := range []string{"resnet18", "resnet50", "vgg16", "mobilenet_v2", "efficientnet_b0"} {
		g, err := model.Classifier(name, 224)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range threads {
			r := StackRun{ID: name, Stack: "s", Graph: g, PeakGFLOPS: peak, Threads: n, Device: device, MemBandwidthGBps: bw, BytesPerElem: 4}
			r.MeasuredMS = p.PredictMS(r, StackSpec{FoldNormAct: true})
			runs = append(runs, r)
		}
	}
	return runs
}

// TestFitStacksDeviceThreads: two devices timed on one and on n threads
// get their own thread scaling back (n^0.85 and n^0.4); a third, timed on
// 4 threads only, scales as the stack does and gets no number of its own.
func TestFitStacksDeviceThreads(t *testing.T) {
	truth := StackParams{Efficiency: map[OpClass]float64{ClassConv: 0.5, ClassConv3x3: 1.5, ClassConv1x1: 0.8, ClassDepthwise: 0.08, ClassLinear: 0.4, ClassElementwise: 0.05},
		MemEfficiency: 0.7, LayerOverheadMS: 0.01, CallOverheadMS: 0.2, ThreadScaling: 0.6, ThreadSyncMS: 0.004, Int8Speed: 1,
		DeviceThreadScaling: map[string]float64{"a": 0.85, "b": 0.4}}
	runs := append(threadRuns(t, truth, "a", 48, 68, 1, 6), threadRuns(t, truth, "b", 14.4, 12.8, 1, 4)...)
	runs = append(runs, threadRuns(t, truth, "c", 11.4, 25.6, 4)...)
	f, err := FitStacks(runs, map[string]StackSpec{"s": {FoldNormAct: true}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if m := MAPE(f.InSample); m > 0.03 {
		t.Errorf("in-sample MAPE %.3f, want ≤ 0.03", m)
	}
	p := f.Params["s"]
	for dev, want := range map[string]float64{"a": 0.85, "b": 0.4} {
		if got := p.DeviceThreadScaling[dev]; math.Abs(got-want) > 0.05 {
			t.Errorf("device %s: thread scaling %.3f, want %.2f", dev, got, want)
		}
	}
	if _, ok := p.DeviceThreadScaling["c"]; ok || p.DeviceThreads("c") != p.ThreadScaling {
		t.Errorf("device c (no one-thread runs) has its own thread scaling %v", p.DeviceThreadScaling)
	}
}

// TestFitStacksFamily: a family group's runs, made from the base group's
// fitted numbers with efficiencies at a fifth and a per-layer cost 50 times
// higher, give both factors back from three runs, and each run left out is
// predicted from the other two to within 30%.
func TestFitStacksFamily(t *testing.T) {
	truth := StackParams{Efficiency: map[OpClass]float64{ClassConv: 0.5, ClassConv3x3: 1.5, ClassConv1x1: 0.8, ClassDepthwise: 0.08, ClassLinear: 0.4, ClassElementwise: 0.05},
		MemEfficiency: 0.7, LayerOverheadMS: 0.01, CallOverheadMS: 0.2, ThreadScaling: 0.8, ThreadSyncMS: 0.004, Int8Speed: 1}
	base := threadRuns(t, truth, "", 472, 25.6, 0)
	specs := map[string]StackSpec{"s": {FoldNormAct: true}, "f": {FoldNormAct: true, Family: "s"}}
	fb, err := FitStacks(base, specs, false)
	if err != nil {
		t.Fatal(err)
	}
	slow := fb.Params["s"]
	slow.Efficiency = map[OpClass]float64{}
	for c, e := range fb.Params["s"].Efficiency {
		slow.Efficiency[c] = e / 5
	}
	slow.MemEfficiency /= 5
	slow.LayerOverheadMS *= 50
	all := threadRuns(t, slow, "", 76.8, 17.1, 0)
	fam := []StackRun{all[0], all[1], all[3]} // resnet18, resnet50, mobilenet_v2
	for i := range fam {
		fam[i].Stack = "f"
	}
	f, err := FitStacks(append(base, fam...), specs, true)
	if err != nil {
		t.Fatal(err)
	}
	// The per-layer factor is pulled towards 1 like any number towards its
	// prior (only MobileNetV2's many small layers show it), so it comes
	// back short of 50, and the compute factor a little low with it.
	ps, pf := f.Params["s"], f.Params["f"]
	if got := pf.Efficiency[ClassConv3x3] / ps.Efficiency[ClassConv3x3]; math.Abs(got/0.2-1) > 0.15 {
		t.Errorf("family compute factor %.3f, want 0.2 ± 15%%", got)
	}
	if got := pf.LayerOverheadMS / ps.LayerOverheadMS; got < 10 || got > 50 {
		t.Errorf("family per-layer factor %.1f, want 10 to 50", got)
	}
	if m := MAPE(f.InSample[len(base):]); m > 0.08 {
		t.Errorf("family in-sample MAPE %.3f, want ≤ 0.08", m)
	}
	for _, p := range f.LeaveOneOut[len(base):] {
		if math.Abs(p.RelativeErr) > 0.3 {
			t.Errorf("%s left out: %+.1f%%", p.Run.ID, 100*p.RelativeErr)
		}
	}
	delete(specs, "s")
	if _, err := FitStacks(fam, specs, false); err == nil || !strings.Contains(err.Error(), `shares the numbers of "s", which has no runs`) {
		t.Errorf("family without its base: %v", err)
	}
}

// TestFitStacksLoneRun: a stack with one run is predicted, left out, by
// its prior alone.
func TestFitStacksLoneRun(t *testing.T) {
	runs := synthetic(t, DefaultStackPrior, StackSpec{})[:1]
	runs[0].MeasuredMS *= 3
	f, err := FitStacks(runs, map[string]StackSpec{"s": {}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.LeaveOneOut[0].RelativeErr; math.Abs(got-(1.0/3-1)) > 1e-9 {
		t.Errorf("left-out error %.4f, want %.4f (the prior predicts a third)", got, 1.0/3-1)
	}
}

func TestFitStacksBadInput(t *testing.T) {
	runs := synthetic(t, DefaultStackPrior, StackSpec{})[:1]
	if _, err := FitStacks(runs, map[string]StackSpec{}, false); err == nil || !strings.Contains(err.Error(), `stack "s" has no settings`) {
		t.Errorf("missing spec: %v", err)
	}
	runs[0].MeasuredMS = 0
	if _, err := FitStacks(runs, map[string]StackSpec{"s": {}}, false); err == nil || !strings.Contains(err.Error(), "latency") {
		t.Errorf("zero latency: %v", err)
	}
}

func TestParsePublished(t *testing.T) {
	const header = "row,device,model,batch,precision,stack,unit,timed,latency_ms,note,source\n"
	good := header + `N1,"Jetson Nano, 4 thr",R18,1,fp16,TensorRT,GPU,fw-only,11.4,,https://x` + "\n"
	rows, err := ParsePublished(strings.NewReader(good), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Device != "Jetson Nano, 4 thr" || rows[0].LatencyMS != 11.4 || rows[0].Line != 2 {
		t.Errorf("parsed %+v", rows)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "", "t.csv: empty"},
		{"header", "a,b\n", "t.csv:1: header is a,b"},
		{"no rows", header, "no rows"},
		{"latency", header + "N1,d,R18,1,fp16,s,GPU,fw,-3,,u\n", `t.csv:2: latency_ms "-3"`},
		{"nan", header + "N1,d,R18,1,fp16,s,GPU,fw,NaN,,u\n", `latency_ms "NaN"`},
		{"batch", header + "N1,d,R18,x,fp16,s,GPU,fw,3,,u\n", `t.csv:2: batch "x"`},
		{"fields", header + "N1,d,R18\n", "wrong number of fields"},
	} {
		if _, err := ParsePublished(strings.NewReader(tc.data), "t.csv"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkFitStacks fits one stack of 23 synthetic runs in sample.
func BenchmarkFitStacks(b *testing.B) {
	spec := StackSpec{FoldNormAct: true}
	runs := synthetic(b, DefaultStackPrior, spec)
	specs := map[string]StackSpec{"s": spec}
	var f *StackFit
	for b.Loop() {
		var err error
		if f, err = FitStacks(runs, specs, false); err != nil {
			b.Fatal(err)
		}
	}
	if m := MAPE(f.InSample); m > 0.02 {
		b.Fatalf("in-sample MAPE %.3f", m)
	}
}
