package measure

import (
	"runtime"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
)

func TestParseStatus(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		rss, hwm int64
		ok       bool
	}{
		{"both", "Name:\tx\nVmHWM:\t    1668 kB\nVmRSS:\t    1000 kB\n", 1000 * 1024, 1668 * 1024, true},
		{"no hwm", "VmRSS:\t    1000 kB\n", 1000 * 1024, 0, false},
		{"not a number", "VmHWM:\t x kB\nVmRSS:\t 1 kB\n", 1024, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rss, hwm, ok := parseStatus(strings.NewReader(c.in))
			if rss != c.rss || hwm != c.hwm || ok != c.ok {
				t.Errorf("got %d, %d, %v; want %d, %d, %v", rss, hwm, ok, c.rss, c.hwm, c.ok)
			}
		})
	}
}

func TestGrowth(t *testing.T) {
	cases := []struct {
		name                         string
		startRSS, startHWM, rss, hwm int64
		reset                        bool
		want                         int64
	}{
		{"reset mark", 100, 100, 150, 400, true, 300},
		{"stale mark that did not rise", 100, 900, 150, 900, false, 50},
		{"stale mark that rose", 100, 900, 150, 1000, false, 900},
		{"shrank", 100, 100, 60, 100, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := growth(c.startRSS, c.startHWM, c.rss, c.hwm, c.reset); got != c.want {
				t.Errorf("growth %d, want %d", got, c.want)
			}
		})
	}
}

// TestPlannedMemory: the profile's plan is the engine's, and on Linux the
// peak of compiling and running a network is read and not negative.
func TestPlannedMemory(t *testing.T) {
	peak := StartPeakRSS()
	p := program(t)
	if _, err := p.Run(inputs(1)[0]); err != nil {
		t.Fatal(err)
	}
	m, err := PlannedMemory(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := engine.PlanMemory(p.Graph(), engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if int64(m.TotalBytes) != want.TotalBytes() || int64(m.ActivationsBytes) != want.ActivationBytes || int64(m.ParamsBytes) != want.ParamBytes ||
		m.TotalBytes != m.ParamsBytes+m.WeightsBytes+m.ActivationsBytes+m.ScratchBytes || m.ParamsBytes < 1e6 {
		t.Errorf("planned %+v, engine %+v", m, want)
	}
	n, ok := peak.Growth()
	if runtime.GOOS == "linux" && (!ok || n < 0) {
		t.Errorf("peak RSS growth %d, %v on Linux", n, ok)
	}
}
