package milp

import (
	"bytes"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// boundsModel has every kind of bound, an integer and a continuous block,
// an objective constant, a repeated variable and a row named like the
// objective, so the goldens pin down every branch of both writers.
func boundsModel() *Model {
	m := &Model{Name: "bounds", ObjConst: 2.5}
	free := m.AddVar("free_x", -inf, inf, false)
	up := m.AddVar("up_only", -inf, 4, false)
	lo := m.AddVar("lo_only", -1.5, inf, false)
	both := m.AddVar("both", 0.25, 8, false)
	fixed := m.AddVar("fixed", 3, 3, false)
	b := m.AddBinary("b")
	g := m.AddVar("g", -5, 5, true)
	m.AddVar("unused", 0, 1, false)
	m.Objective = terms([]int{free, up, lo, both, fixed, b, g}, 1, -1, 0.5, 1e-7, 2, -3, 1)
	m.AddRow("obj", terms([]int{free, up, free}, 1, 1, 1), GE, -10)
	m.AddRow("lin2", terms([]int{lo, both, b, g}, 1, -2, 3e6, -1), LE, 7)
	m.AddRow("fix", terms([]int{g, b}, 1, 1), EQ, 0)
	return m
}

func TestWriteGolden(t *testing.T) {
	for _, tt := range []struct {
		file  string
		write func(*Model, *bytes.Buffer) error
	}{
		{"bounds.lp.golden", func(m *Model, b *bytes.Buffer) error { return m.WriteLP(b) }},
		{"bounds.mps.golden", func(m *Model, b *bytes.Buffer) error { return m.WriteMPS(b) }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var got bytes.Buffer
			if err := tt.write(boundsModel(), &got); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the golden file (go test -update refreshes it):\n%s", tt.file, got.String())
			}
		})
	}
}

func TestWriteRejectsInvalid(t *testing.T) {
	m := &Model{}
	m.AddBinary("bad name")
	var b bytes.Buffer
	if err := m.WriteLP(&b); err == nil {
		t.Error("WriteLP accepted an invalid model")
	}
	if err := m.WriteMPS(&b); err == nil {
		t.Error("WriteMPS accepted an invalid model")
	}
}

var (
	glpStatus    = regexp.MustCompile(`(?m)^Status:\s+(.+?)\s*$`)
	glpObjective = regexp.MustCompile(`(?m)^Objective:\s+\S+ = (\S+)`)
)

// glpsol solves file with glpsol in the given format (--lp, --freemps) and
// returns the status, read from its report and log, and the objective.
func glpsol(t *testing.T, format, file string) (Status, float64) {
	t.Helper()
	out := file + ".out"
	log, err := exec.Command("glpsol", format, file, "-o", out).CombinedOutput()
	if err != nil || bytes.Contains(log, []byte("processing error")) {
		t.Fatalf("glpsol %s %s: %v\n%s", format, file, err, log)
	}
	switch {
	case bytes.Contains(log, []byte("NO PRIMAL FEASIBLE SOLUTION")):
		return Infeasible, math.NaN()
	case bytes.Contains(log, []byte("UNBOUNDED PRIMAL SOLUTION")),
		bytes.Contains(log, []byte("NO DUAL FEASIBLE SOLUTION")):
		return Unbounded, math.NaN()
	}
	report, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("glpsol wrote no report: %v\n%s", err, log)
	}
	s := glpStatus.FindSubmatch(report)
	o := glpObjective.FindSubmatch(report)
	if s == nil || o == nil {
		t.Fatalf("cannot parse glpsol report:\n%s", report)
	}
	switch string(s[1]) {
	case "OPTIMAL", "INTEGER OPTIMAL":
		obj, err := strconv.ParseFloat(string(o[1]), 64)
		if err != nil {
			t.Fatalf("objective %q: %v", o[1], err)
		}
		return Optimal, obj
	case "INTEGER EMPTY":
		return Infeasible, math.NaN()
	}
	t.Fatalf("glpsol status %q not understood; log:\n%s", s[1], log)
	return Error, math.NaN()
}

// TestGlpsolReadsExports writes every test model as LP and free MPS, has
// glpsol solve the files, and compares with CBC: a check of the writers by
// an independent reader and of CBC by an independent solver.
func TestGlpsolReadsExports(t *testing.T) {
	if _, err := exec.LookPath("glpsol"); err != nil {
		t.Skip("glpsol not on PATH (apt-get install glpk-utils)")
	}
	needCBC(t)
	models := []struct {
		name   string
		m      *Model
		status Status
	}{
		{"bounds", boundsModel(), Optimal},
		{"knapsack_60", knapsack(60, 5), Optimal},
		{"placement_40", placement(40, 3, 5), Optimal},
	}
	for _, tc := range testCases {
		models = append(models, struct {
			name   string
			m      *Model
			status Status
		}{tc.name, tc.build(), tc.status})
	}
	dir := t.TempDir()
	for _, tc := range models {
		sol, err := CBC{}.Solve(tc.m, nil)
		if err != nil || sol.Status != tc.status {
			t.Fatalf("%s: CBC status %v, err %v; want %v", tc.name, sol.Status, err, tc.status)
		}
		for _, f := range []struct {
			ext, flag string
			write     func(*bytes.Buffer) error
		}{
			{"lp", "--lp", func(b *bytes.Buffer) error { return tc.m.WriteLP(b) }},
			{"mps", "--freemps", func(b *bytes.Buffer) error { return tc.m.WriteMPS(b) }},
		} {
			t.Run(tc.name+"/"+f.ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := f.write(&b); err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(dir, tc.name+"."+f.ext)
				if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				status, obj := glpsol(t, f.flag, file)
				if status != sol.Status {
					t.Fatalf("glpsol: %v; CBC: %v", status, sol.Status)
				}
				if status == Optimal && math.Abs(obj-sol.Objective) > 1e-6*max(1, math.Abs(obj)) {
					t.Errorf("glpsol objective %.10g, CBC %.10g", obj, sol.Objective)
				}
			})
		}
	}
}
