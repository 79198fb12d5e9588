package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunTrace: run --trace paces the device's uplink by a trace file (here
// a constant 12 Mbps, the one-line trace "1") and says so; a bad trace and
// contradictory flags are refused with exit 2 naming what was wrong.
func TestRunTrace(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "plan.yaml")
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--device", "rpi4", "--server", "h100",
		"--network", "ethernet", "--encodings", "fp32,int8", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	trace, bad := filepath.Join(dir, "12mbps.up"), filepath.Join(dir, "bad.up")
	if err := os.WriteFile(trace, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("5\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "run", "--plan", pl, "--n", "2", "-q", "--trace", trace, "--trace-delay-ms", "3")
	if code != 0 || !strings.Contains(stdout, "uplink from trace "+trace+", mean 12 Mbps, 3 ms delay") {
		t.Fatalf("run --trace: exit %d: %s%s", code, stderr, stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad trace", []string{"--trace", bad}, "--trace: " + bad + ":2: 3 ms comes before the previous line's 5 ms"},
		{"missing trace", []string{"--trace", filepath.Join(dir, "none.up")}, "none.up"},
		{"with --no-emulate", []string{"--trace", trace, "--no-emulate"}, "choose one"},
		{"delay without trace", []string{"--trace-delay-ms", "5"}, "--trace-delay-ms 5: only with --trace FILE"},
		{"negative delay", []string{"--trace", trace, "--trace-delay-ms", "-1"}, "--trace-delay-ms -1: want 0 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, append([]string{"run", "--plan", pl, "--n", "1"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q, want exit 2 and one line with %q", code, stderr, tc.want)
			}
		})
	}
}
