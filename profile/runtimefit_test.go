package profile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// runtimeLog writes synthetic run-log lines whose measured times are the
// predicted ones plus known fixed terms, a little seeded noise and a few
// stalled transfers.
func runtimeLog(overhead, enc, dec float64) string { return scaledRuntimeLog(overhead, enc, dec, 1) }

// scaledRuntimeLog is runtimeLog with the edge's measured compute edgeScale
// times the predicted one (a profile that over-predicts: below 1).
func scaledRuntimeLog(overhead, enc, dec, edgeScale float64) string {
	rng := rand.New(rand.NewPCG(11, 0))
	cuts := []string{"layer3", "layer2.0+layer2.1", "input"}
	var b strings.Builder
	for i := range 60 {
		cut := cuts[i%3]
		n := float64(len(strings.Split(cut, "+")))
		bytes := int64(10000 + 3000*i)
		pe, pn, ps := 20+float64(i%5), 30+float64(bytes)*8/10e3, 2.0
		noise := func() float64 { return 0.1 * (2*rng.Float64() - 1) }
		me, mn, ms := edgeScale*pe+n*enc+noise(), pn+overhead+noise(), ps+n*dec+noise()
		if i%20 == 7 { // a stalled transfer: the median must not follow it
			mn += 500
		}
		fmt.Fprintf(&b, `{"input":"img%d.png","cut":%q,"bytes":%d,"measured":{"total_ms":%g,"edge_ms":%g,"network_ms":%g,"server_ms":%g},`+
			`"predicted":{"total_ms":%g,"edge_ms":%g,"network_ms":%g,"server_ms":%g},"fallback":false}`+"\n",
			i, cut, bytes, me+mn+ms, me, mn, ms, pe+pn+ps, pe, pn, ps)
	}
	// Skipped: a fallback (ran locally after a failure), a local-only input
	// and an adaptive run's row the plan does not price on its own.
	b.WriteString(`{"input":"x","cut":"layer3","bytes":5000,"measured":{"total_ms":900,"edge_ms":900,"network_ms":0,"server_ms":0},"predicted":{"total_ms":50,"edge_ms":20,"network_ms":28,"server_ms":2},"fallback":true}` + "\n\n")
	b.WriteString(`{"input":"y","cut":"layer4","bytes":0,"measured":{"total_ms":80,"edge_ms":80,"network_ms":0,"server_ms":0},"predicted":{"total_ms":75,"edge_ms":75,"network_ms":0,"server_ms":0},"fallback":false}` + "\n")
	b.WriteString(`{"input":"z","cut":"layer1","bytes":90000,"row":2,"estimate_mbps":40,"measured":{"total_ms":80,"edge_ms":10,"network_ms":60,"server_ms":10},"fallback":false}` + "\n")
	return b.String()
}

func TestFitRuntimeRecoversTerms(t *testing.T) {
	for _, tc := range []struct {
		name               string
		overhead, enc, dec float64
	}{
		{"runtime-like", 4.2, 0.8, 1.3},
		{"large overhead", 25, 3, 0.5},
		{"no terms", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fit := fitLog(t, runtimeLog(tc.overhead, tc.enc, tc.dec))
			if fit.Used != 60 || fit.Skipped != 3 {
				t.Errorf("used %d, skipped %d; want 60 and 3", fit.Used, fit.Skipped)
			}
			// Within 5%, or the noise's 0.1 ms when the term is 0.
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"overhead", fit.OverheadMS, tc.overhead}, {"encode", fit.TensorEncodeMS, tc.enc}, {"decode", fit.TensorDecodeMS, tc.dec}} {
				if math.Abs(c.got-c.want) > max(0.05*c.want, 0.1) {
					t.Errorf("%s = %.4g ms, want %.4g ± 5%%", c.name, c.got, c.want)
				}
			}
			// The per-MB slope is noise: the bandwidth was right.
			if math.Abs(fit.PerMBMS) > 1 {
				t.Errorf("slope %g ms/MB, want about 0", fit.PerMBMS)
			}
			for name, e := range map[string]float64{"total": fit.After.Total, "edge": fit.After.Edge, "network": fit.After.Network, "server": fit.After.Server} {
				if math.Abs(e) > 0.01 {
					t.Errorf("median %s error after the fit %.2f%%, want within ±1%%", name, 100*e)
				}
			}
			if tc.overhead > 0 && !(fit.Before.Network < -0.01) {
				t.Errorf("median network error before %.2f%%: the synthetic overhead should show as under-prediction", 100*fit.Before.Network)
			}
		})
	}
}

