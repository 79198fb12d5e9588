package milp

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
)

// The writers produce files that glpsol reads unchanged (the tests check
// this) and that follow the common subset of the CPLEX LP and free MPS
// dialects, so other solvers read them too. Choices made for portability:
//
//   - Every variable appears in the objective (with coefficient 0 if unused),
//     so readers create the columns in Model.Vars order and none is lost.
//   - Every bound is written explicitly, so no reader's defaults matter (MPS
//     readers disagree on the default bounds of integer columns).
//   - A nonzero ObjConst becomes the coefficient of an extra variable fixed
//     at 1: glpsol's LP reader rejects a constant in the objective, and MPS
//     readers disagree on the sign of an objective RHS.
//   - A model without rows gets the LP row "no_rows: + 0 x >= 0", as the LP
//     format requires a constraint.

// WriteLP writes the model in CPLEX LP format.
func (m *Model) WriteLP(w io.Writer) error {
	f, err := newFileModel(m)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	name := m.Name
	if name == "" {
		name = "milp"
	}
	fmt.Fprintf(bw, "\\ Problem: %s\n\\ Variables: %d, rows: %d\n", name, len(m.Vars), len(m.Rows))
	bw.WriteString("Minimize\n")
	writeLPTerms(bw, " "+f.objName+":", f.obj, f.names)
	bw.WriteString("\nSubject To\n")
	if len(m.Rows) == 0 {
		// The LP format needs at least one constraint; this one holds for
		// every x.
		fmt.Fprintf(bw, " no_rows: + 0 %s >= 0\n", f.names[0])
	}
	var buf []Term
	for _, r := range m.Rows {
		buf = f.g.merge(r.Terms, buf)
		writeLPTerms(bw, " "+r.Name+":", buf, f.names)
		fmt.Fprintf(bw, " %s %s\n", r.Sense, num(r.RHS))
	}
	bw.WriteString("Bounds\n")
	for i, v := range f.vars {
		n := f.names[i]
		lo, hi := v.Lower, v.Upper
		switch {
		case lo == hi:
			fmt.Fprintf(bw, " %s = %s\n", n, num(lo))
		case math.IsInf(lo, -1) && math.IsInf(hi, 1):
			fmt.Fprintf(bw, " %s free\n", n)
		case math.IsInf(hi, 1):
			fmt.Fprintf(bw, " %s >= %s\n", n, num(lo))
		case math.IsInf(lo, -1):
			fmt.Fprintf(bw, " -inf <= %s <= %s\n", n, num(hi))
		default:
			fmt.Fprintf(bw, " %s <= %s <= %s\n", num(lo), n, num(hi))
		}
	}
	first := true
	col := 0
	for i, v := range f.vars {
		if !v.Integer {
			continue
		}
		if first {
			bw.WriteString("General\n")
			first = false
		}
		if col > 0 && col+len(f.names[i]) > 200 {
			bw.WriteString("\n")
			col = 0
		}
		bw.WriteString(" " + f.names[i])
		col += 1 + len(f.names[i])
	}
	if !first {
		bw.WriteString("\n")
	}
	bw.WriteString("End\n")
	return bw.Flush()
}

// writeLPTerms writes label and terms, a few to a line: LP readers limit the
// line length (CPLEX to 560 characters).
func writeLPTerms(bw *bufio.Writer, label string, terms []Term, names []string) {
	bw.WriteString(label)
	col := len(label)
	for _, t := range terms {
		s := " + " + num(t.Coef) + " " + names[t.Var]
		if t.Coef < 0 || t.Coef == 0 && math.Signbit(t.Coef) {
			s = " - " + num(-t.Coef) + " " + names[t.Var]
		}
		if col+len(s) > 200 {
			bw.WriteString("\n ")
			col = 1
		}
		bw.WriteString(s)
		col += len(s)
	}
}

