package plan

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// TestLoadGoodAndBad loads every file in testdata: the good ones were
// written by the optimizer (block cut, layer cut, three tiers, local-only,
// remote-only, an ONNX file's); each bad one is a good one with one edit, refused at its
// line and field path, or a plan of an older version, refused with how to
// regenerate it.
func TestLoadGoodAndBad(t *testing.T) {
	bad := map[string][]string{
		"version.bad.yaml":           {"version.bad.yaml:1: version is 4 (this build reads version 3)"},
		"version1.bad.yaml":          {"version1.bad.yaml: version is 1: this build reads version 3 plans", "regenerate the plan with 'mtlsplit plan'"},
		"version2.bad.yaml":          {"version2.bad.yaml: version is 2: this build reads version 3 plans"},
		"unknown_field.bad.yaml":     {`unknown_field.bad.yaml:23: unknown field "objectve" (did you mean "objective"?)`},
		"head_side.bad.yaml":         {`head_side.bad.yaml:40: choice.heads.task2 is "cloud" (want one of edge, server)`},
		"two_docs.bad.yaml":          {"two_docs.bad.yaml:297: a second YAML document"},
		"range.bad.yaml":             {"range.bad.yaml:129: valid_uplink_mbps [30, 2] is not a range", "below.to_mbps 13.822733328559865 is not where"},
		"no_hash.bad.yaml":           {"no_hash.bad.yaml:3: model.hash is empty"},
		"encoding_int3.bad.yaml":     {`encoding_int3.bad.yaml:37: choice.encoding "int3" is unknown (did you mean "int8"`, `:48: cut_tensors[0].encoding "int3" is unknown`},
		"uplink_negative.bad.yaml":   {"uplink_negative.bad.yaml:20: tiers[1].uplink_mbps is -5 (want a finite number > 0)"},
		"rtt_nan.bad.yaml":           {"rtt_nan.bad.yaml:22: tiers[1].rtt_ms is NaN (want a finite number ≥ 0)"},
		"edited_encoding.bad.yaml":   {"edited_encoding.bad.yaml:48: cut_tensors[0].encoding int8 does not match choice.encoding fp16"},
		"bytes.bad.yaml":             {"bytes.bad.yaml:49: cut_tensors[0].bytes 1000 does not match encoding int8 of a 40×28×28 tensor (31368)", ":56: predicted.bytes 31368 is not the 1000 bytes"},
		"shape_missing.bad.yaml":     {"shape_missing.bad.yaml:45: cut_tensors[0].shape is missing"},
		"hop.bad.yaml":               {"hop.bad.yaml:47: cut_tensors[0].hop is 2, but the plan has hops 1 to 1"},
		"total_inf.bad.yaml":         {"total_inf.bad.yaml:52: predicted.total_ms is +Inf"},
		"head_missing.bad.yaml":      {"head_missing.bad.yaml:38: choice.heads places no head for task task2"},
		"min_accuracy_task.bad.yaml": {"min_accuracy_task.bad.yaml:25: constraints.min_accuracy.task3 names no task of the model (task1, task2)"},
		"accuracy_range.bad.yaml":    {"accuracy_range.bad.yaml:63: predicted.accuracy.task1 is 1.5 (want a fraction in [0, 1])"},
		"switch_gap.bad.yaml":        {"switch_gap.bad.yaml:180: switch_table[1].from_mbps 4 does not continue the row before"},
		"none_sends.bad.yaml":        {"none_sends.bad.yaml:37: choice.encoding is none, but cut_tensors lists 1 tensor(s)", `:40: choice.heads.task2 is "server", but nothing leaves the device`},
		"uint8_feature.bad.yaml":     {"uint8_feature.bad.yaml:48: cut_tensors[0].encoding is uint8 for node 74", ":49: cut_tensors[0].bytes 31368 does not match encoding uint8 of a 40×28×28 tensor (31360)"},
		"task_later.bad.yaml":        {"task_later.bad.yaml:60: predicted.task_ms.task1 80 ms is later than total_ms"},
		"tiers_network.bad.yaml":     {"tiers_network.bad.yaml:", "tiers[2].network is empty"},
		"row_placement.bad.yaml":     {"switch_table[2] (the row of valid_uplink_mbps) is not the choice's placement"},
		"source_sha.bad.yaml":        {`source_sha.bad.yaml:15: model.source.sha256 "619AF2`, "is not a SHA-256 (want 64 lowercase hex digits)"},
		"source_kind.bad.yaml":       {`source_kind.bad.yaml:13: model.source.kind "tflite" is unknown`},
		"source_outputs.bad.yaml":    {`source_outputs.bad.yaml:16: model.source.outputs[1] "hue" is empty or listed before`, "model.source.outputs lists 3 output(s) for 2 task(s)"},
		"source_zoo_file.bad.yaml":   {"source_zoo_file.bad.yaml:13: model.source.kind is zoo, which names no file"},
		"input_tier.bad.yaml":        {"input_tier.bad.yaml:43: choice.node_tiers[0] is 1, but the input (node 0) is on the device"},
	}
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) < len(bad)+5 {
		t.Fatalf("%d test files (%v)", len(files), err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			p, err := Load(path)
			if strings.HasSuffix(name, ".good.yaml") {
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Validate(); err != nil {
					t.Errorf("loaded, but Validate says %v", err)
				}
				return
			}
			want, ok := bad[name]
			if !ok {
				t.Fatalf("no expected error for %s: add it to the table", name)
			}
			if err == nil {
				t.Fatal("loaded a bad plan")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// TestValidateInCode: a plan built in code is checked the same way, its
// problems named by field path alone.
func TestValidateInCode(t *testing.T) {
	p, err := Load("testdata/effnet_rpi4_wifi.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.CutTensors[0].Encoding = "fp16"
	p.Tiers[1].RTTMS = math.NaN()
	err = p.Validate()
	for _, w := range []string{"cut_tensors[0].encoding fp16 does not match choice.encoding int8", "cut_tensors[0].bytes 31368 does not match encoding fp16 of a 40×28×28 tensor (62720)", "tiers[1].rtt_ms is NaN"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if err != nil && strings.Contains(err.Error(), "line ") {
		t.Errorf("a plan built in code has no lines: %v", err)
	}
}

func TestWriteRoundTripAndNoOverwrite(t *testing.T) {
	p, err := Load("testdata/effnet_rpi4_wifi.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := p.Write(path, false); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Predicted.TotalMS != p.Predicted.TotalMS || q.Model.Hash != p.Model.Hash || len(q.SwitchTable) != len(p.SwitchTable) {
		t.Errorf("round trip changed the plan")
	}
	before, _ := os.ReadFile(path)
	q.Objective = "energy"
	if err := q.Write(path, false); !errors.Is(err, atomicfile.ErrExists) {
		t.Errorf("overwrite without asking: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("file changed")
	}
	if err := q.Write(path, true); err != nil {
		t.Fatal(err)
	}
	if r, _ := Load(path); r.Objective != "energy" {
		t.Errorf("overwrite did not happen")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".plan.yaml.*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestWriteRefusesInvalid(t *testing.T) {
	p := &Plan{Version: Version}
	if err := p.Write(filepath.Join(t.TempDir(), "x.yaml"), false); err == nil {
		t.Error("an empty plan was written")
	}
}

// FuzzParse: no input makes Parse panic; whatever it accepts validates.
func FuzzParse(f *testing.F) {
	good, _ := os.ReadFile("testdata/effnet_rpi4_wifi.good.yaml")
	f.Add(good)
	f.Add([]byte("version: 3\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err == nil && p.Validate() != nil {
			t.Errorf("accepted an invalid plan")
		}
	})
}
