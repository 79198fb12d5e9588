package hwprofiles

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sourcePrefixes are the forms a Source may take in the embedded catalog.
var sourcePrefixes = []string{"https://", "measured: ", "derived: ", "estimate: ", "fitted: "}

// numbers lists every Number of a device or network by its YAML key path.
func numbers(v any) map[string]Number {
	out := map[string]Number{}
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := range rt.NumField() {
		if !rt.Field(i).IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
		switch f := rv.Field(i).Interface().(type) {
		case Number:
			out[tag] = f
		case map[string]Number:
			for k, n := range f {
				out[tag+"."+k] = n
			}
		}
	}
	return out
}

func mustDefault(t *testing.T) *Catalog {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return c
}

func TestEmbeddedFilesParse(t *testing.T) {
	files := DefaultFiles()
	if len(files) < 3 {
		t.Fatalf("embedded catalog files = %v, want devices, servers and networks", files)
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(catalogFS, name)
			if err != nil {
				t.Fatal(err)
			}
			c, probs := parse(name, data)
			if c != nil {
				probs = append(probs, c.problems()...)
			}
			if len(probs) > 0 {
				t.Fatal(newValidationError(probs))
			}
		})
	}
}

func TestDefaultContractIDs(t *testing.T) {
	c := mustDefault(t)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	tests := []struct {
		kind string
		ids  []string
		have []string
	}{
		{"edge", []string{"jetson-nano", "jetson-tx2", "jetson-xavier-nx", "jetson-orin-nano", "rpi3", "rpi4", "rpi5", "epyc-2c"}, c.DeviceIDs()},
		{"server", []string{"h100", "a100", "epyc-16c", "cpu-8c"}, c.ServerIDs()},
		{"network", []string{"cat1", "3g", "4g", "wifi", "5g", "wifi6", "ethernet"}, c.NetworkIDs()},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			for _, id := range tt.ids {
				found := false
				for _, h := range tt.have {
					found = found || h == id
				}
				if !found {
					t.Errorf("%s %q missing from the embedded catalog (have %v)", tt.kind, id, tt.have)
				}
			}
		})
	}
}

func TestDefaultEveryNumberHasSource(t *testing.T) {
	c := mustDefault(t)
	check := func(t *testing.T, id string, v any) {
		t.Helper()
		for key, n := range numbers(v) {
			if n == (Number{}) {
				continue // optional and absent
			}
			if n.Value <= 0 || math.IsInf(n.Value, 0) || math.IsNaN(n.Value) {
				t.Errorf("%s %s.value = %v, want > 0", id, key, n.Value)
			}
			ok := false
			for _, p := range sourcePrefixes {
				ok = ok || strings.HasPrefix(n.Source, p)
			}
			if !ok {
				t.Errorf("%s %s.source = %q, want it to start with one of %q", id, key, n.Source, sourcePrefixes)
			}
		}
	}
	for _, d := range append(c.Devices, c.Servers...) {
		t.Run(d.ID, func(t *testing.T) {
			check(t, d.ID, d)
			if d.IdlePowerW.Value >= d.ActivePowerW.Value {
				t.Errorf("idle power %v W >= active power %v W", d.IdlePowerW.Value, d.ActivePowerW.Value)
			}
			if d.File == "" || d.Line == 0 {
				t.Errorf("File, Line = %q, %d; want the place it was read from", d.File, d.Line)
			}
		})
	}
	for _, n := range c.Networks {
		t.Run(n.ID, func(t *testing.T) { check(t, n.ID, n) })
	}
}

