package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/measure"
	"github.com/mtlsplit/mtlsplit/plan"
)

// splitPlan writes the plan of mobilenet_v3_small at 64 px that cuts after
// features.4 and sends fp32 to a server running both heads (extra: more
// plan flags, e.g. an edge memory bound).
func splitPlan(t *testing.T, extra ...string) (string, *plan.Plan) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.yaml")
	args := append([]string{"plan", "mobilenet_v3_small", "--input", "64", "--tasks", "8,4", "--device", "rpi4", "--server", "h100",
		"--network", "wifi", "--uplink-mbps", "100", "--rtt-ms", "1", "--encodings", "fp32", "--out", path}, extra...)
	if _, stderr, code := run(t, args...); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	p, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Choice.Cut != "features.4" || p.Choice.Encoding != "fp32" {
		t.Fatalf("the plan cuts after %s in %s, the test wants features.4 fp32", p.Choice.Cut, p.Choice.Encoding)
	}
	return path, p
}

// labelledSet writes n seeded 64×64 PNGs with labels.csv (header given,
// two label columns below 8 and 4) and returns the directory and rows.
func labelledSet(t *testing.T, n int, header string) (string, [][2]int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	csv := header + "\n"
	var labels [][2]int
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
		for y := range 64 {
			for x := range 64 {
				img.SetNRGBA(x, y, color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
			}
		}
		name := fmt.Sprintf("img/%02d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		l := [2]int{rng.IntN(8), rng.IntN(4)}
		labels = append(labels, l)
		csv += fmt.Sprintf("%s,%d,%d\n", name, l[0], l[1])
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, labels
}

// readLines parses a JSON lines file.
func readLines(t *testing.T, path string) []runLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []runLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l runLine
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// TestRunDataLabelled: every input of a labelled set gets one JSON line in
// labels.csv order, with each task's class the argmax of its logits, the
// labels, the plan's cut, the bytes sent and measured against predicted
// parts; the summary's accuracy is what the lines say, with the Wilson
// interval; --limit answers the first N.
func TestRunDataLabelled(t *testing.T) {
	pl, p := splitPlan(t)
	data, labels := labelledSet(t, 7, "file,task1,task2")
	out := filepath.Join(t.TempDir(), "r.jsonl")
	stdout, stderr, code := run(t, "run", "--plan", pl, "--data", data, "--out", out, "--no-emulate", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := readLines(t, out)
	if len(lines) != len(labels) {
		t.Fatalf("%d lines for %d inputs", len(lines), len(labels))
	}
	correct := [2]int{}
	for i, l := range lines {
		if want := fmt.Sprintf("img/%02d.png", i); l.Input != want || l.Error != "" || l.Fallback {
			t.Fatalf("line %d: input %s (want %s), error %q, fallback %v", i, l.Input, want, l.Error, l.Fallback)
		}
		if l.Cut != "features.4" || l.Bytes != 2560 || l.Measured == nil || !(l.Measured.TotalMS > 0) || !(l.Measured.ServerMS > 0) ||
			l.Predicted == nil || l.Predicted.TotalMS != p.Predicted.TotalMS || l.Predicted.NetworkMS != p.Predicted.NetworkMS {
			t.Errorf("line %d: cut %s bytes %d measured %+v predicted %+v", i, l.Cut, l.Bytes, l.Measured, l.Predicted)
		}
		for k, task := range []string{"task1", "task2"} {
			a := l.Tasks[task]
			best := 0
			for j, v := range a.Logits {
				if v > a.Logits[best] {
					best = j
				}
			}
			if len(a.Logits) != []int{8, 4}[k] || a.Class != best {
				t.Errorf("line %d %s: class %d of logits %v", i, task, a.Class, a.Logits)
			}
			if l.Labels[task] != labels[i][k] {
				t.Errorf("line %d %s: label %d, labels.csv %d", i, task, l.Labels[task], labels[i][k])
			}
			if a.Class == labels[i][k] {
				correct[k]++
			}
		}
	}
	var s dataSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("summary: %v: %s", err, stdout)
	}
	if s.Inputs != 7 || s.Answered != 7 || s.Fallbacks != 0 || s.Failed != 0 || s.Split.N != 7 || s.Split.Bytes != 2560 ||
		!(s.TotalP50MS > 0 && s.TotalP50MS <= s.TotalP95MS && s.TotalP95MS <= s.TotalP99MS) || !(s.PerSecond > 0) {
		t.Errorf("summary %+v", s)
	}
	if len(s.Accuracy) != 2 {
		t.Fatalf("accuracy %+v", s.Accuracy)
	}
	for k, a := range s.Accuracy {
		lo, hi := measure.Wilson(correct[k], 7)
		if a.Correct != correct[k] || a.N != 7 || a.Accuracy != float64(correct[k])/7 || a.CILow != lo || a.CIHigh != hi {
			t.Errorf("task %d: %+v, recomputed %d/7 [%g, %g]", k, a, correct[k], lo, hi)
		}
	}
	// The table, and --limit.
	stdout, stderr, code = run(t, "run", "--plan", pl, "--data", data, "--out", out, "--force", "--no-emulate", "--limit", "3")
	if code != 0 || len(readLines(t, out)) != 3 {
		t.Fatalf("--limit 3: exit %d, %d lines: %s", code, len(readLines(t, out)), stderr)
	}
	for _, want := range []string{"3 inputs on 1 edges: 3 answered (0 by the device alone), 0 failed", "p95", "MEASURED ms", "ACCURACY [95% Wilson CI]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}

// TestRunDataConcurrency: three edges give every input the same classes
// and logits as one (fp32, bit for bit), each input once, in order.
func TestRunDataConcurrency(t *testing.T) {
	pl, _ := splitPlan(t)
	data, _ := labelledSet(t, 9, "file,task1,task2")
	var runs [][]runLine
	for _, k := range []string{"1", "3"} {
		out := filepath.Join(t.TempDir(), "r.jsonl")
		if _, stderr, code := run(t, "run", "--plan", pl, "--data", data, "--out", out, "--no-emulate", "--concurrency", k, "--threads", "1"); code != 0 {
			t.Fatalf("--concurrency %s: exit %d: %s", k, code, stderr)
		}
		runs = append(runs, readLines(t, out))
	}
	if len(runs[0]) != 9 || len(runs[1]) != 9 {
		t.Fatalf("%d and %d lines for 9 inputs", len(runs[0]), len(runs[1]))
	}
	for i := range runs[0] {
		a, b := runs[0][i], runs[1][i]
		if a.Input != b.Input || !reflect.DeepEqual(a.Tasks, b.Tasks) || b.Fallback {
			t.Errorf("input %d: %s %v against %s %v", i, a.Input, a.Tasks, b.Input, b.Tasks)
		}
	}
}

// TestRunDataFallback: with the server's address dead, a plan whose device
// can run the whole model answers every input there, marked as a fallback
// with the local-only baseline's cut and prediction, exit 0; a plan whose
// device cannot (its local-only baseline breaks the edge memory bound)
// writes an error line per input and exits non-zero.
func TestRunDataFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	data, _ := labelledSet(t, 4, "file,task1,task2")
	t.Run("device can", func(t *testing.T) {
		pl, p := splitPlan(t)
		out := filepath.Join(t.TempDir(), "r.jsonl")
		stdout, stderr, code := run(t, "run", "--plan", pl, "--data", data, "--out", out, "--server", "http://"+dead, "--timeout", "2s")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		lines := readLines(t, out)
		for i, l := range lines {
			if !l.Fallback || l.Error != "" || l.Cut != p.Baselines.LocalOnly.Cut || l.Predicted.TotalMS != p.Baselines.LocalOnly.Predicted.TotalMS ||
				l.Bytes != 0 || !strings.Contains(l.Reason, "connect http://"+dead) || len(l.Tasks) != 2 {
				t.Errorf("line %d: %+v", i, l)
			}
		}
		if len(lines) != 4 || !strings.Contains(stdout, "4 answered (4 by the device alone), 0 failed") || !strings.Contains(stdout, "connection refused") {
			t.Errorf("%d lines; summary:\n%s", len(lines), stdout)
		}
	})
	t.Run("device cannot", func(t *testing.T) {
		pl, p := splitPlan(t, "--max-edge-memory-mb", "3")
		if p.Baselines.LocalOnly.Feasible {
			t.Fatal("the local-only baseline fits 3 MB: the test needs a plan whose device cannot run the model")
		}
		out := filepath.Join(t.TempDir(), "r.jsonl")
		stdout, stderr, code := run(t, "run", "--plan", pl, "--data", data, "--out", out, "--server", "http://"+dead)
		if code == 0 || strings.Count(stderr, "\n") > 2 || !strings.Contains(stderr, "4 of 4 inputs have no answer") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		lines := readLines(t, out)
		for i, l := range lines {
			if l.Fallback || l.Tasks != nil || l.Measured != nil || !strings.Contains(l.Error, "cannot run the whole model") {
				t.Errorf("line %d: %+v", i, l)
			}
		}
		if len(lines) != 4 || !strings.Contains(stdout, "0 answered (0 by the device alone), 4 failed") {
			t.Errorf("%d lines; summary:\n%s", len(lines), stdout)
		}
	})
}

// TestRunDataBadFlags: bad --data flags exit 2 with one line naming the
// flag and what would be valid.
func TestRunDataBadFlags(t *testing.T) {
	pl, _ := splitPlan(t)
	data, _ := labelledSet(t, 2, "file,task1,task2")
	three, _ := labelledSet(t, 2, "file,a,b")
	if err := os.WriteFile(filepath.Join(three, "labels.csv"), []byte("file,a,b,c\nimg/00.png,1,1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exists := writeFile(t, "r.jsonl", "")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"concurrency 0", []string{"--data", data, "--concurrency", "0"}, []string{"--concurrency 0", "1 to 256"}},
		{"negative limit", []string{"--data", data, "--limit", "-1"}, []string{"--limit -1", "0 (all inputs)"}},
		{"negative timeout", []string{"--data", data, "--timeout", "-1s"}, []string{"--timeout -1s", "positive duration"}},
		{"input and data", []string{"--data", data, "--input", "x.f32"}, []string{"--input x.f32 with --data", "give one"}},
		{"n with data", []string{"--data", data, "--n", "5"}, []string{"--n times one input", "--limit N"}},
		{"out without data", []string{"--out", "r.jsonl"}, []string{"--out is read with --data DIR"}},
		{"concurrency without data", []string{"--concurrency", "2"}, []string{"--concurrency is read with --data DIR"}},
		{"missing data", []string{"--data", filepath.Join(data, "nope")}, []string{"nope: no such directory"}},
		{"existing out", []string{"--data", data, "--out", exists}, []string{"--out " + exists, "--force"}},
		{"columns mismatch", []string{"--data", three}, []string{"3 label columns (a,b,c)", "2 task heads (task1,task2)"}},
		{"bad resize", []string{"--data", data, "--resize", "big"}, []string{"--resize", "want none, exact"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			badInput(t, append([]string{"run", "--plan", pl, "--no-emulate"}, tc.args...), tc.want...)
		})
	}
}

// TestRunDataUnlabelledAndPreprocess: a folder of images without
// labels.csv gets lines without labels and a summary without accuracy; a
// plan that records how its inputs were prepared prepares them so without
// flags (images of another size are resized as it says), runs flags that
// say the same and refuses flags that say otherwise, naming both.
func TestRunDataUnlabelledAndPreprocess(t *testing.T) {
	pl, _ := splitPlan(t)
	data, _ := labelledSet(t, 3, "file,task1,task2")
	if err := os.Remove(filepath.Join(data, "labels.csv")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r.jsonl")
	stdout, stderr, code := run(t, "run", "--plan", pl, "--data", data, "--out", out, "--no-emulate", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := readLines(t, out)
	if len(lines) != 3 || lines[0].Input != "img/00.png" || lines[0].Labels != nil || len(lines[0].Tasks) != 2 || strings.Contains(stdout, `"accuracy"`) {
		t.Errorf("%d lines, first %+v; summary %s", len(lines), lines[0], stdout)
	}
	raw, err := os.ReadFile(pl)
	if err != nil {
		t.Fatal(err)
	}
	const recorded = "image → RGB [0,1] → resize to 64×64 (bilinear) → NCHW float32 3×64×64"
	text := strings.Replace(string(raw), "    kind: zoo\n", "    kind: zoo\n    preprocess: "+recorded+"\n", 1)
	prepared := writeFile(t, "prepared.yaml", text)
	badInput(t, []string{"run", "--plan", prepared, "--data", data, "--no-emulate", "--resize", "none"},
		"prepared as \""+recorded+"\" (model.source.preprocess)", "these flags prepare \"image → RGB [0,1] → no resize")
	for _, flags := range [][]string{nil, {"--resize", "exact"}} {
		if _, stderr, code := run(t, append([]string{"run", "--plan", prepared, "--data", data, "--no-emulate", "--out", out, "--force"}, flags...)...); code != 0 {
			t.Errorf("%v: exit %d: %s", flags, code, stderr)
		}
	}
	// 80×80 images: refused as they are, resized to 64×64 as the plan records.
	big := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 80, 80))
	f, err := os.Create(filepath.Join(big, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	badInput(t, []string{"run", "--plan", pl, "--data", big, "--no-emulate"}, "a.png", "80")
	if _, stderr, code := run(t, "run", "--plan", prepared, "--data", big, "--no-emulate", "--out", out, "--force"); code != 0 || len(readLines(t, out)) != 1 {
		t.Errorf("80×80 with the plan's resize: exit %d: %s", code, stderr)
	}
}
