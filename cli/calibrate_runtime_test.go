package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
)

// writeRunLog writes a run log of 30 inputs over 4g whose measured times
// carry a 5 ms overhead per request, 1 ms to encode and 2 ms to decode.
func writeRunLog(t *testing.T) string {
	return writeRunLogEdge(t, func(pe float64) float64 { return pe + 1 })
}

// writeRunLogEdge is writeRunLog with the edge's measured ms edge(predicted).
func writeRunLogEdge(t *testing.T, edge func(pe float64) float64) string {
	var b strings.Builder
	for i := range 30 {
		bytes := 20000 + 5000*i
		pe, pn, ps := 40.0, 30+float64(bytes)*8/5.85e3, 3.0
		me, mn, ms := edge(pe), pn+5, ps+2
		fmt.Fprintf(&b, `{"input":"%d","cut":"layer3","bytes":%d,"measured":{"total_ms":%g,"edge_ms":%g,"network_ms":%g,"server_ms":%g},"predicted":{"total_ms":%g,"edge_ms":%g,"network_ms":%g,"server_ms":%g},"fallback":false}`+"\n",
			i, bytes, me+mn+ms, me, mn, ms, pe+pn+ps, pe, pn, ps)
	}
	path := filepath.Join(t.TempDir(), "run.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCalibrateRuntime(t *testing.T) {
	log := writeRunLog(t)
	out := filepath.Join(t.TempDir(), "runtime.yaml")
	stdout, stderr, code := run(t, "calibrate", "--runtime", log, "--network", "4g", "--device", "rpi4", "--server", "h100", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"fitted to 30 inputs", "overhead_ms", "5 ", "network  ", "+0.0%"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The file is a catalog the planner takes with --hw, with the terms.
	cat, err := hwprofiles.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cat.Network("4g")
	if err != nil {
		t.Fatal(err)
	}
	d, err := cat.Device("rpi4")
	if err != nil {
		t.Fatal(err)
	}
	s, err := cat.Server("h100")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"network overhead_ms", n.OverheadMS.Value, 5}, {"rpi4 tensor_encode_ms", d.TensorEncodeMS.Value, 1}, {"h100 tensor_decode_ms", s.TensorDecodeMS.Value, 2}} {
		if math.Abs(c.got-c.want) > 0.05*c.want {
			t.Errorf("%s = %g, want %g ± 5%%", c.name, c.got, c.want)
		}
	}
	if !strings.HasPrefix(n.OverheadMS.Source, "fitted: mtlsplit calibrate --runtime run.jsonl") {
		t.Errorf("source %q does not cite the fit", n.OverheadMS.Source)
	}
	// Planned with it, a split pays the terms.
	plain, _, code := run(t, "plan", "resnet18", "--device", "rpi4", "--network", "4g", "--uplink-mbps", "1000", "-o", "json")
	if code != 0 {
		t.Fatal("plan failed")
	}
	fitted, stderr, code := run(t, "plan", "resnet18", "--device", "rpi4", "--network", "4g", "--uplink-mbps", "1000", "--hw", out, "-o", "json")
	if code != 0 {
		t.Fatalf("plan --hw: exit %d: %s", code, stderr)
	}
	type planJSON struct {
		Choice    struct{ Cut string }
		Predicted struct {
			TotalMS float64 `json:"total_ms"`
		}
	}
	var a, b planJSON
	if err := json.Unmarshal([]byte(plain), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(fitted), &b); err != nil {
		t.Fatal(err)
	}
	// The same split (the image over 1000 Mbps) costs 5 + 1 + 2 ms more.
	if a.Choice.Cut != "input" || b.Choice.Cut != a.Choice.Cut || math.Abs(b.Predicted.TotalMS-a.Predicted.TotalMS-8) > 0.05 {
		t.Errorf("plan without terms: %s %.3f ms; with: %s %.3f ms; want the same cut (input), 8 ms more", a.Choice.Cut, a.Predicted.TotalMS, b.Choice.Cut, b.Predicted.TotalMS)
	}
}

func TestCalibrateRuntimeRejects(t *testing.T) {
	log := writeRunLog(t)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"bytes\": 5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"both", []string{"--runtime", log, "--profile", "x.json"}, "not both"},
		{"out without entries", []string{"--runtime", log, "--out", filepath.Join(t.TempDir(), "o.yaml")}, "--out needs the catalog entries"},
		{"bad line", []string{"--runtime", bad}, "bad.jsonl:1: cut is missing for 5 bytes sent"},
		{"missing file", []string{"--runtime", "nope.jsonl"}, "nope.jsonl"},
		{"unknown network", []string{"--runtime", log, "--network", "4gg", "--out", filepath.Join(t.TempDir(), "o.yaml")}, "--network"},
		{"network without runtime", []string{"--profile", "x.json", "--network", "4g"}, "--network and --server go with --runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"calibrate"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr, tc.want)
			}
		})
	}
}