func TestDefaultNumbers(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		name       string
		get        func() (Number, error)
		want       float64
		wantSource string // prefix
	}{
		// DADS (INFOCOM 2019) Table I uplinks.
		{"cat1 uplink", netNum(c, "cat1", func(n Network) Number { return n.UplinkMbps }), 0.13, "https://doi.org/10.1109/INFOCOM.2019.8737614"},
		{"3g uplink", netNum(c, "3g", func(n Network) Number { return n.UplinkMbps }), 1.1, "https://doi.org/10.1109/INFOCOM.2019.8737614"},
		{"4g uplink", netNum(c, "4g", func(n Network) Number { return n.UplinkMbps }), 5.85, "https://doi.org/10.1109/INFOCOM.2019.8737614"},
		{"wifi uplink", netNum(c, "wifi", func(n Network) Number { return n.UplinkMbps }), 18.88, "https://doi.org/10.1109/INFOCOM.2019.8737614"},
		// Huang et al. LTE model at the 4g uplink: 438.39*5.85 + 1288.04 mW.
		{"4g tx power", netNum(c, "4g", func(n Network) Number { return n.TxPowerW }), 3.853, "derived: Huang"},
		{"h100 overhead", srvNum(c, "h100", func(d Device) Number { return d.LayerOverheadMS }), 0.006874, "fitted: mtlsplit calibrate h100_fp16_b1_224.json"},
		{"h100 peak", srvNum(c, "h100", func(d Device) Number { return d.PeakGFLOPS }), 989400, "https://"},
		{"h100 bandwidth", srvNum(c, "h100", func(d Device) Number { return d.MemBandwidthGBps }), 67000, "fitted: mtlsplit calibrate h100_fp16_b1_224.json"},
		{"h100 memory", srvNum(c, "h100", func(d Device) Number { return d.MemoryMB }), 81920, "https://"},
		{"h100 power", srvNum(c, "h100", func(d Device) Number { return d.ActivePowerW }), 700, "https://"},
		{"epyc-2c peak", devNum(c, "epyc-2c", func(d Device) Number { return d.PeakGFLOPS }), 332.8, "measured: epyc2c_fp32_b1_224.json"},
		{"epyc-2c overhead", devNum(c, "epyc-2c", func(d Device) Number { return d.LayerOverheadMS }), 0.001593, "fitted: mtlsplit calibrate epyc2c_fp32_b1_224.json"},
		{"rpi4 peak", devNum(c, "rpi4", func(d Device) Number { return d.PeakGFLOPS }), 4 * 1.5 * 8, "derived: 4 cores x 1.5 GHz x 8"},
		{"rpi3 peak", devNum(c, "rpi3", func(d Device) Number { return d.PeakGFLOPS }), 4 * 1.2 * 8, "derived: 4 cores x 1.2 GHz x 8"},
		{"rpi3 LPDDR2", devNum(c, "rpi3", func(d Device) Number { return d.MemBandwidthGBps }), 4 * 0.9, "derived: 32-bit LPDDR2 at 900 MT/s"},
		{"cpu-8c peak", srvNum(c, "cpu-8c", func(d Device) Number { return d.PeakGFLOPS }), 8 * 2.5 * 32, "derived: 8 cores x 2.5 GHz x 32"},
		{"rpi5 peak", devNum(c, "rpi5", func(d Device) Number { return d.PeakGFLOPS }), 4 * 2.4 * 16, "derived: 4 cores x 2.4 GHz x 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(n.Value-tt.want) > 1e-9*math.Abs(tt.want) {
				t.Errorf("value = %v, want %v", n.Value, tt.want)
			}
			if !strings.HasPrefix(n.Source, tt.wantSource) {
				t.Errorf("source = %q, want prefix %q", n.Source, tt.wantSource)
			}
		})
	}
}

func devNum(c *Catalog, id string, f func(Device) Number) func() (Number, error) {
	return func() (Number, error) { d, err := c.Device(id); return f(d), err }
}

func srvNum(c *Catalog, id string, f func(Device) Number) func() (Number, error) {
	return func() (Number, error) { d, err := c.Server(id); return f(d), err }
}

func netNum(c *Catalog, id string, f func(Network) Number) func() (Number, error) {
	return func() (Number, error) { n, err := c.Network(id); return f(n), err }
}

func TestMeasuredTables(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		id, kind, table, dtype string
	}{
		{"h100", KindServer, "h100_fp16_b1_224.json", "fp16"},
		{"epyc-2c", KindEdge, "epyc2c_fp32_b1_224.json", "fp32"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			var d Device
			var err error
			if tt.kind == KindServer {
				d, err = c.Server(tt.id)
			} else {
				d, err = c.Device(tt.id)
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Measured != tt.table {
				t.Fatalf("Measured = %q, want %q", d.Measured, tt.table)
			}
			b, err := MeasuredTable(d.Measured)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := os.ReadFile(filepath.Join("..", "..", "shared", "reference", "measured", tt.table))
			if err == nil && string(ref) != string(b) {
				t.Errorf("embedded %s differs from ../shared/reference/measured/%s", tt.table, tt.table)
			}
			var table struct {
				Meta struct {
					Dtype string `json:"dtype"`
					Batch int    `json:"batch"`
				} `json:"meta"`
			}
			if err := json.Unmarshal(b, &table); err != nil {
				t.Fatalf("measured table is not JSON: %v", err)
			}
			if table.Meta.Dtype != d.Dtype || table.Meta.Dtype != tt.dtype {
				t.Errorf("table dtype %q, device dtype %q, want %q", table.Meta.Dtype, d.Dtype, tt.dtype)
			}
			if table.Meta.Batch != 1 {
				t.Errorf("table batch = %d, want 1", table.Meta.Batch)
			}
		})
	}
	for _, name := range []string{"", "nope.json", "../catalog/devices.yaml", "measured/h100_fp16_b1_224.json", "h100_fp16_b1_224"} {
		t.Run("unknown/"+name, func(t *testing.T) {
			_, err := MeasuredTable(name)
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("MeasuredTable(%q) error = %v, want ErrUnknown", name, err)
			}
		})
	}
}

