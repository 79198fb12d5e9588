package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func csvNum(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return v
}

// TestReproduceTiny runs every reproduction experiment end to end on tiny
// sizes (one backbone, 32 scenes at 32 px, one epoch), so the pipeline
// from rendering to README cannot rot, and checks what must hold whatever
// the accuracies: the plan never loses to a baseline and meets the
// measured floors, each task has one MTL-Split point, a rerun reads the
// cache.
func TestReproduceTiny(t *testing.T) {
	out, cache := t.TempDir(), t.TempDir()
	args := []string{"experiment", "all", "--backbones", "mobilenet_v3_small", "--seeds", "1", "--n", "32", "--epochs", "1",
		"--test-n", "32", "--holdout-n", "32", "--accuracy-n", "16", "--size", "32", "--out", out, "--cache", cache, "-q"}
	stdout, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"stl-vs-mtl/stl_vs_mtl.csv", "stl-vs-mtl/runs.csv", "stl-vs-mtl/stl_vs_mtl.png", "stl-vs-mtl/stl_vs_mtl.svg",
		"accuracy-bytes/accuracy_bytes.csv", "accuracy-bytes/accuracy_bytes_mobilenet_v3_small.svg",
		"bandwidth/bandwidth.csv", "bandwidth/bandwidth_mobilenet_v3_small_rpi4.png", "dads/dads.csv", "dads/speedup.svg", "dads/vs_cloud.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v (stdout %s)", f, err, stdout)
		}
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<!-- begin reproduce -->", "<!-- begin stl-vs-mtl -->", "<!-- begin accuracy-bytes -->",
		"<!-- begin bandwidth -->", "<!-- begin dads -->", "32 training scenes × 1 epochs", "make reproduce-full"} {
		if !strings.Contains(string(readme), s) {
			t.Errorf("README lacks %q", s)
		}
	}
	stl := readCSV(t, filepath.Join(out, "stl-vs-mtl/stl_vs_mtl.csv"))
	if len(stl) != 4 { // MTL and STL × scale and shape
		t.Errorf("%d STL-vs-MTL rows, want 4", len(stl))
	}
	for _, r := range stl {
		for _, k := range []string{"ood_mean", "in_dist_mean"} {
			if v := csvNum(t, r[k]); v < 0 || v > 1 {
				t.Errorf("%s %s %s = %g", r["kind"], r["task"], k, v)
			}
		}
	}
	split := map[string]int{}
	for _, r := range readCSV(t, filepath.Join(out, "accuracy-bytes/accuracy_bytes.csv")) {
		if r["mtl_split"] == "true" {
			split[r["task"]]++
			if r["cut"] != "features.12" || r["encoding"] != "fp32" || r["bytes"] != strconv.Itoa(4*576) {
				t.Errorf("MTL-Split's point %v: want features.12, fp32, %d bytes", r, 4*576)
			}
		}
	}
	if split["scale"] != 1 || split["shape"] != 1 {
		t.Errorf("MTL-Split points per task %v, want one each", split)
	}
	bw := readCSV(t, filepath.Join(out, "bandwidth/bandwidth.csv"))
	if len(bw) != 2*25 {
		t.Errorf("%d bandwidth rows, want 50", len(bw))
	}
	for _, r := range bw {
		plan := csvNum(t, r["plan_ms"])
		for _, k := range []string{"local_only_ms", "remote_only_ms", "mtl_split_ms"} {
			if plan > csvNum(t, r[k])*(1+1e-9) {
				t.Errorf("%s at %s Mbps: plan %g ms slower than %s %s", r["device"], r["uplink_mbps"], plan, k, r[k])
			}
		}
		acc, floors := strings.Split(r["accuracy(scale;shape)"], ";"), strings.Split(r["floors(scale;shape)"], ";")
		for i := range acc {
			if csvNum(t, acc[i]) < csvNum(t, floors[i])-1e-12 {
				t.Errorf("%s at %s Mbps: accuracy %s below floor %s", r["device"], r["uplink_mbps"], acc[i], floors[i])
			}
		}
	}
	// A rerun reads every model from the cache: the same numbers.
	before, _ := os.ReadFile(filepath.Join(out, "stl-vs-mtl/runs.csv"))
	if _, stderr, code := run(t, append([]string{"experiment", "stl-vs-mtl", "--force"}, args[2:]...)...); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	after, _ := os.ReadFile(filepath.Join(out, "stl-vs-mtl/runs.csv"))
	if string(before) != string(after) {
		t.Errorf("the rerun changed runs.csv:\n%s\n%s", before, after)
	}
}

func TestReproduceBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"recipe", []string{"--recipe", "huge"}, `--recipe "huge": want reduced or paper`},
		{"backbone", []string{"--backbones", "resnet19"}, `unknown backbone "resnet19"`},
		{"seeds", []string{"--seeds", "one"}, `--seeds "one"`},
		{"negative", []string{"--n", "-3"}, "negative"},
		{"lr", []string{"--lr", "-1"}, "--lr -1 must be positive"},
		{"too few scenes", []string{"--n", "4"}, "4 training scenes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			badInput(t, append([]string{"experiment", "stl-vs-mtl", "--out", t.TempDir(), "--cache", t.TempDir()}, tt.args...), tt.want)
		})
	}
}
