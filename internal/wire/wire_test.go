package wire

import "testing"

// TestBytes pins the sizes the planner, the plan check and the codecs
// share: a 40×28×28 feature map and a 3×224×224 image.
func TestBytes(t *testing.T) {
	tests := []struct {
		enc   string
		elems int64
		want  int64
	}{
		{"fp32", 31360, 125440},
		{"fp16", 31360, 62720},
		{"int8", 31360, 31368},
		{"int4", 31360, 15688},
		{"int4", 7, 12}, // an odd count rounds up to whole bytes
		{"uint8", 150528, 150528},
	}
	for _, tc := range tests {
		if got, ok := Bytes(tc.enc, tc.elems); !ok || got != tc.want {
			t.Errorf("%s of %d values: %d (%v), want %d", tc.enc, tc.elems, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"int3", "", "int8+zstd", "FP32"} {
		if _, ok := Bytes(bad, 10); ok {
			t.Errorf("%q has a size", bad)
		}
	}
}
