package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/export"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// writePlan runs "mtlsplit plan" into dir and returns the plan's path.
func writePlan(t *testing.T, dir string, args ...string) string {
	t.Helper()
	path := filepath.Join(dir, "plan.yaml")
	if _, stderr, code := run(t, append(append([]string{"plan"}, args...), "--out", path)...); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	return path
}

// checkTolerances asserts what Check promises on every output: each file
// equals the plan's model on the same inputs up to float rounding, and a
// task's result chained over the wire differs from the full model by no
// more than the engine's own split does (exactly that on the engine).
func checkTolerances(t *testing.T, rt string, ds []export.OutputDiff, engine bool) {
	t.Helper()
	if len(ds) == 0 {
		t.Fatalf("%s: no outputs checked", rt)
	}
	for _, d := range ds {
		tol := export.FP32Tolerance * max(d.Scale, 1)
		if d.Half > tol || (engine && d.Half != 0) {
			t.Errorf("%s %s %s: half differs by %g (tolerance %g)", rt, d.File, d.Output, d.Half, tol)
		}
		if d.Result && (d.EndToEnd > 2*d.Quantization+tol || (engine && d.EndToEnd != d.Quantization)) {
			t.Errorf("%s %s %s: end to end %g, the engine's split %g", rt, d.File, d.Output, d.EndToEnd, d.Quantization)
		}
		t.Logf("%s %s %s: half %.3g, end to end %.3g, quantization %.3g, scale %.3g", rt, d.File, d.Output, d.Half, d.EndToEnd, d.Quantization, d.Scale)
	}
}

