package procfs

import (
	"maps"
	"strings"
	"testing"
)

func TestKiB(t *testing.T) {
	text := "MemTotal:       16318412 kB\nMemFree: 12 kB\nMemAvailable:   -3 kB\nHugePages_Total:       0\nVmRSS: 1668 kB\nbad line\n"
	got := KiB(strings.NewReader(text), "MemTotal", "MemAvailable", "VmRSS", "VmHWM")
	if want := map[string]int64{"MemTotal": 16318412, "VmRSS": 1668}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