// WriteMPS writes the model in free MPS format (glpsol --freemps). Names
// contain no spaces (see ValidName), which free MPS requires.
func (m *Model) WriteMPS(w io.Writer) error {
	f, err := newFileModel(m)
	if err != nil {
		return err
	}
	// Column-wise view of the rows.
	type entry struct {
		row  int
		coef float64
	}
	cols := make([][]entry, len(f.vars))
	var buf []Term
	for r, row := range m.Rows {
		buf = f.g.merge(row.Terms, buf)
		for _, t := range buf {
			cols[t.Var] = append(cols[t.Var], entry{r, t.Coef})
		}
	}
	objCoef := make([]float64, len(f.vars))
	for _, t := range f.obj {
		objCoef[t.Var] = t.Coef
	}

	bw := bufio.NewWriter(w)
	name := m.Name
	if name == "" {
		name = "milp"
	}
	fmt.Fprintf(bw, "NAME %s\nROWS\n N %s\n", name, f.objName)
	for _, r := range m.Rows {
		fmt.Fprintf(bw, " %c %s\n", "LGE"[r.Sense], r.Name)
	}
	bw.WriteString("COLUMNS\n")
	inInt := false
	markers := 0
	for i, v := range f.vars {
		if v.Integer != inInt {
			kind := "'INTORG'"
			if inInt {
				kind = "'INTEND'"
			}
			markers++
			fmt.Fprintf(bw, " M%d 'MARKER' %s\n", markers, kind)
			inInt = v.Integer
		}
		fmt.Fprintf(bw, " %s %s %s\n", f.names[i], f.objName, num(objCoef[i]))
		for _, e := range cols[i] {
			fmt.Fprintf(bw, " %s %s %s\n", f.names[i], m.Rows[e.row].Name, num(e.coef))
		}
	}
	if inInt {
		markers++
		fmt.Fprintf(bw, " M%d 'MARKER' 'INTEND'\n", markers)
	}
	bw.WriteString("RHS\n")
	for _, r := range m.Rows {
		if r.RHS != 0 {
			fmt.Fprintf(bw, " RHS %s %s\n", r.Name, num(r.RHS))
		}
	}
	bw.WriteString("BOUNDS\n")
	for i, v := range f.vars {
		n := f.names[i]
		lo, hi := v.Lower, v.Upper
		switch {
		case lo == hi:
			fmt.Fprintf(bw, " FX BND %s %s\n", n, num(lo))
		case math.IsInf(lo, -1) && math.IsInf(hi, 1):
			fmt.Fprintf(bw, " FR BND %s\n", n)
		case math.IsInf(lo, -1):
			fmt.Fprintf(bw, " MI BND %s\n UP BND %s %s\n", n, n, num(hi))
		case math.IsInf(hi, 1):
			fmt.Fprintf(bw, " LO BND %s %s\n PL BND %s\n", n, num(lo), n)
		default:
			fmt.Fprintf(bw, " LO BND %s %s\n UP BND %s %s\n", n, num(lo), n, num(hi))
		}
	}
	bw.WriteString("ENDATA\n")
	return bw.Flush()
}

// fileModel is the model as written: validated, objective merged and, when
// ObjConst is nonzero, one extra variable fixed at 1 that carries it.
type fileModel struct {
	vars    []Var
	names   []string
	obj     []Term // one term per variable, in order
	objName string
	g       *merger
}

func newFileModel(m *Model) (*fileModel, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	f := &fileModel{vars: m.Vars, g: newMerger(len(m.Vars) + 1)}
	coef := make([]float64, len(m.Vars), len(m.Vars)+1)
	for _, t := range m.Objective {
		coef[t.Var] += t.Coef
	}
	if m.ObjConst != 0 {
		used := make(map[string]bool, len(m.Vars))
		for _, v := range m.Vars {
			used[v.Name] = true
		}
		f.vars = append(m.Vars[:len(m.Vars):len(m.Vars)], Var{Name: unusedName("obj_constant", used), Lower: 1, Upper: 1})
		coef = append(coef, m.ObjConst)
	}
	f.names = make([]string, len(f.vars))
	f.obj = make([]Term, len(f.vars))
	for i, v := range f.vars {
		f.names[i] = v.Name
		f.obj[i] = Term{Var: i, Coef: coef[i]}
	}
	rows := make(map[string]bool, len(m.Rows))
	for _, r := range m.Rows {
		rows[r.Name] = true
	}
	f.objName = unusedName("obj", rows)
	return f, nil
}

// unusedName returns base, or base followed by underscores, whichever is
// first not in used.
func unusedName(base string, used map[string]bool) string {
	for used[base] {
		base += "_"
	}
	return base
}

// num formats a finite float exactly and briefly ("3", "0.1", "1e+30").
func num(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
