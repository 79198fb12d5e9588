package profile

import (
	"os"
	"strings"
	"testing"
)

// TestTableMemory checks the optional memory section: an old profile
// without it still loads, a valid one round-trips, and bad sizes are named.
func TestTableMemory(t *testing.T) {
	base, err := os.ReadFile("testdata/measured/tiny.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	with := func(mem string) []byte {
		return []byte(strings.Replace(string(base), "    latency:\n      end_to_end", "    memory: "+mem+"\n    latency:\n      end_to_end", 1))
	}
	cases := []struct {
		name, mem string
		peak      Bytes // -1: absent
		err       string
	}{
		{"old profile", "", -1, ""},
		{"plan and peak", "{params_bytes: 10, weights_bytes: 20, activations_bytes: 30, scratch_bytes: 40, total_bytes: 100, peak_rss_growth_bytes: 7}", 7, ""},
		{"plan only", "{params_bytes: 0, weights_bytes: 0, activations_bytes: 5, scratch_bytes: 0, total_bytes: 5}", -1, ""},
		{"negative part", "{params_bytes: -1, weights_bytes: 0, activations_bytes: 5, scratch_bytes: 0, total_bytes: 4}", -1,
			"backbones.resnet18.memory.params_bytes is -1 (want a size in bytes ≥ 0)"},
		{"wrong total", "{params_bytes: 1, weights_bytes: 2, activations_bytes: 3, scratch_bytes: 4, total_bytes: 11}", -1,
			"backbones.resnet18.memory.total_bytes is 11, not the sum of its parts 10"},
		{"negative peak", "{params_bytes: 1, weights_bytes: 2, activations_bytes: 3, scratch_bytes: 4, total_bytes: 10, peak_rss_growth_bytes: -3}", -1,
			"backbones.resnet18.memory.peak_rss_growth_bytes is -3"},
		{"fractional size", "{params_bytes: 1.5, weights_bytes: 2, activations_bytes: 3, scratch_bytes: 4, total_bytes: 10}", -1, `"1.5" is not a whole number of bytes`},
		{"unknown field", "{params_bytes: 1, weights_bytes: 2, activations_bytes: 3, scratch_bytes: 4, total_bytes: 10, rss: 1}", -1, "rss"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := base
			if c.mem != "" {
				raw = with(c.mem)
			}
			tab, err := ParseTable(raw)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v lacks %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := tab.Backbones["resnet18"].Memory
			if c.mem == "" {
				if m != nil {
					t.Fatalf("memory %+v from a profile without it", m)
				}
				return
			}
			if m == nil || (c.peak < 0) != (m.PeakRSSGrowthBytes == nil) || (c.peak >= 0 && *m.PeakRSSGrowthBytes != c.peak) {
				t.Fatalf("memory %+v, want peak %d", m, c.peak)
			}
		})
	}
}
