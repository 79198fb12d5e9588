package cli

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// TestProfileMemory: profile --measure reports the engine's memory plan and
// the measured peak RSS growth, in its table, its JSON and the profile it
// writes, which loads back with the same numbers.
func TestProfileMemory(t *testing.T) {
	g, err := model.New("mobilenet_v3_small", 64, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	// As the CLI compiles it: the weights are released into the program.
	want, err := engine.PlanMemory(g, engine.Options{Threads: 1, Backend: engine.BestBackend(), ReleaseWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(t.TempDir(), "prof.yaml")
	args := []string{"profile", "mobilenet_v3_small", "--input", "64", "--measure", "--threads", "1", "--reps", "1", "--warmup", "0", "-q"}
	stdout, stderr, code := run(t, append(args, "-o", "json", "--out", prof)...)
	if code != 0 {
		t.Fatalf("profile: exit %d: %s", code, stderr)
	}
	var got struct {
		Memory *profile.TableMemory `json:"memory"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	m := got.Memory
	if m == nil || int64(m.TotalBytes) != want.TotalBytes() || int64(m.WeightsBytes) != want.WeightBytes || int64(m.ScratchBytes) != want.ScratchBytes {
		t.Fatalf("memory %+v, engine plan %+v (total %d)", m, want, want.TotalBytes())
	}
	if linux := runtime.GOOS == "linux"; linux != (m.PeakRSSGrowthBytes != nil) || linux && *m.PeakRSSGrowthBytes < 0 {
		t.Errorf("peak RSS growth %v on %s", m.PeakRSSGrowthBytes, runtime.GOOS)
	}
	tab, err := profile.LoadTable(prof)
	if err != nil {
		t.Fatal(err)
	}
	back := tab.Backbones[g.Name].Memory
	if back == nil || back.TotalBytes != m.TotalBytes || back.ActivationsBytes != m.ActivationsBytes ||
		(back.PeakRSSGrowthBytes == nil) != (m.PeakRSSGrowthBytes == nil) || back.PeakRSSGrowthBytes != nil && *back.PeakRSSGrowthBytes != *m.PeakRSSGrowthBytes {
		t.Errorf("profile memory %+v, printed %+v", back, m)
	}
	stdout, stderr, code = run(t, args...)
	if code != 0 || !strings.Contains(stdout, "memory planned: "+engine.HumanBytes(want.TotalBytes())) {
		t.Errorf("table: exit %d: %s%s", code, stdout, stderr)
	}
}
