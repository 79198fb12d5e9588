package splitrun_test

import (
	"os"
	"sort"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

func getenv(k string) string { return os.Getenv(k) }

// compiledNoCleanup compiles from a goroutine other than the test's (the
// program is collected with its edge).
func compiledNoCleanup(t *testing.T, d *splitrun.Deployment, seed uint64) *engine.Program {
	p, err := d.Compile(seed, engine.Options{Threads: 1})
	if err != nil {
		t.Error(err)
	}
	return p
}

func percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
