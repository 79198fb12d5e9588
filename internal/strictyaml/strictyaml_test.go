package strictyaml

import (
	"math"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	yamlDoc := "version: 1\nitems:\n  - name: a\n    size: 3\n  - {name: b, size: 4}\n"
	jsonDoc := "{\n \"version\": 1,\n \"items\": [\n  {\"name\": \"a\",\n   \"size\": 3}\n ]\n}\n"
	for _, tc := range []struct {
		name string
		raw  string
		want map[string]int
	}{
		{"yaml", yamlDoc, map[string]int{"version": 1, "items": 2, "items[0]": 3, "items[0].size": 4, "items[1].size": 5}},
		{"json", jsonDoc, map[string]int{"version": 2, "items[0].name": 4, "items[0].size": 5}},
	} {
		got := Lines([]byte(tc.raw))
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: line of %s is %d, want %d", tc.name, k, got[k], v)
			}
		}
	}
	if len(Lines([]byte("{{{"))) != 0 {
		t.Error("lines of a broken document")
	}
}

func TestRange(t *testing.T) {
	tests := []struct {
		r    Range
		v    float64
		want bool
	}{
		{NonNegative, 0, true}, {NonNegative, -1e-300, false}, {NonNegative, math.Inf(1), false}, {NonNegative, math.NaN(), false},
		{Positive, 0, false}, {Positive, 1e300, true}, {Positive, math.Inf(1), false},
		{Fraction, 0, true}, {Fraction, 1, true}, {Fraction, 1.0000001, false}, {Fraction, math.NaN(), false},
		{PositiveFraction, 0, false}, {PositiveFraction, 1, true},
	}
	for _, tc := range tests {
		if got := tc.r.Contains(tc.v); got != tc.want {
			t.Errorf("%s contains %g: %v", tc.r.Want(), tc.v, got)
		}
	}
}

// TestReport: problems carry file:line of their path, or of the nearest
// enclosing one when the value was left out.
func TestReport(t *testing.T) {
	raw := []byte("net:\n  rtt_ms: .nan\n  uplink: 3\nkind: cpu\n")
	var v struct {
		Net struct {
			RTTMS  float64 `yaml:"rtt_ms"`
			Uplink float64 `yaml:"uplink"`
			Down   float64 `yaml:"down"`
		} `yaml:"net"`
		Kind string `yaml:"kind"`
	}
	if err := DecodeFile("f.yaml", raw, &v); err != nil {
		t.Fatal(err)
	}
	r := NewReport("f.yaml", raw)
	r.Number("net.rtt_ms", v.Net.RTTMS, NonNegative)
	r.Number("net.uplink", v.Net.Uplink, Positive)
	r.Number("net.down", v.Net.Down, Positive)
	r.OneOf("kind", v.Kind, "gpu", "npu")
	want := `f.yaml:2: net.rtt_ms is NaN (want a finite number ≥ 0); f.yaml:1: net.down is 0 (want a finite number > 0); f.yaml:4: kind "cpu" is unknown (did you mean "gpu" or "npu"?)`
	if err := r.Err(); err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if err := NewReport("", nil).Err(); err != nil {
		t.Errorf("empty report: %v", err)
	}
	if err := DecodeFile("f.yaml", []byte("net: {rtt: 1}\n"), &v); err == nil || !strings.HasPrefix(err.Error(), `f.yaml:1: unknown field "rtt" (did you mean "rtt_ms"?)`) {
		t.Errorf("unknown field: %v", err)
	}
	if err := DecodeFile("f.yaml", []byte("kind: a\n---\nkind: b\n"), &v); err == nil || !strings.HasPrefix(err.Error(), "f.yaml:2: a second YAML document") {
		t.Errorf("two documents: %v", err)
	}
}
