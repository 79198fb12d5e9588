package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRuntimeDeps keeps the runtime binary free of the planner: the engine
// and splitrun share the encoding vocabulary through the codec leaf and
// must never link the calibrator, the solver or the MILP layer.
func TestRuntimeDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	const mod = "github.com/mtlsplit/mtlsplit/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"engine", []string{"profile", "optimizer", "milp", "plan", "splitrun"}},
		{"splitrun", []string{"profile", "optimizer", "milp"}},
		{"codec", []string{"model", "engine", "profile"}},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command(goTool, "list", "-deps", mod+tc.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
			}
			deps := map[string]bool{}
			for _, d := range strings.Fields(string(out)) {
				deps[d] = true
			}
			if !deps[mod+tc.pkg] {
				t.Fatalf("go list -deps %s does not list the package itself:\n%s", tc.pkg, out)
			}
			for _, f := range tc.forbidden {
				if deps[mod+f] {
					t.Errorf("%s depends on %s", tc.pkg, f)
				}
			}
		})
	}
}
