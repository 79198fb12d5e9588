package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// run executes the CLI with a fixed clock, like a user would.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errw bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &out, Err: &errw, Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
	root := NewRoot(io)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		errw.WriteString("mtlsplit: " + oneLine(err.Error()) + "\n")
	}
	return out.String(), errw.String(), ExitCode(err)
}

// badInput runs the CLI and checks that it exits 2 with one line holding
// every substring of want.
func badInput(t *testing.T, args []string, want ...string) {
	t.Helper()
	_, stderr, code := run(t, args...)
	if code != 2 {
		t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "goroutine") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	badHW := writeFile(t, "hw.yaml", "version: 1\ndevices:\n  - id: my-board\n    name: Board\n    dtype: fp32\n    peak_gflop: {value: 1, source: x}\n")
	badAcc := writeFile(t, "acc.yaml", "version: 1\nentries:\n  - {task: task1, cut: layer3, encoding: int8, accuracy: 1.5}\n")
	tests := []struct {
		name string
		args []string
		want []string // substrings of the one-line message
	}{
		{"unknown model", []string{"plan", "resnet19"}, []string{`unknown model "resnet19"`, "resnet18"}},
		{"unknown model inspect", []string{"inspect", "mobilenet"}, []string{"mobilenet_v3_small"}},
		{"unknown device", []string{"plan", "resnet18", "--device", "jetson-nan"}, []string{"jetson-nano"}},
		{"unknown server", []string{"plan", "resnet18", "--server", "h10"}, []string{"h100"}},
		{"unknown network", []string{"plan", "resnet18", "--network", "wifi7"}, []string{"wifi"}},
		{"bad tasks", []string{"plan", "resnet18", "--tasks", "8,x"}, []string{"--tasks"}},
		{"bad encoding", []string{"plan", "resnet18", "--encodings", "fp8"}, []string{"fp8", "did you mean"}},
		{"bad format", []string{"plan", "resnet18", "-o", "xml"}, []string{"output format"}},
		{"bad objective", []string{"plan", "resnet18", "--objective", "speed"}, []string{"objective", "latency"}},
		{"negative uplink", []string{"plan", "resnet18", "--uplink-mbps", "-3"}, []string{"--uplink-mbps"}},
		{"input too small", []string{"inspect", "vgg16", "--input", "16"}, []string{"too small"}},
		{"missing model", []string{"plan"}, []string{"needs MODEL"}},
		{"unknown flag", []string{"plan", "resnet18", "--bandwidth", "3"}, []string{"unknown flag"}},
		{"unknown yaml field", []string{"plan", "resnet18", "--hw", badHW}, []string{"hw.yaml:6", "peak_gflops"}},
		{"missing hw file", []string{"hw", "--hw", "/nonexistent/hw.yaml"}, []string{"/nonexistent/hw.yaml"}},
		{"bad accuracy table", []string{"plan", "resnet18", "--accuracy", badAcc}, []string{"acc.yaml:3", "entries[0].accuracy is 1.5"}},
		{"floor without table", []string{"plan", "resnet18", "--min-accuracy", "0.9"}, []string{"accuracy table"}},
		{"impossible deadline", []string{"plan", "resnet18", "--deadline-ms", "1"}, []string{"deadline", "fastest choice takes"}},
		{"impossible memory", []string{"plan", "vgg16", "--max-edge-memory-mb", "0.1"}, []string{"edge memory", "needs"}},
		{"bad sweep range", []string{"sweep", "resnet18", "--from", "10", "--to", "1"}, []string{"sweep range"}},
		{"bad plot format", []string{"sweep", "resnet18", "--plot", filepath.Join(t.TempDir(), "x.gif")}, []string{"image format"}},
		{"bad hw section", []string{"hw", "device"}, []string{"devices"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { badInput(t, tc.args, tc.want...) })
	}
}

func TestInspectJSONContract(t *testing.T) {
	stdout, stderr, code := run(t, "inspect", "resnet18", "--input", "224", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Blocks []struct {
			Name     string `json:"name"`
			OutShape []int  `json:"out_shape"`
			Params   int64  `json:"params"`
			MACs     int64  `json:"macs"`
		} `json:"blocks"`
		Layers []struct {
			Name, Op, Block string
			OutShape        []int `json:"out_shape"`
			Params, MACs    int64
		} `json:"layers"`
		Heads  []json.RawMessage            `json:"heads"`
		Totals struct{ Params, MACs int64 } `json:"totals"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	// Ground truth: ../shared/reference/torchvision/backbones_224.json.
	if len(got.Blocks) != 8 || got.Blocks[5].Name != "layer2" || got.Blocks[5].MACs != 411041792 ||
		len(got.Blocks[7].OutShape) != 3 || got.Blocks[7].OutShape[0] != 512 || got.Blocks[7].OutShape[2] != 7 {
		t.Errorf("blocks: %+v", got.Blocks)
	}
	if len(got.Layers) != 58 || got.Layers[0].Op != "Conv2d" || got.Layers[0].Block != "conv1" || got.Layers[0].MACs != 118013952 {
		t.Errorf("layers: %d, first %+v", len(got.Layers), got.Layers[0])
	}
	if got.Totals.Params != 11176512 || got.Totals.MACs != 1813561344 || len(got.Heads) != 2 {
		t.Errorf("totals %+v, %d heads", got.Totals, len(got.Heads))
	}
}

func TestPlanJSONContract(t *testing.T) {
	stdout, stderr, code := run(t, "plan", "mobilenet_v3_small", "--device", "rpi4", "--server", "h100", "--network", "wifi",
		"--encodings", "fp32,fp16,int8", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	choice := got["choice"].(map[string]any)
	for _, k := range []string{"cut", "encoding", "heads"} {
		if _, ok := choice[k]; !ok {
			t.Errorf("choice lacks %s", k)
		}
	}
	predicted := func(m map[string]any) {
		for _, k := range []string{"total_ms", "edge_ms", "network_ms", "server_ms", "bytes", "edge_energy_mj"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("predicted lacks %s: %v", k, m)
			}
		}
	}
	predicted(got["predicted"].(map[string]any))
	total := got["predicted"].(map[string]any)["total_ms"].(float64)
	for _, b := range []string{"local_only", "remote_only", "mtl_split"} {
		bl := got["baselines"].(map[string]any)[b].(map[string]any)
		predicted(bl["predicted"].(map[string]any))
		if bt := bl["predicted"].(map[string]any)["total_ms"].(float64); bt < total-1e-9 {
			t.Errorf("baseline %s (%g ms) beats the optimum (%g ms)", b, bt, total)
		}
	}
	v := got["valid_uplink_mbps"].([]any)
	if lo, hi := v[0].(float64), v[1].(float64); !(lo <= 18.88 && 18.88 <= hi) {
		t.Errorf("valid_uplink_mbps [%g, %g] misses the wifi uplink 18.88", lo, hi)
	}
}

func TestSweepJSONContract(t *testing.T) {
	stdout, stderr, code := run(t, "sweep", "vgg16", "--device", "jetson-tx2", "--encodings", "fp32,fp16,int8,int4", "--from", "0.1", "--to", "1000", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Segments []struct {
			From     float64           `json:"from_mbps"`
			To       float64           `json:"to_mbps"`
			Cut      string            `json:"cut"`
			Encoding string            `json:"encoding"`
			Heads    map[string]string `json:"heads"`
		} `json:"segments"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	s := got.Segments
	if len(s) < 2 || s[0].From != 0.1 || s[len(s)-1].To != 1000 {
		t.Fatalf("segments do not cover 0.1–1000 with a switch: %+v", s)
	}
	for i := 1; i < len(s); i++ {
		same := s[i].Cut == s[i-1].Cut && s[i].Encoding == s[i-1].Encoding && headsString(s[i].Heads) == headsString(s[i-1].Heads)
		if s[i].From != s[i-1].To || same {
			t.Errorf("segments %d and %d: %+v %+v", i-1, i, s[i-1], s[i])
		}
	}
}

func TestPlanOutNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if _, stderr, code := run(t, "plan", "resnet18", "--out", path); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, err := plan.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Model.Name != "resnet18" || len(p.SwitchTable) == 0 {
		t.Errorf("plan %+v", p.Model)
	}
	before, _ := os.ReadFile(path)
	_, stderr, code := run(t, "plan", "vgg16", "--out", path)
	after, _ := os.ReadFile(path)
	if code != 2 || !strings.Contains(stderr, "--force") || !bytes.Equal(before, after) {
		t.Errorf("second write: exit %d, stderr %q, file changed %v", code, stderr, !bytes.Equal(before, after))
	}
	if _, stderr, code := run(t, "plan", "vgg16", "--out", path, "--force"); code != 0 {
		t.Errorf("--force: exit %d: %s", code, stderr)
	}
}

func TestSweepPlotWritesPNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "sweep.png")
	if _, stderr, code := run(t, "sweep", "resnet18", "--plot", png); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{png, filepath.Join(dir, "sweep.svg")} {
		st, err := os.Stat(f)
		if err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestGolden pins the human output of the main commands; refresh with
// go test ./cli -update.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"plan_resnet18_nano_h100_4g", []string{"plan", "resnet18", "--device", "jetson-nano", "--server", "h100", "--network", "4g"}},
		{"plan_effnet_rpi5_wifi_int8", []string{"plan", "efficientnet_b0", "--device", "rpi5", "--server", "a100", "--network", "wifi", "--encodings", "fp32,fp16,int8", "--tasks", "10,5,2"}},
		{"sweep_vgg16_tx2", []string{"sweep", "vgg16", "--device", "jetson-tx2", "--encodings", "fp32,fp16,int8,int4"}},
		{"inspect_mobilenet_64", []string{"inspect", "mobilenet_v3_small", "--input", "64"}},
		{"models", []string{"models"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cli -update)", err)
			}
			if stdout != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, stdout)
			}
		})
	}
}