// TestExportCheck exports zoo and ONNX plans — a block cut in int8, the
// raw image, a three-tier plan, all on the device, an ONNX file with the
// plan's heads — checks them, and reads the manifest and Triton config
// back.
func TestExportCheck(t *testing.T) {
	ort := export.FindORT()
	if ort == "" {
		t.Log("ONNX Runtime not found ($ORT_LIB, or make bench-engine's cache): the files are checked on the engine only")
	}
	for _, tc := range []struct {
		name  string
		args  []string
		files []string // ONNX files, in tier order
		cut   string   // the first hop's encoding
	}{
		{"efficientnet_b0 int8 block cut", []string{"efficientnet_b0", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--encodings", "int8", "--uplink-mbps", "20"},
			[]string{"edge.onnx", "server.onnx"}, "int8"},
		{"resnet18 raw image", []string{"resnet18", "--input", "64", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--uplink-mbps", "100", "--encodings", "fp32"},
			[]string{"edge.onnx", "server.onnx"}, "int8"},
		{"three tiers", []string{"efficientnet_b0", "--tiers", "device,edge-server,cloud", "--device", "rpi4", "--server", "epyc-16c,h100", "--network", "wifi6,4g", "--encodings", "fp32,int8"},
			[]string{"edge.onnx", "server_1.onnx"}, "int8"},
		{"all on the device", []string{"mobilenet_v3_small", "--input", "64", "--device", "rpi4", "--server", "h100", "--network", "wifi"},
			[]string{"edge.onnx"}, ""},
		{"onnx file", []string{"../onnx/testdata/mobilenet_v3_small.onnx", "--tasks", "5,3", "--device", "rpi4", "--network", "ethernet", "--encodings", "fp32,int8"},
			[]string{"edge.onnx", "server.onnx"}, "int8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			planPath := writePlan(t, dir, tc.args...)
			out := filepath.Join(dir, "out")
			args := []string{"export", "--plan", planPath, "--out", out, "--check", "--samples", "2", "--ort-lib", ort}
			stdout, stderr, code := run(t, args...)
			if code != 0 {
				t.Fatalf("export: exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "engine") {
				t.Errorf("no check table: %s", stdout)
			}
			var m export.Manifest
			data, err := os.ReadFile(filepath.Join(out, export.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range m.Files {
				got = append(got, f.Name)
				b, err := os.ReadFile(filepath.Join(out, f.Name))
				if err != nil {
					t.Fatal(err)
				}
				if export.SHA256(b) != f.SHA256 || len(b) != f.Bytes {
					t.Errorf("%s: sha %s, %d bytes; manifest %s, %d", f.Name, export.SHA256(b), len(b), f.SHA256, f.Bytes)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.files, ",") {
				t.Errorf("files %v, want %v", got, tc.files)
			}
			planSum, _ := plan.FileSHA256(planPath)
			if m.Plan.SHA256 != planSum || m.Check == nil {
				t.Fatalf("manifest plan sha %s (want %s), check %v", m.Plan.SHA256, planSum, m.Check)
			}
			if tc.cut != "" && (len(m.Wire) == 0 || len(m.Wire[0].Tensors) == 0 || m.Wire[0].Tensors[0].Encoding != tc.cut || m.Wire[0].Tensors[0].Decode == "") {
				t.Errorf("wire %+v, want the first tensor in %s with its decoding", m.Wire, tc.cut)
			}
			checkTolerances(t, "engine", m.Check.Engine, true)
			if ort == "" {
				t.Log("ONNX Runtime check skipped: no libonnxruntime.so")
			} else {
				checkTolerances(t, "ort", m.Check.ORT, false)
				// Two samples as one batch, as Triton batches them.
				if b := m.Check.ORTBatchMaxAbs; b > 1e-3 {
					t.Errorf("ort: a batch differs from its samples alone by %g", b)
				}
				t.Logf("ort: batch of 2 against each alone: %.3g", m.Check.ORTBatchMaxAbs)
			}
			if len(tc.files) > 1 {
				name := strings.TrimSuffix(tc.files[len(tc.files)-1], ".onnx")
				cfg, err := os.ReadFile(filepath.Join(out, "triton", name, "config.pbtxt"))
				if err != nil {
					t.Fatal(err)
				}
				model, err := os.ReadFile(filepath.Join(out, "triton", name, "1", "model.onnx"))
				if err != nil {
					t.Fatal(err)
				}
				last := m.Files[len(m.Files)-1]
				if export.SHA256(model) != last.SHA256 {
					t.Errorf("triton model.onnx is not %s", last.Name)
				}
				for _, want := range []string{`platform: "onnxruntime_onnx"`, `name: "` + last.Inputs[0].Name + `"`, "data_type: TYPE_FP32", "max_batch_size: 8"} {
					if !strings.Contains(string(cfg), want) {
						t.Errorf("config.pbtxt lacks %q:\n%s", want, cfg)
					}
				}
			}
		})
	}
}

// TestExportFP32Wire sends a block cut in fp32 (the plan's int8 tensor
// switched to fp32 in memory): the files chained equal the full model up
// to float rounding.
func TestExportFP32Wire(t *testing.T) {
	dir := t.TempDir()
	p, err := plan.Load(writePlan(t, dir, "efficientnet_b0", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--encodings", "int8", "--uplink-mbps", "20"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.CutTensors {
		p.CutTensors[i].Encoding = string(codec.FP32)
	}
	_, rep := buildChecked(t, p)
	for _, ds := range [][]export.OutputDiff{rep.Engine, rep.ORT} {
		for _, d := range ds {
			tol := export.FP32Tolerance * max(d.Scale, 1)
			if d.Result && (d.Quantization != 0 || d.EndToEnd > tol) {
				t.Errorf("%s %s: fp32 wire differs from the full model by %g (split runtime %g, tolerance %g)", d.File, d.Output, d.EndToEnd, d.Quantization, tol)
			}
			t.Logf("%s %s: half %.3g, end to end %.3g, scale %.3g", d.File, d.Output, d.Half, d.EndToEnd, d.Scale)
		}
	}
}

func TestExportBadInput(t *testing.T) {
	dir := t.TempDir()
	planPath := writePlan(t, dir, "../onnx/testdata/mobilenet_v3_small.onnx", "--tasks", "5", "--device", "rpi4", "--network", "ethernet")
	p, err := plan.Load(planPath)
	if err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, "other.onnx", "not the plan's file")
	zooPlan := writePlan(t, t.TempDir(), "resnet18", "--input", "32", "--device", "rpi4", "--server", "h100", "--network", "wifi")
	exists := t.TempDir()
	if err := os.WriteFile(filepath.Join(exists, "edge.onnx"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no plan", []string{"export", "--out", filepath.Join(dir, "o")}, []string{"--plan FILE is required"}},
		{"missing plan", []string{"export", "--plan", filepath.Join(dir, "nope.yaml"), "--out", filepath.Join(dir, "o")}, []string{"nope.yaml"}},
		{"no out", []string{"export", "--plan", planPath}, []string{"--out DIR is required"}},
		{"model mismatch", []string{"export", "--plan", planPath, "--model", other, "--out", filepath.Join(dir, "o")}, []string{"SHA-256", p.Model.Source.SHA256}},
		{"existing out", []string{"export", "--plan", zooPlan, "--out", exists}, []string{exists, "exists", "--force"}},
		{"out is a file", []string{"export", "--plan", zooPlan, "--out", other}, []string{"is a file"}},
		{"samples", []string{"export", "--plan", zooPlan, "--out", filepath.Join(dir, "o"), "--samples", "0"}, []string{"--samples 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) { badInput(t, tc.args, tc.want...) })
	}
	// Nothing of the user's was touched.
	if b, _ := os.ReadFile(filepath.Join(exists, "edge.onnx")); string(b) != "mine" {
		t.Errorf("edge.onnx was replaced: %q", b)
	}
}

// TestProfileORT times an export's files under ONNX Runtime (skipped
// without the library) and refuses what is not an export directory.
func TestProfileORT(t *testing.T) {
	dir := t.TempDir()
	planPath := writePlan(t, dir, "resnet18", "--input", "64", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--uplink-mbps", "100")
	out := filepath.Join(dir, "out")
	if _, stderr, code := run(t, "export", "--plan", planPath, "--out", out); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	badInput(t, []string{"profile", out, "--measure", "--backend", "onnx"}, `--backend "onnx"`, "engine or ort")
	badInput(t, []string{"profile", planPath, "--measure", "--backend", "ort", "--ort-lib", planPath}, "give the directory")
	badInput(t, []string{"profile", out, "--backend", "ort", "--ort-lib", planPath}, "takes --measure")
	badInput(t, []string{"profile", dir, "--measure", "--backend", "ort", "--ort-lib", planPath}, "has no manifest.yaml")
	ort := export.FindORT()
	if ort == "" {
		t.Skip("ONNX Runtime not found ($ORT_LIB, or make bench-engine's cache): not timed")
	}
	stdout, stderr, code := run(t, "profile", out, "--measure", "--backend", "ort", "--ort-lib", ort, "--reps", "3", "--warmup", "1", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ts []export.FileTiming
	if err := yaml.Unmarshal([]byte(stdout), &ts); err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].File != "edge.onnx" || ts[1].File != "server.onnx" || !(ts[1].MedianMS > 0) || ts[1].P90MS < ts[1].MedianMS {
		t.Errorf("timings %+v", ts)
	}
	// A file changed after export is refused, naming it.
	if err := os.WriteFile(filepath.Join(out, "server.onnx"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	badInput(t, []string{"profile", out, "--measure", "--backend", "ort", "--ort-lib", ort}, "server.onnx has SHA-256")
}

// TestExportTwoTensorCut cuts resnet18 inside its first residual block
// (after layer1.0.relu, the plan edited in memory), so that the device
// sends two tensors — the branch and the skip — in different encodings:
// both files name both, and the check holds.
func TestExportTwoTensorCut(t *testing.T) {
	p, err := plan.Load(writePlan(t, t.TempDir(), "resnet18", "--input", "64", "--device", "rpi4", "--server", "h100", "--network", "wifi", "--uplink-mbps", "100"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.New("resnet18", 64, p.Classes())
	if err != nil {
		t.Fatal(err)
	}
	cut := -1
	for _, n := range g.Nodes {
		if n.Name == "layer1.0.relu" {
			cut = n.ID
			break
		}
	}
	for id := range p.Choice.NodeTiers {
		p.Choice.NodeTiers[id] = 0
		if id > cut {
			p.Choice.NodeTiers[id] = 1
		}
	}
	for task := range p.Choice.Heads {
		p.Choice.Heads[task] = p.Tiers[1].Name
	}
	send := func(node int, e codec.Encoding) plan.CutTensor {
		s := g.Nodes[node].OutShape
		return plan.CutTensor{Name: g.Nodes[node].Name, Node: node, Hop: 1, Encoding: string(e), Bytes: e.Bytes(s.Elems()), Shape: s}
	}
	// What crosses: the branch (cut) and the block's input, which the
	// residual add reads.
	crossing := map[int]bool{}
	for _, n := range g.Nodes[cut+1:] {
		for _, in := range n.Inputs {
			if in <= cut {
				crossing[in] = true
			}
		}
	}
	skip := -1
	for id := range crossing {
		if id != cut {
			skip = id
		}
	}
	if len(crossing) != 2 || !crossing[cut] || skip > cut {
		t.Fatalf("crossing %v: want the branch %d and the skip", crossing, cut)
	}
	p.CutTensors = []plan.CutTensor{send(skip, codec.FP16), send(cut, codec.Int8)}
	b, rep := buildChecked(t, p)
	m := b.Manifest
	if len(m.Files) != 2 || len(m.Files[0].Outputs) != 2 || len(m.Files[1].Inputs) != 2 || len(m.Wire[0].Tensors) != 2 {
		t.Fatalf("files %+v, wire %+v: want two tensors from edge.onnx to server.onnx", m.Files, m.Wire)
	}
	if w := m.Wire[0].Tensors; w[0].Encoding != "fp16" || w[1].Encoding != "int8" || w[1].Quantization == nil || w[0].Quantization != nil {
		t.Errorf("wire %+v: want the skip in fp16, the branch in int8 with its quantization layout", w)
	}
	checkTolerances(t, "engine", rep.Engine, true)
	if rep.ORT != nil {
		checkTolerances(t, "ort", rep.ORT, false)
	}
}

// buildChecked exports an edited plan (seed 1) and checks it on two
// samples, on the engine and, where present, ONNX Runtime.
func buildChecked(t *testing.T, p *plan.Plan) (*export.Bundle, *export.CheckReport) {
	t.Helper()
	d, err := splitrun.Prepare(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := export.Build(d, 1, export.Identity{PlanFile: "plan.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.Check(2, export.FindORT())
	if err != nil {
		t.Fatal(err)
	}
	return b, rep
}