func TestFitRuntimeComputeScale(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		log                  string
		edgeScale, serverScl float64 // want, ± 0.01
		enc, dec             float64 // want, ± 0.1 ms
	}{
		// The edge's profile over-predicts by 15%: the per-tensor residual
		// is negative, so the scale takes it, 1/1.15.
		{"edge over-predicted 15%", scaledRuntimeLog(3, 0, 0, 1/1.15), 0.8696, 1, 0, 0},
		// Measured faster than predicted on the server (2 ms predicted, 0.5
		// ms less per tensor, one or two tensors): not a negative cost, a
		// scale, the median record's measured over predicted: (2 − 0.5)/2
		// less the noise.
		{"server faster", runtimeLog(3, 1, -0.5), 1, 0.72, 1, 0},
		// Under-predicted: the per-tensor terms as before, no scale.
		{"positive residuals", runtimeLog(3, 0.8, 1.3), 1, 1, 0.8, 1.3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fit := fitLog(t, tc.log)
			if math.Abs(fit.EdgeScale-tc.edgeScale) > 0.01 || math.Abs(fit.ServerScale-tc.serverScl) > 0.01 {
				t.Errorf("scales edge %.4g, server %.4g; want %.4g and %.4g", fit.EdgeScale, fit.ServerScale, tc.edgeScale, tc.serverScl)
			}
			if math.Abs(fit.TensorEncodeMS-tc.enc) > 0.1 || math.Abs(fit.TensorDecodeMS-tc.dec) > 0.1 {
				t.Errorf("encode %.4g, decode %.4g ms; want %.4g and %.4g", fit.TensorEncodeMS, fit.TensorDecodeMS, tc.enc, tc.dec)
			}
			if len(fit.Clamped) != 0 {
				t.Errorf("clamped %q: the scale absorbs a negative per-tensor residual", fit.Clamped)
			}
			if math.Abs(fit.After.Edge) > 0.01 {
				t.Errorf("median edge error after %.2f%%, want within ±1%%", 100*fit.After.Edge)
			}
			if tc.edgeScale < 1 && !(fit.Before.Edge > 0.1) {
				t.Errorf("median edge error before %.2f%%: want the 15%% over-prediction", 100*fit.Before.Edge)
			}
		})
	}
}

func TestParseRuntimeLogRejects(t *testing.T) {
	good := `{"input":"a","cut":"layer3","bytes":100,"measured":{"total_ms":3,"edge_ms":1,"network_ms":1,"server_ms":1},"predicted":{"total_ms":3,"edge_ms":1,"network_ms":1,"server_ms":1},"fallback":false}`
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "log: no records (want one JSON object per line"},
		{"not JSON", good + "\nhello\n", "log:2: not a run log line"},
		{"no bytes", strings.Replace(good, `"bytes":100,`, "", 1), "log:1: bytes is missing"},
		{"negative bytes", strings.Replace(good, `"bytes":100`, `"bytes":-1`, 1), "log:1: bytes -1: want a byte count ≥ 0"},
		{"stage missing", strings.Replace(good, `"network_ms":1,"server_ms":1},"predicted"`, `"network_ms":1},"predicted"`, 1), "log:1: measured.server_ms is missing"},
		{"predicted stage missing", strings.Replace(good, `"network_ms":1,"server_ms":1},"fallback"`, `"network_ms":1},"fallback"`, 1), "log:1: predicted.server_ms is missing"},
		{"negative time", strings.Replace(good, `"predicted":{"total_ms":3`, `"predicted":{"total_ms":-3`, 1), "log:1: predicted.total_ms is -3: want a time ≥ 0 in ms"},
		{"no cut", strings.Replace(good, `"cut":"layer3",`, "", 1), "log:1: cut is missing for 100 bytes sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRuntimeLog(strings.NewReader(tc.in), "log")
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v; want one line containing %q", err, tc.want)
			}
		})
	}
	// Only fallbacks: nothing to fit.
	recs, err := ParseRuntimeLog(strings.NewReader(strings.Replace(good, `"fallback":false`, `"fallback":true`, 1)), "log")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FitRuntime(recs); err == nil || !strings.Contains(err.Error(), "no record sent anything as planned (1 fallbacks") {
		t.Errorf("FitRuntime of fallbacks only: err = %v", err)
	}
}