func TestPlanILPContract(t *testing.T) {
	lp := filepath.Join(t.TempDir(), "model.lp")
	stdout, stderr, code := run(t, "plan", "resnet18", "--device", "rpi4", "--network", "4g", "--encodings", "fp32,int8",
		"--solver", "ilp", "--granularity", "layer", "--export-lp", lp, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Solver struct {
			Name      string   `json:"name"`
			SolveMS   *float64 `json:"solve_ms"`
			Optimal   bool     `json:"optimal"`
			Objective float64  `json:"objective"`
		} `json:"solver"`
		CutTensors []struct {
			Name     string `json:"name"`
			Encoding string `json:"encoding"`
			Bytes    int64  `json:"bytes"`
		} `json:"cut_tensors"`
		Predicted struct {
			TotalMS float64 `json:"total_ms"`
			Bytes   int64   `json:"bytes"`
		} `json:"predicted"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Solver.Name != "ilp" || !got.Solver.Optimal || got.Solver.SolveMS == nil || math.Abs(got.Solver.Objective-got.Predicted.TotalMS) > 1e-6 {
		t.Errorf("solver %+v, total %g", got.Solver, got.Predicted.TotalMS)
	}
	var sum int64
	for _, c := range got.CutTensors {
		sum += c.Bytes
		if c.Name == "" || c.Encoding == "" {
			t.Errorf("cut tensor %+v", c)
		}
	}
	if sum != got.Predicted.Bytes {
		t.Errorf("cut tensors add to %d bytes, predicted %d", sum, got.Predicted.Bytes)
	}
	if st, err := os.Stat(lp); err != nil || st.Size() == 0 {
		t.Errorf("LP not written: %v", err)
	}
	_, stderr, code = run(t, "plan", "resnet18", "--solver", "exhaustive", "--granularity", "layer")
	if code != 2 || !strings.Contains(stderr, "--solver ilp") {
		t.Errorf("exhaustive at layer level: exit %d, %s", code, stderr)
	}
}

func TestPlanThreeTiers(t *testing.T) {
	stdout, stderr, code := run(t, "plan", "resnet18", "--device", "rpi4", "--server", "epyc-16c,h100", "--network", "wifi6,4g",
		"--tiers", "device,edge-server,cloud", "--encodings", "fp32,int8", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Tiers  []struct{ Name, Device, Network string } `json:"tiers"`
		Solver struct {
			Name    string `json:"name"`
			Optimal bool   `json:"optimal"`
		} `json:"solver"`
		Choice struct {
			Heads map[string]string `json:"heads"`
		} `json:"choice"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tiers) != 3 || got.Tiers[2].Device != "h100" || got.Tiers[2].Network != "4g" || got.Solver.Name != "ilp" || !got.Solver.Optimal {
		t.Errorf("tiers %+v, solver %+v", got.Tiers, got.Solver)
	}
	for task, side := range got.Choice.Heads {
		if side != "device" && side != "edge-server" && side != "cloud" {
			t.Errorf("%s runs on %q", task, side)
		}
	}
	for _, bad := range [][]string{
		{"plan", "resnet18", "--server", "epyc-16c,h100", "--network", "wifi6"},
		{"plan", "resnet18", "--server", "epyc-16c,h100", "--network", "wifi6,4g", "--solver", "exhaustive"},
		{"plan", "resnet18", "--server", "epyc-16c,h100", "--network", "wifi6,4g", "--tiers", "a,b"},
	} {
		if _, stderr, code := run(t, bad...); code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q", bad, code, stderr)
		}
	}
}

