package suggest

import (
	"strings"
	"testing"
)

func TestHint(t *testing.T) {
	known := []string{"jetson-nano", "jetson-tx2", "rpi4", "rpi5", "h100"}
	tests := []struct{ name, want string }{
		{"jetson-nan", `did you mean "jetson-nano"`},
		{"RPI4", `"rpi4"`},
		{"h10", `"h100"`},
		{"quantum-computer", "valid: jetson-nano, jetson-tx2, rpi4, rpi5, h100"},
	}
	for _, tc := range tests {
		if got := Hint(tc.name, known); !strings.Contains(got, tc.want) {
			t.Errorf("Hint(%q) = %q, want it to contain %q", tc.name, got, tc.want)
		}
	}
}
