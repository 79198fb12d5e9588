package cli

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExperimentAdaptive runs the whole pipeline on a tiny study: a
// 6-second LTE-like trace that drops from 12 to 1.2 Mbps halfway, one
// combo; it must write the CSV, a figure per trace and the README.
func TestExperimentAdaptive(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for ms := 1; ms <= 3000; ms++ {
		fmt.Fprintf(&b, "%d\n", ms)
	}
	for ms := 3010; ms <= 6000; ms += 10 {
		fmt.Fprintf(&b, "%d\n", ms)
	}
	trace := filepath.Join(dir, "tiny-LTE.up")
	if err := os.WriteFile(trace, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"experiment", "adaptive", "--trace", trace, "--combos", "resnet18:rpi4:h100", "--out", out, "-q"}
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"adaptive.csv", "README.md", "timeline_tiny-LTE.png", "timeline_tiny-LTE.svg"} {
		if !strings.Contains(stdout, filepath.Join(out, f)) {
			t.Errorf("output does not mention %s:\n%s", f, stdout)
		}
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(out, "adaptive.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || recs[1][5] != "adaptive" || recs[1][0] != "tiny-LTE.up" || recs[1][1] != "6.600" {
		t.Errorf("adaptive.csv: %d lines, first row %v; want a header and 5 strategies over a 6.6 Mbps-mean trace (3300 packets in 6 s)", len(recs), recs[1])
	}
	readme, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !strings.Contains(string(readme), "## Against the goal") {
		t.Error("README.md lacks the verdict")
	}
	// A second run refuses to overwrite without --force, then replaces.
	if _, stderr, code := run(t, args...); code != 2 || !strings.Contains(stderr, "--force") {
		t.Errorf("second run: exit %d, %q; want 2 and a hint at --force", code, stderr)
	}
	if _, stderr, code := run(t, append(args, "--force")...); code != 0 {
		t.Errorf("--force: exit %d: %s", code, stderr)
	}
}

func TestExperimentAdaptiveRejects(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "c.up")
	if err := os.WriteFile(trace, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.up")
	if err := os.WriteFile(bad, []byte("1\nfive\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"combo", []string{"--combos", "resnet18:rpi4"}, `--combos "resnet18:rpi4": want model:device:server`},
		{"unknown model", []string{"--combos", "resnet19:rpi4:h100", "--trace", trace}, "resnet19"},
		{"no trace", []string{"--trace", filepath.Join(dir, "none.up")}, "none.up\": no such file"},
		{"bad trace", []string{"--trace", bad}, "bad.up:2: \"five\" is not a whole"},
		{"duration", []string{"--duration", "-1", "--trace", trace}, "--duration -1"},
		{"encodings", []string{"--encodings", "fp33", "--trace", trace}, "--encodings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"experiment", "adaptive", "--out", filepath.Join(dir, "o"), "-q"}, tc.args...)
			_, stderr, code := run(t, args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr, tc.want)
			}
		})
	}
}