func TestInferAndProfile(t *testing.T) {
	dir := t.TempDir()
	// A 64×64 input of ones for mobilenet_v3_small.
	x := filepath.Join(dir, "x.f32")
	ones := make([]float32, 3*64*64)
	for i := range ones {
		ones[i] = 1
	}
	if err := os.WriteFile(x, f32Bytes(ones), 0o644); err != nil {
		t.Fatal(err)
	}
	y := filepath.Join(dir, "y.f32")
	if _, stderr, code := run(t, "infer", "mobilenet_v3_small", "--size", "64", "--input", x, "--out", y); code != 0 {
		t.Fatalf("infer: exit %d: %s", code, stderr)
	}
	out, err := readF32(y, 576*2*2)
	if err != nil {
		t.Fatal(err)
	}
	// Split execution equals whole execution: the engine's test checks that
	// bit for bit; here, the same seed gives the same output twice.
	y2 := filepath.Join(dir, "y2.f32")
	run(t, "infer", "mobilenet_v3_small", "--size", "64", "--input", x, "--out", y2)
	a, _ := os.ReadFile(y)
	b, _ := os.ReadFile(y2)
	if !bytes.Equal(a, b) || out[0] == 0 && out[len(out)-1] == 0 {
		t.Errorf("infer is not deterministic or gives zeros")
	}
	if _, stderr, code := run(t, "infer", "mobilenet_v3_small", "--input", x, "--out", filepath.Join(dir, "z.f32")); code != 2 || !strings.Contains(stderr, "150528") {
		t.Errorf("wrong input size: exit %d, %q", code, stderr)
	}
	prof := filepath.Join(dir, "prof.yaml")
	stdout, stderr, code := run(t, "profile", "mobilenet_v3_small", "--input", "64", "--measure", "--granularity", "layer", "--reps", "3", "--warmup", "1", "-o", "json", "--out", prof)
	if code != 0 {
		t.Fatalf("profile: exit %d: %s", code, stderr)
	}
	var got struct {
		Blocks []struct {
			Name      string                        `json:"name"`
			LatencyMS struct{ Median, P90 float64 } `json:"latency_ms"`
		} `json:"blocks"`
		EndToEndMS struct{ Median, P90 float64 } `json:"end_to_end_ms"`
		Layers     []struct {
			Name      string `json:"name"`
			FusedInto string `json:"fused_into"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	fused := 0
	for _, l := range got.Layers {
		if l.FusedInto != "" {
			fused++
		}
	}
	if len(got.Layers) < 100 || fused == 0 {
		t.Errorf("%d layers, %d fused", len(got.Layers), fused)
	}
	if len(got.Blocks) != 13 || got.Blocks[12].Name != "features.12" || !(got.EndToEndMS.Median > 0) || got.EndToEndMS.P90 < got.EndToEndMS.Median {
		t.Errorf("profile: %+v", got)
	}
	for _, b := range got.Blocks {
		if !(b.LatencyMS.Median > 0) || b.LatencyMS.P90 < b.LatencyMS.Median {
			t.Errorf("block %s: %+v", b.Name, b.LatencyMS)
		}
	}
	// The profile feeds the planner and the calibration.
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--device", "epyc-2c", "--profile", prof); code != 0 {
		t.Errorf("plan --profile: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, "calibrate", "--profile", prof, "--device", "epyc-2c"); code != 0 {
		t.Errorf("calibrate: exit %d: %s", code, stderr)
	}
}

// TestInferONNXReference runs the real torchvision export of
// ../shared/reference (mobilenet_v3_small.onnx with its input and PyTorch's
// output) and checks the engine's output within 1e-4 max abs error.
func TestInferONNXReference(t *testing.T) {
	// The shared reference when it is beside the repo, else the copy the
	// onnx package keeps (never a silent skip).
	ref := "../../shared/reference/"
	if _, err := os.Stat(ref + "mobilenet_v3_small.output.f32"); err != nil {
		ref = "../onnx/testdata/"
	}
	out := filepath.Join(t.TempDir(), "y.f32")
	if _, stderr, code := run(t, "infer", ref+"mobilenet_v3_small.onnx", "--input", ref+"mobilenet_v3_small.input.f32", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := readF32(out, 576*7*7)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readF32(ref+"mobilenet_v3_small.output.f32", 576*7*7)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range want {
		worst = max(worst, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("max abs error %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("max abs error %.3g > 1e-4", worst)
	}
	if _, stderr, code := run(t, "profile", ref+"mobilenet_v3_small.onnx", "--measure", "--reps", "2", "--warmup", "0", "-o", "json"); code != 0 {
		t.Errorf("profile of the ONNX file: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, "infer", "../onnx/testdata/unsupported_op.bad.onnx", "--input", ref+"mobilenet_v3_small.input.f32", "--out", out+"2"); code != 2 || !strings.Contains(stderr, "unsupported ONNX op") {
		t.Errorf("unsupported op: exit %d: %q", code, stderr)
	}
}

func TestRunPlanOverSocket(t *testing.T) {
	dir := t.TempDir()
	pl := filepath.Join(dir, "plan.yaml")
	// A fast link and a slow device make mobilenet at 64 px split.
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--device", "rpi4", "--server", "h100",
		"--network", "ethernet", "--encodings", "fp32,int8", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, "run", "--plan", pl, "--n", "3", "--no-emulate", "-o", "json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	var got struct {
		N              int   `json:"n"`
		Bytes          int   `json:"bytes"`
		PredictedBytes int64 `json:"predicted_bytes"`
		Measured       struct {
			TotalMS float64 `json:"total_ms"`
		} `json:"measured"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.N != 3 || !(got.Measured.TotalMS > 0) || int64(got.Bytes) != got.PredictedBytes && got.PredictedBytes != 3*64*64 {
		t.Errorf("run summary %+v", got)
	}
	if _, stderr, code := run(t, "run", "--plan", filepath.Join(dir, "missing.yaml")); code != 2 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing plan: exit %d, %q", code, stderr)
	}
}

func TestPlanONNXModel(t *testing.T) {
	stdout, stderr, code := run(t, "plan", "../onnx/testdata/mobilenet_v3_small.onnx", "--device", "rpi4", "--network", "ethernet",
		"--encodings", "fp32,int8", "--tasks", "5", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Model struct {
			Tasks []struct{ Classes int } `json:"tasks"`
		} `json:"model"`
		Predicted struct {
			TotalMS float64 `json:"total_ms"`
		} `json:"predicted"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Model.Tasks) != 1 || got.Model.Tasks[0].Classes != 5 || !(got.Predicted.TotalMS > 0) {
		t.Errorf("plan of an ONNX model: %+v", got)
	}
}

func TestFidelityFeedsPlan(t *testing.T) {
	acc := filepath.Join(t.TempDir(), "acc.yaml")
	if _, stderr, code := run(t, "profile", "mobilenet_v3_small", "--input", "64", "--fidelity", "3", "--encodings", "int8", "--accuracy-out", acc); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--encodings", "fp32,int8", "--accuracy", acc, "--min-accuracy", "0.5", "-o", "json")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var got struct {
		Predicted struct {
			Accuracy map[string]*float64 `json:"accuracy"`
		} `json:"predicted"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	for task, a := range got.Predicted.Accuracy {
		if a == nil || *a < 0.5 {
			t.Errorf("%s accuracy %v", task, a)
		}
	}
}

// TestInferTinyONNX runs a small torch export that uses what the reference
// model does not (Concat, ReLU6, SiLU, batch norm kept or folded, average
// pooling with padding, Gemm) against PyTorch's output.
func TestInferTinyONNX(t *testing.T) {
	want, err := readF32("../onnx/testdata/tiny.output.f32", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tiny_folded", "tiny_bn"} {
		out := filepath.Join(t.TempDir(), f+".f32")
		if _, stderr, code := run(t, "infer", "../onnx/testdata/"+f+".onnx", "--input", "../onnx/testdata/tiny.input.f32", "--out", out); code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, stderr)
		}
		got, err := readF32(out, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Errorf("%s: output %v, PyTorch %v", f, got, want)
				break
			}
		}
	}
}