func TestDefaultReturnsCopy(t *testing.T) {
	c := mustDefault(t)
	c.Devices[0].Efficiency["conv"] = Number{Value: 42, Source: "changed"}
	c.Networks[0].UplinkMbps.Value = 42
	c2 := mustDefault(t)
	if c2.Devices[0].Efficiency["conv"].Value == 42 || c2.Networks[0].UplinkMbps.Value == 42 {
		t.Fatal("changing what Default returned changed the next Default")
	}
}

func TestLoadFileGood(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := LoadFile(f)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if len(c.Devices)+len(c.Servers)+len(c.Networks) == 0 {
				t.Fatal("no entries")
			}
			for _, d := range c.Servers {
				if d.Kind != KindServer || d.File != f || d.Line == 0 {
					t.Errorf("server %q: Kind, File, Line = %q, %q, %d", d.ID, d.Kind, d.File, d.Line)
				}
			}
			for _, d := range c.Devices {
				if d.Kind != KindEdge {
					t.Errorf("device %q: Kind = %q", d.ID, d.Kind)
				}
			}
		})
	}
}

func TestLoadFileBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the error, in any order
	}{
		{"unknown_field.bad.yaml", []string{`unknown_field.bad.yaml:6: unknown field "peak_gflop" in a device (did you mean "peak_gflops"?)`}},
		{"missing_source.bad.yaml", []string{`missing_source.bad.yaml:6: device "rpi9": peak_gflops.source is empty`}},
		{"duplicate_id.bad.yaml", []string{`duplicate_id.bad.yaml:18: device "rpi9": defined twice (first at testdata/duplicate_id.bad.yaml:3)`}},
		{"bad_version.bad.yaml", []string{`bad_version.bad.yaml:1: version 2 is not supported; want version: 1`}},
		{"missing_version.bad.yaml", []string{`missing_version.bad.yaml:1: version is missing`}},
		{"two_documents.bad.yaml", []string{`two_documents.bad.yaml:19: a second YAML document is not allowed`}},
		{"negative_value.bad.yaml", []string{`negative_value.bad.yaml:8: device "rpi9": memory_mb.value is -1 (want a finite number > 0)`}},
		{"nan_value.bad.yaml", []string{`nan_value.bad.yaml:8: device "rpi9": memory_mb.value is NaN (want a finite number > 0)`}},
		{"idle_power.bad.yaml", []string{`idle_power.bad.yaml:17: device "rpi9": idle_power_w.value 9 W exceeds active_power_w 6.3 W`}},
		{"missing_required.bad.yaml", []string{`missing_required.bad.yaml:3: device "rpi9": memory_mb is missing`}},
		{"bad_efficiency_key.bad.yaml", []string{
			`bad_efficiency_key.bad.yaml:11: device "rpi9": efficiency key "convv" is unknown (did you mean "conv" or "conv3x3" or "conv1x1"?)`,
			`bad_efficiency_key.bad.yaml:10: device "rpi9": efficiency.conv is missing`,
		}},
		{"bad_overhead_key.bad.yaml", []string{`bad_overhead_key.bad.yaml:18: device "rpi9": overhead_ms key "bn" is unknown (valid: conv, depthwise, linear, elementwise, pool, norm)`}},
		{"efficiency_range.bad.yaml", []string{`efficiency_range.bad.yaml:15: device "rpi9": efficiency.pool.value is 1.5 (want a fraction in (0, 1])`}},
		{"bad_id.bad.yaml", []string{`bad_id.bad.yaml:3: device "RPi_9": id must be lowercase letters, digits and '-'`}},
		{"kind_mismatch.bad.yaml", []string{`kind_mismatch.bad.yaml:4: device "rpi9": kind "server" disagrees with the devices: list`}},
		{"bad_stack.bad.yaml", []string{
			`bad_stack.bad.yaml:19: stack "my-bord/ncnnn": device "my-bord" is not an edge device of the catalog (did you mean "my-board"?)`,
			`bad_stack.bad.yaml:20: stack "my-bord/ncnnn": stack "ncnnn" is unknown (did you mean "ncnn"?)`,
			`bad_stack.bad.yaml:22: stack "my-bord/ncnnn": unit "npu" is not "cpu" or "gpu"`,
			`bad_stack.bad.yaml:23: stack "my-bord/ncnnn": precision "bf16" is not fp32, fp16 or int8`,
			`bad_stack.bad.yaml:33: stack "my-bord/ncnnn": efficiency.linear.value is 1.5 (want a fraction in (0, 1])`,
			`stack "my-board/ncnn": a CPU stack needs threads ≥ 1`,
			`stack "my-board/ncnn": clock_ghz is missing`,
		}},
		{"bad_dtype.bad.yaml", []string{`bad_dtype.bad.yaml:5: device "rpi9": dtype "bf16" is not "fp32", "fp16" or "int8"`}},
		{"scalar_number.bad.yaml", []string{`scalar_number.bad.yaml:6: cannot unmarshal !!int`, `want {value: ..., source: ...}`}},
		{"unknown_measured.bad.yaml", []string{`unknown_measured.bad.yaml:4: device "rpi9": measured table "nosuch_fp32.json" is not embedded`}},
		{"network_missing.bad.yaml", []string{`network_missing.bad.yaml:3: network "lan": tx_power_w is missing`}},
		{"runtime_terms.bad.yaml", []string{`runtime_terms.bad.yaml:9: network "lan": overhead_ms.value is -2 (want a finite number ≥ 0)`}},
		{"idle_term.bad.yaml", []string{`idle_term.bad.yaml:3: device "rpi9": idle_tau_ms is missing: idle_cold_frac needs its time constant`, `idle_term.bad.yaml:33: device "rpi8": idle_tau_ms.value is 0 (want a finite number > 0)`}},
		{"compute_scale.bad.yaml", []string{`compute_scale.bad.yaml:17: device "cs1": compute_scale.value is 1.5 (want a fraction in (0, 1])`, `compute_scale.bad.yaml:32: device "cs2": compute_scale.value is 0 (want a fraction in (0, 1])`}},
		{"empty.bad.yaml", []string{`empty.bad.yaml: file is empty`}},
		{"syntax.bad.yaml", []string{`syntax.bad.yaml:3: did not find expected`}},
		{"many.bad.yaml", []string{
			`many.bad.yaml:2: version 3 is not supported`,
			`many.bad.yaml:4: device "Bad_Id": id must be lowercase`,
			`many.bad.yaml:4: device "Bad_Id": memory_mb is missing`,
			`many.bad.yaml:9: device "Bad_Id": layer_overhead_ms.source is empty`,
			`many.bad.yaml:11: device "Bad_Id": efficiency.conv.value is 0 (want a fraction in (0, 1])`,
			`many.bad.yaml:11: device "Bad_Id": efficiency.conv.source is empty`,
			`many.bad.yaml:13: device "Bad_Id": efficiency.linear.value is 0 (want a fraction in (0, 1])`,
			`many.bad.yaml:15: device "Bad_Id": efficiency.pool.source is empty`,
			`many.bad.yaml:21: network "lan": uplink_mbps.value is -5 (want a finite number > 0)`,
		}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			c, err := LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile(%s) = %d devices, no error; want an error", path, len(c.Devices))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if !strings.Contains(msg, path) {
				t.Errorf("error does not name the file %s: %s", path, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q\n got: %s", w, msg)
				}
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			if len(ve.Problems) == 0 {
				t.Error("ValidationError without problems")
			}
		})
	}
	bad, _ := filepath.Glob("testdata/*.bad.yaml")
	for _, f := range bad {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in the table", f)
		}
	}
}