// TestCalibrateRuntimeIdle fits a log whose server slows with its idle gap
// (1.2 · (1 − exp(−gap/100 ms)) on top of 5 ms, gaps 10 to 280 ms): the
// catalog gets the server's term with its source, and a plan made with it
// predicts the server stage slower at 1 Mbps than at 1000 Mbps.
func TestCalibrateRuntimeIdle(t *testing.T) {
	var b strings.Builder
	for i := range 120 {
		gap := []float64{10, 14, 40, 280}[i%4] * (0.95 + 0.1*float64(i%7)/6)
		ms := 5 * (1 + 1.2*(1-math.Exp(-gap/100)))
		fmt.Fprintf(&b, `{"input":"%d","cut":"layer3","bytes":32768,"server_idle_ms":%g,"measured":{"total_ms":%g,"edge_ms":8,"network_ms":3,"server_ms":%g},"predicted":{"total_ms":16,"edge_ms":8,"network_ms":3,"server_ms":5},"fallback":false}`+"\n",
			i, gap, 11+ms, ms)
	}
	log := filepath.Join(t.TempDir(), "idle.jsonl")
	if err := os.WriteFile(log, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "runtime.yaml")
	stdout, stderr, code := run(t, "calibrate", "--runtime", log, "--server", "epyc-16c", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"idle_tau_ms", "server: warm·(1+c·(1−exp(−gap/tau)))", "note: device idle term: 0 records"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	cat, err := hwprofiles.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cat.Server("epyc-16c")
	if err != nil {
		t.Fatal(err)
	}
	if c, tau := s.IdleColdFrac.Value, s.IdleTauMS.Value; math.Abs(c-1.2) > 0.1 || math.Abs(tau-100) > 15 {
		t.Errorf("idle term %g, %g ms; want 1.2, 100 ms", c, tau)
	}
	if !strings.Contains(s.IdleTauMS.Source, "idle term") || !strings.HasPrefix(s.IdleTauMS.Source, "fitted: mtlsplit calibrate --runtime idle.jsonl") {
		t.Errorf("source %q does not cite the fit", s.IdleTauMS.Source)
	}
	server := func(mbps string, hw ...string) float64 {
		js, stderr, code := run(t, append([]string{"plan", "resnet18", "--input", "128", "--device", "epyc-2c", "--server", "epyc-16c", "--network", "ethernet",
			"--encodings", "fp32,fp16", "--max-edge-memory-mb", "20", "--uplink-mbps", mbps, "-o", "json"}, hw...)...)
		if code != 0 {
			t.Fatalf("plan at %s Mbps: exit %d: %s", mbps, code, stderr)
		}
		var p struct {
			Predicted struct {
				ServerMS float64 `json:"server_ms"`
			}
		}
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		return p.Predicted.ServerMS
	}
	// The cut crosses 1 Mbps in hundreds of ms: the server is cold
	// (factor 1 + 1.2·(1 − exp(−gap/100)) ≥ 2.1); at 1000 Mbps the gap is
	// the edge's few ms and the link's: the factor is well under 2.
	slow, fast := server("1", "--hw", out)/server("1"), server("1000", "--hw", out)/server("1000")
	if !(slow > 2.1 && slow < 2.2 && fast > 1 && fast < 1.9) {
		t.Errorf("server stage with the term over without: %g at 1 Mbps, %g at 1000 Mbps; want 2.1–2.2 and 1–1.9", slow, fast)
	}
}

// TestCalibrateRuntimeComputeScale: a device whose profile over-predicts
// its compute by 15% gets a compute_scale of 1/1.15 in the catalog, no
// per-tensor term and no "came out negative" note, and a plan made with it
// predicts the device's stage 1/1.15 of the plain one.
func TestCalibrateRuntimeComputeScale(t *testing.T) {
	log := writeRunLogEdge(t, func(pe float64) float64 { return pe / 1.15 })
	out := filepath.Join(t.TempDir(), "runtime.yaml")
	stdout, stderr, code := run(t, "calibrate", "--runtime", log, "--device", "rpi4", "--server", "h100", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "compute_scale") || !strings.Contains(stdout, "0.8696") || strings.Contains(stdout, "negative") {
		t.Errorf("output lacks compute_scale 0.8696 or notes a negative term:\n%s", stdout)
	}
	cat, err := hwprofiles.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	d, err := cat.Device("rpi4")
	if err != nil {
		t.Fatal(err)
	}
	if d.ComputeScale.Value != 0.8696 || d.TensorEncodeMS.Value != 0 || !strings.Contains(d.ComputeScale.Source, "fitted: mtlsplit calibrate --runtime") {
		t.Errorf("rpi4 compute_scale %+v, tensor_encode_ms %g; want 0.8696 with its source and 0", d.ComputeScale, d.TensorEncodeMS.Value)
	}
	// At 1 kbps the plan keeps everything on the device: its stage is the
	// device's compute alone.
	edgeMS := func(args ...string) float64 {
		t.Helper()
		js, stderr, code := run(t, append([]string{"plan", "resnet18", "--device", "rpi4", "--network", "4g", "--uplink-mbps", "0.001", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("plan %v: exit %d: %s", args, code, stderr)
		}
		var p struct {
			Predicted struct {
				EdgeMS    float64 `json:"edge_ms"`
				NetworkMS float64 `json:"network_ms"`
			} `json:"predicted"`
		}
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		if p.Predicted.NetworkMS != 0 {
			t.Fatalf("plan %v sends at 1 kbps (network %g ms)", args, p.Predicted.NetworkMS)
		}
		return p.Predicted.EdgeMS
	}
	plain, fitted := edgeMS(), edgeMS("--hw", out)
	if !(plain > 0) || math.Abs(fitted-0.8696*plain) > 1e-6*plain {
		t.Errorf("edge %g ms with the fit, %g without: want 0.8696×", fitted, plain)
	}
}