func TestRunLayerLevelPlan(t *testing.T) {
	pl := filepath.Join(t.TempDir(), "plan.yaml")
	// mobilenet at 64 px on a slow device over a fast link: the ILP cuts
	// between layers.
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--device", "rpi4", "--network", "ethernet",
		"--encodings", "fp32,int8", "--granularity", "layer", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	p, err := plan.Load(pl)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "run", "--plan", pl, "--n", "2", "--no-emulate", "-o", "json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	var got struct {
		Bytes int `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if p.Choice.Encoding != "uint8" && int64(got.Bytes) != p.Predicted.Bytes {
		t.Errorf("sent %d bytes, plan says %d (cut %s)", got.Bytes, p.Predicted.Bytes, p.Choice.Cut)
	}
}

func TestRunThreeTierPlan(t *testing.T) {
	pl := filepath.Join(t.TempDir(), "plan.yaml")
	if _, stderr, code := run(t, "plan", "mobilenet_v3_small", "--input", "64", "--device", "rpi4", "--server", "epyc-16c,h100",
		"--network", "wifi6,ethernet", "--tiers", "device,edge-server,cloud", "--encodings", "fp32,int8", "--out", pl); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := run(t, "run", "--plan", pl, "--n", "2", "--no-emulate", "-o", "json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"measured"`) {
		t.Errorf("run output %s", stdout)
	}
	if _, stderr, code := run(t, "serve", "--plan", pl, "--tier", "1", "--listen", "127.0.0.1:0"); code != 2 || !strings.Contains(stderr, "--next") {
		t.Errorf("tier 1 without --next: exit %d, %q", code, stderr)
	}
}

