package milp

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Sense is the relation between a row's linear form and its right-hand side.
type Sense int

const (
	LE Sense = iota // Σ a·x ≤ rhs
	GE              // Σ a·x ≥ rhs
	EQ              // Σ a·x = rhs
)

func (s Sense) String() string {
	switch s {
	case LE:
		return "<="
	case GE:
		return ">="
	case EQ:
		return "="
	}
	return fmt.Sprintf("Sense(%d)", int(s))
}

// Var is a decision variable. Bounds may be infinite (math.Inf); an integer
// variable with bounds [0, 1] is a binary.
type Var struct {
	Name         string
	Lower, Upper float64
	Integer      bool
}

// Term is Coef·x[Var], Var being an index into Model.Vars.
type Term struct {
	Var  int
	Coef float64
}

// Row is the constraint Σ Terms Sense RHS. A variable may appear in several
// terms of one row; its coefficients are summed.
type Row struct {
	Name  string
	Terms []Term
	Sense Sense
	RHS   float64
}

// Model is: minimize Σ Objective + ObjConst subject to Rows and the bounds and
// integrality of Vars. To maximize, negate the objective.
//
// The zero value is an empty model, ready for AddVar and AddRow.
type Model struct {
	Name      string
	Vars      []Var
	Rows      []Row
	Objective []Term
	ObjConst  float64
}

// AddVar appends a variable and returns its index.
func (m *Model) AddVar(name string, lo, hi float64, integer bool) int {
	m.Vars = append(m.Vars, Var{Name: name, Lower: lo, Upper: hi, Integer: integer})
	return len(m.Vars) - 1
}

// AddBinary appends a {0, 1} variable and returns its index.
func (m *Model) AddBinary(name string) int { return m.AddVar(name, 0, 1, true) }

// AddRow appends a constraint and returns its index. The model keeps terms;
// the caller must not change the slice afterwards.
func (m *Model) AddRow(name string, terms []Term, sense Sense, rhs float64) int {
	m.Rows = append(m.Rows, Row{Name: name, Terms: terms, Sense: sense, RHS: rhs})
	return len(m.Rows) - 1
}

// Eval returns the objective value of x, ObjConst included.
func (m *Model) Eval(x []float64) float64 {
	v := m.ObjConst
	for _, t := range m.Objective {
		v += t.Coef * x[t.Var]
	}
	return v
}

// Violation returns the largest amount by which x breaks a bound, a row or
// integrality (0 for a feasible point). Solvers work with tolerances, so
// compare against one, e.g. 1e-6.
func (m *Model) Violation(x []float64) float64 {
	if len(x) != len(m.Vars) {
		return math.Inf(1)
	}
	worst := 0.0
	for i, v := range m.Vars {
		worst = max(worst, v.Lower-x[i], x[i]-v.Upper)
		if v.Integer {
			worst = max(worst, math.Abs(x[i]-math.Round(x[i])))
		}
	}
	for _, r := range m.Rows {
		lhs := 0.0
		for _, t := range r.Terms {
			lhs += t.Coef * x[t.Var]
		}
		switch r.Sense {
		case LE:
			worst = max(worst, lhs-r.RHS)
		case GE:
			worst = max(worst, r.RHS-lhs)
		case EQ:
			worst = max(worst, math.Abs(lhs-r.RHS))
		}
	}
	return worst
}

// ValidationError lists every problem Validate found.
type ValidationError struct {
	Model    string
	Problems []string
}

func (e *ValidationError) Error() string {
	name := e.Model
	if name == "" {
		name = "(unnamed)"
	}
	if len(e.Problems) == 1 {
		return fmt.Sprintf("milp: model %s: %s", name, e.Problems[0])
	}
	return fmt.Sprintf("milp: model %s: %d problems: %s", name, len(e.Problems), strings.Join(e.Problems, "; "))
}

// maxNameLen is the CPLEX LP limit on names; glpsol enforces it too.
const maxNameLen = 255

