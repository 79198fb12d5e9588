package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// TestRunAdaptive: run --adaptive over a trace-driven uplink (a constant
// 24 Mbps) starts from a measured estimate, logs it on stderr and reports
// its switches, probes and inferences per switch-table row; with --data
// every JSON line adds the row it ran and the estimate, its cut being the
// row's. Without a trace (the formula link hides the uplink from the
// server's receive times) --adaptive is refused with exit 2.
func TestRunAdaptive(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "plan.yaml")
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--tasks", "8,4", "--device", "jetson-nano", "--server", "h100",
		"--network", "ethernet", "--encodings", "fp32", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	p, err := plan.Load(pl)
	if err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(dir, "24mbps.up")
	if err := os.WriteFile(trace, []byte("1\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "run", "--plan", pl, "--adaptive", "--trace", trace, "--n", "6", "-q", "-o", "json")
	if code != 0 {
		t.Fatalf("run --adaptive: exit %d: %s", code, stderr)
	}
	var s runSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	// "estimated": the warm-up's probe measured the uplink before the
	// first decision.
	if !strings.Contains(stderr, "edge 1: adaptive: start in row") || !strings.Contains(stderr, "at estimated") {
		t.Errorf("stderr does not log the first row and its estimate:\n%s", stderr)
	}
	if s.Adaptive == nil {
		t.Fatalf("the summary has no adaptive part: %s", stdout)
	}
	n := 0
	for _, r := range s.Adaptive.Rows {
		n += r.Requests
		if r.Cut != p.SwitchTable[r.Row].Cut || r.TotalP50MS <= 0 {
			t.Errorf("row %+v: want the plan's row %d (cut %s) and a latency", r, r.Row, p.SwitchTable[r.Row].Cut)
		}
	}
	if n != 6 {
		t.Errorf("the rows count %d inferences; 6 ran", n)
	}

	data, _ := labelledSet(t, 4, "file,task1,task2")
	out := filepath.Join(dir, "lines.jsonl")
	if _, stderr, code := run(t, "run", "--plan", pl, "--adaptive", "--trace", trace, "--data", data, "--out", out, "-q"); code != 0 {
		t.Fatalf("run --adaptive --data: exit %d: %s", code, stderr)
	}
	choice := choiceRows(mustDeployment(t, pl))
	for i, l := range readLines(t, out) {
		if l.Row == nil || !(l.EstimateMbps > 0) || l.Cut != p.SwitchTable[*l.Row].Cut || (l.Predicted != nil) != choice[*l.Row] {
			t.Errorf("line %d: row %v, estimate %g Mbps, cut %q, predicted %v: want the row run, its cut, a measured estimate, and the plan's prediction only for its choice's row",
				i+1, l.Row, l.EstimateMbps, l.Cut, l.Predicted)
		}
	}

	_, stderr, code = run(t, "run", "--plan", pl, "--adaptive", "--n", "1")
	if code != 2 || !strings.Contains(stderr, "--adaptive estimates the uplink from the server's receive times") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("--adaptive without --trace: exit %d, %q; want exit 2 and one line saying why", code, stderr)
	}
}

// mustDeployment resolves the plan file's choice.
func mustDeployment(t *testing.T, path string) *splitrun.Deployment {
	t.Helper()
	o := &DeployOptions{Plan: path}
	d, err := o.deployment()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