// TestCompressedPlanEndToEnd: profile --measure records the zstd sizes,
// the planner may choose "int8+zstd" with them, and the runtime sends it.
func TestCompressedPlanEndToEnd(t *testing.T) {
	dir := t.TempDir()
	prof, pl := filepath.Join(dir, "prof.yaml"), filepath.Join(dir, "plan.yaml")
	if _, stderr, code := run(t, "profile", "resnet18", "--input", "64", "--measure", "--reps", "2", "--warmup", "0", "--out", prof); code != 0 {
		t.Fatalf("profile: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, "plan", "resnet18", "--input", "64", "--encodings", "int8+zstd"); code != 2 || !strings.Contains(stderr, "measured cut sizes") {
		t.Errorf("zstd without a profile: exit %d, %q", code, stderr)
	}
	stdout, stderr, code := run(t, "plan", "resnet18", "--input", "64", "--device", "epyc-2c", "--profile", prof, "--network", "3g",
		"--encodings", "int8,int8+zstd", "-o", "json", "--out", pl)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var got struct {
		Choice struct {
			Encoding string `json:"encoding"`
		} `json:"choice"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "run", "--plan", pl, "--n", "2", "--no-emulate"); code != 0 {
		t.Errorf("run (%s): exit %d: %s", got.Choice.Encoding, code, stderr)
	}
}