// Validate checks everything a solver or a file writer relies on and reports
// every problem at once: at least one variable; names non-empty, unique
// (variables and rows separately) and LP-safe (see ValidName); bounds not NaN,
// Lower < +Inf, Upper > -Inf and Lower ≤ Upper; terms in range with finite
// coefficients; rows with at least one term, a known sense and a finite
// right-hand side; a finite ObjConst. The model name, which files carry in a
// header, may be empty but must not contain spaces.
func (m *Model) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if strings.IndexFunc(m.Name, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 || len(m.Name) > maxNameLen {
		add("model name %q: want at most %d printable ASCII characters without spaces", m.Name, maxNameLen)
	}
	if len(m.Vars) == 0 {
		add("no variables")
	}
	seen := make(map[string]int, len(m.Vars))
	for i, v := range m.Vars {
		if err := ValidName(v.Name); err != nil {
			add("var %d: %v", i, err)
		} else if j, dup := seen[v.Name]; dup {
			add("var %d: name %q already used by var %d", i, v.Name, j)
		} else {
			seen[v.Name] = i
		}
		switch {
		case math.IsNaN(v.Lower) || math.IsNaN(v.Upper):
			add("var %q: NaN bound", v.Name)
		case math.IsInf(v.Lower, 1) || math.IsInf(v.Upper, -1):
			add("var %q: bounds [%g, %g] leave no value", v.Name, v.Lower, v.Upper)
		case v.Lower > v.Upper:
			add("var %q: lower bound %g above upper bound %g", v.Name, v.Lower, v.Upper)
		}
	}
	checkTerms := func(where string, terms []Term) {
		for k, t := range terms {
			if t.Var < 0 || t.Var >= len(m.Vars) {
				add("%s: term %d: var index %d out of range [0, %d)", where, k, t.Var, len(m.Vars))
			}
			if math.IsNaN(t.Coef) || math.IsInf(t.Coef, 0) {
				add("%s: term %d: coefficient %g not finite", where, k, t.Coef)
			}
		}
	}
	checkTerms("objective", m.Objective)
	if math.IsNaN(m.ObjConst) || math.IsInf(m.ObjConst, 0) {
		add("objective constant %g not finite", m.ObjConst)
	}
	seen = make(map[string]int, len(m.Rows))
	for i, r := range m.Rows {
		where := fmt.Sprintf("row %d", i)
		if err := ValidName(r.Name); err != nil {
			add("row %d: %v", i, err)
		} else if j, dup := seen[r.Name]; dup {
			add("row %d: name %q already used by row %d", i, r.Name, j)
		} else {
			seen[r.Name] = i
			where = fmt.Sprintf("row %q", r.Name)
		}
		if len(r.Terms) == 0 {
			add("%s: no terms", where)
		}
		checkTerms(where, r.Terms)
		if r.Sense != LE && r.Sense != GE && r.Sense != EQ {
			add("%s: unknown sense %d", where, int(r.Sense))
		}
		if math.IsNaN(r.RHS) || math.IsInf(r.RHS, 0) {
			add("%s: right-hand side %g not finite", where, r.RHS)
		}
	}
	if len(p) > 0 {
		return &ValidationError{Model: m.Name, Problems: p}
	}
	return nil
}

// lpKeywords are words the CPLEX LP format (and glpsol's reader of it) may
// take as section keywords or infinities; names must not be one of them.
var lpKeywords = map[string]bool{
	"min": true, "minimize": true, "minimise": true, "minimum": true,
	"max": true, "maximize": true, "maximise": true, "maximum": true,
	"st": true, "subject": true, "such": true, "to": true, "that": true,
	"bound": true, "bounds": true, "free": true, "inf": true, "infinity": true,
	"gen": true, "general": true, "generals": true, "int": true, "integer": true,
	"integers": true, "bin": true, "binary": true, "binaries": true,
	"semi": true, "semis": true, "semi-continuous": true, "sos": true, "end": true,
}

// ValidName reports whether name can be written unchanged to an LP or MPS
// file: 1 to 255 characters from [A-Za-z0-9_.], starting with a letter or
// '_', not an LP keyword (st, bounds, free, inf, end, ...), and not 'e' or 'E'
// followed by digits, which LP readers may take for an exponent.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("name %.20q... longer than %d characters", name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		digit := c >= '0' && c <= '9'
		if i == 0 && !letter {
			return fmt.Errorf("name %q must start with a letter or '_'", name)
		}
		if !letter && !digit && c != '.' {
			return fmt.Errorf("name %q: character %q not allowed (use [A-Za-z0-9_.])", name, c)
		}
	}
	if lpKeywords[strings.ToLower(name)] {
		return fmt.Errorf("name %q is an LP keyword", name)
	}
	if (name[0] == 'e' || name[0] == 'E') && len(name) > 1 && strings.Trim(name[1:], "0123456789") == "" {
		return fmt.Errorf("name %q reads as an exponent in LP files", name)
	}
	return nil
}

// merger sums the coefficients of a variable repeated within one row, keeping
// first-appearance order, so writers and solvers see each variable at most
// once per row. It reuses one index slice for a whole model.
type merger struct{ at []int }

func newMerger(nvars int) *merger {
	g := &merger{at: make([]int, nvars)}
	for i := range g.at {
		g.at[i] = -1
	}
	return g
}

// merge appends the merged terms to out[:0] and returns it.
func (g *merger) merge(terms []Term, out []Term) []Term {
	out = out[:0]
	for _, t := range terms {
		if k := g.at[t.Var]; k >= 0 {
			out[k].Coef += t.Coef
			continue
		}
		g.at[t.Var] = len(out)
		out = append(out, t)
	}
	for _, t := range out {
		g.at[t.Var] = -1
	}
	return out
}