// TestParseEdgeCases covers inputs that are awkward to keep as files.
func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // empty: valid
	}{
		{"top-level list", "- a\n- b\n", []string{"x.yaml:1: cannot unmarshal"}},
		{"devices not a list", "version: 1\ndevices: 5\n", []string{"x.yaml:2: cannot unmarshal"}},
		{"only a comment", "# nothing\n", []string{"x.yaml: file is empty"}},
		{"empty second document", "version: 1\n---\n", []string{"x.yaml:3: a second YAML document"}},
		{"broken second document", "version: 1\n---\n: : :\n", []string{"a second YAML document", "x.yaml:2:"}},
		{"leading document marker", "---\nversion: 1\n", nil},
		{"unknown key in a number", "version: 1\nnetworks:\n  - id: x\n    name: y\n    uplink_mbps: {value: 1, sauce: z}\n",
			[]string{`x.yaml:5: unknown field "sauce" in a number (did you mean "source"?)`}},
		{"unknown top-level key", "version: 1\nnetwork: []\n", []string{`x.yaml:2: unknown field "network" in the top level (did you mean "networks"?)`}},
		{"null entry", "version: 1\ndevices:\n  - null\n", []string{"x.yaml:3: empty entry in the devices: list"}},
		{"NaN and Inf", "version: 1\ndevices:\n  - id: x\n    efficiency: {conv: {value: .nan, source: a}, pool: {value: .inf, source: b}}\n",
			[]string{"efficiency.conv.value is NaN (want a fraction in (0, 1])", "efficiency.pool.value is +Inf (want a fraction in (0, 1])", "efficiency.linear is missing"}},
		{"efficiency absent", "version: 1\ndevices:\n  - id: x\n", []string{"x.yaml:3: device \"x\": efficiency is missing (want conv, depthwise, linear, elementwise, pool)"}},
		{"duplicate key", "version: 1\nversion: 1\n", []string{`x.yaml:2: mapping key "version" already defined at line 1`}},
		{"version not a number", "version: one\n", []string{"x.yaml:1: cannot unmarshal"}},
		{"alias of an entry", "version: 1\nnetworks:\n  - &a {id: n, name: n, uplink_mbps: {value: 1, source: s}, downlink_mbps: {value: 1, source: s}, rtt_ms: {value: 1, source: s}, tx_power_w: {value: 1, source: s}}\n  - *a\n",
			[]string{`x.yaml:4: network "n": defined twice (first at x.yaml:3)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, probs := parse("x.yaml", []byte(tt.yaml))
			if c != nil {
				probs = append(probs, c.problems()...)
			}
			if len(tt.want) == 0 {
				if len(probs) > 0 {
					t.Fatalf("want no problems, got %v", newValidationError(probs))
				}
				return
			}
			if len(probs) == 0 {
				t.Fatal("want problems, got none")
			}
			msg := newValidationError(probs).Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q\n got: %s", w, msg)
				}
			}
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		name   string
		lookup func(string) error
		id     string
		want   []string
	}{
		{"device typo", func(id string) error { _, err := c.Device(id); return err }, "jetson-nan", []string{`unknown edge device "jetson-nan"`, `did you mean "jetson-nano"`}},
		{"device case", func(id string) error { _, err := c.Device(id); return err }, "RPI4", []string{`"rpi4"`}},
		{"server typo", func(id string) error { _, err := c.Server(id); return err }, "h10", []string{`unknown server "h10"`, `"h100"`}},
		{"server that is a device", func(id string) error { _, err := c.Server(id); return err }, "rpi4", []string{`unknown server "rpi4"`, `"rpi4" is an edge device`}},
		{"device that is a server", func(id string) error { _, err := c.Device(id); return err }, "a100", []string{`"a100" is a server`}},
		{"network typo", func(id string) error { _, err := c.Network(id); return err }, "wifi7", []string{`unknown network "wifi7"`, `"wifi"`}},
		{"network far off", func(id string) error { _, err := c.Network(id); return err }, "carrier-pigeon", []string{`valid: cat1, 3g, 4g, wifi, 5g, wifi6, ethernet`}},
		{"empty", func(id string) error { _, err := c.Device(id); return err }, "", []string{`unknown edge device ""`}},
		{"nil catalog", func(id string) error { var nc *Catalog; _, err := nc.Device(id); return err }, "rpi4", []string{`the catalog has none`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.lookup(tt.id)
			if !errors.Is(err, ErrUnknown) {
				t.Fatalf("error = %v, want one wrapping ErrUnknown", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	for _, id := range []string{"rpi4", "epyc-2c"} {
		if _, err := c.Device(id); err != nil {
			t.Errorf("Device(%q): %v", id, err)
		}
	}
}

func TestMerge(t *testing.T) {
	base := mustDefault(t)
	user, err := LoadFile("testdata/override.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := base.Merge(user)
	if err := m.Validate(); err != nil {
		t.Fatalf("merged catalog: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"4g replaced", func() float64 { n, _ := m.Network("4g"); return n.UplinkMbps.Value }(), 2.5},
		{"4g from the user file", func() string { n, _ := m.Network("4g"); return n.File }(), "testdata/override.good.yaml"},
		{"4g keeps its place", indexOf(m.NetworkIDs(), "4g"), indexOf(base.NetworkIDs(), "4g")},
		{"network count", len(m.Networks), len(base.Networks)},
		{"device added", indexOf(m.DeviceIDs(), "my-board"), len(base.Devices)},
		{"wifi untouched", func() float64 { n, _ := m.Network("wifi"); return n.UplinkMbps.Value }(), 18.88},
		{"base unchanged", func() float64 { n, _ := base.Network("4g"); return n.UplinkMbps.Value }(), 5.85},
		{"merge nil", len(base.Merge(nil).Devices), len(base.Devices)},
		{"nil merge", len((*Catalog)(nil).Merge(user).Devices), len(user.Devices)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func indexOf(s []string, v string) int {
	for i, e := range s {
		if e == v {
			return i
		}
	}
	return -1
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name, path        string
		devices, networks int
		wantErr           string
		wantInvalid       bool
	}{
		{"directory", "testdata/dir", 1, 1, "", false},
		{"single file", "testdata/minimal.good.yaml", 1, 1, "", false},
		{"duplicate across files", "testdata/dir_dup", 0, 0, `testdata/dir_dup/b.yaml:3: device "board-a": defined twice (first at testdata/dir_dup/a.yaml:3)`, true},
		{"no such path", "testdata/nope", 0, 0, "testdata/nope", false},
		{"directory without catalogs", t.TempDir(), 0, 0, "no *.yaml or *.yml files", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if errors.Is(err, ErrInvalid) != tt.wantInvalid {
					t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v", !tt.wantInvalid, tt.wantInvalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Devices) != tt.devices || len(c.Networks) != tt.networks {
				t.Errorf("devices, networks = %d, %d; want %d, %d", len(c.Devices), len(c.Networks), tt.devices, tt.networks)
			}
		})
	}
	c, err := Load("testdata/dir")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Networks[0].File, filepath.Join("testdata", "dir", "b.yml"); got != want {
		t.Errorf("network File = %q, want %q", got, want)
	}
}

// TestValidateBuiltInCode checks catalogs built without a file: absent
// numbers are zero values and there are no lines.
func TestValidateBuiltInCode(t *testing.T) {
	c := mustDefault(t)
	src := func(v float64) Number { return Number{Value: v, Source: "estimate: test"} }
	c.Devices = append(c.Devices, Device{
		ID: "in-code", Name: "built in Go", Kind: KindEdge, Dtype: DtypeFP32,
		PeakGFLOPS:       Number{Value: 10, Source: " "},
		MemBandwidthGBps: src(1), LayerOverheadMS: src(0.1), ActivePowerW: src(1),
		Efficiency: map[string]Number{"conv": src(0.5), "depthwise": src(0.5), "linear": src(0.5), "elementwise": src(0.5), "pool": src(2)},
	})
	// A copy of a file entry keeps the lines of that entry.
	d, _ := c.Device("rpi4")
	d.ID = "rpi4-copy"
	d.MemoryMB = Number{}
	c.Devices = append(c.Devices, d)
	c.Networks = append(c.Networks, Network{ID: "4g", Name: "again"})
	err := c.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate = %v, want ErrInvalid", err)
	}
	for _, w := range []string{
		`device "in-code": memory_mb is missing`,
		`device "in-code": peak_gflops.source is empty`,
		`device "in-code": efficiency.pool.value is 2 (want a fraction in (0, 1])`,
		`catalog/devices.yaml:77: device "rpi4-copy": memory_mb.value is 0 (want a finite number > 0)`,
		`network "4g": defined twice (first at catalog/networks.yaml:31)`,
		`network "4g": uplink_mbps is missing`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q\n got: %v", w, err)
		}
	}
	if (&Catalog{}).Validate() != nil || (*Catalog)(nil).Validate() != nil {
		t.Error("an empty catalog should be valid")
	}
}

// FuzzParse checks that no input panics, and that an input without
// problems gives a catalog that validates.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, name := range DefaultFiles() {
		if b, err := fs.ReadFile(catalogFS, name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, probs := parse("fuzz.yaml", data)
		if c == nil {
			if len(probs) == 0 {
				t.Fatal("nil catalog without problems")
			}
			return
		}
		probs = append(probs, c.problems()...)
		_ = newValidationError(probs).Error()
		_ = c.Merge(c)
	})
}