// TestFitRuntimeTwoBandwidths: logs at 1 and 1000 Mbps with one transfer
// size, whose network residual is a 1 ms overhead plus 4% of the transfer
// time (framing bytes the plan does not count). The overhead weighs each
// residual by 1/measured, so the 1000 Mbps records, where a fixed cost is
// most of the stage, set it; the pooled median of the residuals (what a
// fit against bytes gives when every record sent the same bytes) would
// have been about 6 ms.
func TestFitRuntimeTwoBandwidths(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		mbps := 1.0
		if i%2 == 1 {
			mbps = 1000
		}
		pn := 1 + 32768*8/(mbps*1e3)
		mn := pn + 1 + 0.04*(pn-1) + 0.01*float64(i%5)
		fmt.Fprintf(&b, `{"input":"%d","cut":"layer3","bytes":32768,"measured":{"total_ms":%g,"edge_ms":9,"network_ms":%g,"server_ms":5},`+
			`"predicted":{"total_ms":%g,"edge_ms":9,"network_ms":%g,"server_ms":5},"fallback":false}`+"\n", i, 14+mn, mn, 14+pn, pn)
	}
	fit := fitLog(t, b.String())
	if math.Abs(fit.OverheadMS-1) > 0.05 {
		t.Errorf("overhead %.3f ms, want 1 ± 0.05", fit.OverheadMS)
	}
}

func TestCostModelComputeScale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scale float64
		err   string
	}{
		{"unset", 0, ""},
		{"fitted", 0.87, ""},
		{"one", 1, ""},
		{"above one", 1.2, `cost model of "dev": compute scale 1.2: want a value in (0, 1] (0: none)`},
		{"negative", -0.5, `cost model of "dev": compute scale -0.5: want a value in (0, 1] (0: none)`},
		{"NaN", math.NaN(), `cost model of "dev": compute scale NaN: want a value in (0, 1] (0: none)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := CostModel{Device: "dev", BytesPerElem: 4, PeakGFLOPS: 10, MemBandwidthGBps: 10, LayerOverheadMS: 0.01,
				Efficiency: map[OpClass]float64{}, ComputeScale: tc.scale}
			for _, c := range OpClasses {
				m.Efficiency[c] = 0.5
			}
			err := m.Validate()
			if got := fmt.Sprint(err); (tc.err == "" && err != nil) || (tc.err != "" && got != tc.err) {
				t.Errorf("Validate: %v, want %q", err, tc.err)
			}
			if want := map[bool]float64{true: 1, false: tc.scale}[tc.scale == 0]; tc.err == "" && m.Scale() != want {
				t.Errorf("Scale() = %g, want %g", m.Scale(), want)
			}
		})
	}
}

// fitLog parses a run log and fits it, failing the test on an error.
func fitLog(t *testing.T, log string) RuntimeFit {
	t.Helper()
	recs, err := ParseRuntimeLog(strings.NewReader(log), "log")
	if err != nil {
		t.Fatal(err)
	}
	fit, err := FitRuntime(recs)
	if err != nil {
		t.Fatal(err)
	}
	return fit
}

// TestWeightedMedian checks the minimizer of Σ w·|x − v| against a scan.
func TestWeightedMedian(t *testing.T) {
	x := []float64{3, -1, 0.5, 7, 2}
	w := []float64{0.1, 2, 0.3, 0.05, 1}
	got := weightedMedian(x, w)
	cost := func(v float64) (c float64) {
		for i := range x {
			c += w[i] * math.Abs(x[i]-v)
		}
		return c
	}
	for v := -2.0; v <= 8; v += 0.01 {
		if cost(v) < cost(got)-1e-12 {
			t.Fatalf("weightedMedian = %g (cost %g), but %g costs %g", got, cost(got), v, cost(v))
		}
	}
}
