//go:build cgo && !nocbc

package milp

// This file is the only cgo in the project. C types, C memory and CBC's
// conventions (DBL_MAX for infinity, row bounds instead of senses) never
// leave it.

/*
#cgo pkg-config: cbc
#include <signal.h>
#include <stdlib.h>
#include <coin/Cbc_C_Interface.h>

// The Go runtime turns SIGABRT into a goroutine dump and exit status 2; a
// worker dies of the plain signal instead, so its parent sees "signal:
// aborted" after the assert message as the last line of output.
static void default_sigabrt(void) { signal(SIGABRT, SIG_DFL); }
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

func init() {
	// The child of a CBC worker (worker.go) serves solves and exits here,
	// before main or the tests run.
	if v, ok := os.LookupEnv(workerEnv); ok {
		if v != workerProtocol {
			fmt.Fprintf(os.Stderr, "milp worker: protocol %q, this build speaks %q\n", v, workerProtocol)
			os.Exit(2)
		}
		C.default_sigabrt()
		os.Exit(serveWorker(solveInProcess, func() { C.abort() }))
	}
}

// cbcMu serializes every use of the CBC library in this process: CBC 2.10
// is not safe for concurrent solves even of separate models. Cbc_solve runs
// the command-line driver (CbcMain1), whose argument parser keeps its state
// in process-wide globals (CbcOrClpRead_mode, CbcOrClpEnvironmentIndex and
// CbcOrClpReadCommand in libCbcSolver). Settings.Threads still parallelizes
// one solve inside CBC.
var cbcMu sync.Mutex

// cbcInf is CBC's infinity (COIN_DBL_MAX); the C API has no getInfinity.
const cbcInf = math.MaxFloat64

// Solve implements Solver.
func (c CBC) Solve(m *Model, s *Settings) (*Solution, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s == nil {
		s = &Settings{}
	}
	if c.InProcess {
		return solveInProcess(m, s)
	}
	called := time.Now()
	sol, err := pool.solve(m, s)
	if err != nil && !errors.Is(err, ErrSolverCrashed) {
		return sol, err // already says "cbc: model ..."
	}
	if err != nil {
		return sol, fmt.Errorf("cbc: model %s: %w", modelName(m), err)
	}
	sol.Elapsed = time.Since(called)
	return sol, nil
}

// solveInProcess solves a valid model with valid settings in this process.
func solveInProcess(m *Model, s *Settings) (*Solution, error) {
	called := time.Now()
	p := newCBCProblem(m)

	cbcMu.Lock()
	defer cbcMu.Unlock()
	// The time limit counts from here: waiting for another solve to finish
	// does not use it up.
	sol, err := p.solve(s, time.Now(), false)
	if err != nil {
		return sol, fmt.Errorf("cbc: model %s: %w", modelName(m), err)
	}
	if sol.Status == Optimal || sol.Status == Feasible {
		sol.X = p.roundIntegers(sol.X)
		sol.Objective = m.Eval(sol.X)
		if sol.Status == Optimal && sol.Bound > sol.Objective {
			sol.Bound = sol.Objective // CBC's bound can overshoot by its tolerance
		}
		sol.Gap = gap(sol.Objective, sol.Bound)
	}
	sol.Elapsed = time.Since(called)
	return sol, nil
}

func modelName(m *Model) string {
	if m.Name == "" {
		return "(unnamed)"
	}
	return m.Name
}

// cbcProblem is a validated model in the column-compressed form
// Cbc_loadProblem takes, built in Go memory without Go pointers inside, so it
// can be passed to C directly.
type cbcProblem struct {
	m              *Model
	ncols, nrows   int
	start          []C.CoinBigIndex // ncols+1
	index          []C.int          // row of each nonzero
	value          []C.double       // coefficient of each nonzero
	colLo, colHi   []C.double
	obj            []C.double
	rowLo, rowHi   []C.double
	integers       []C.int
	boundedAllVars bool // no variable has an infinite bound: cannot be unbounded
}

func newCBCProblem(m *Model) *cbcProblem {
	n, r := len(m.Vars), len(m.Rows)
	p := &cbcProblem{m: m, ncols: n, nrows: r, boundedAllVars: true}
	g := newMerger(n)
	merged := make([][]Term, r)
	count := make([]int, n)
	nnz := 0
	for i, row := range m.Rows {
		merged[i] = g.merge(row.Terms, nil)
		for _, t := range merged[i] {
			count[t.Var]++
		}
		nnz += len(merged[i])
	}
	p.start = make([]C.CoinBigIndex, n+1)
	for j := 0; j < n; j++ {
		p.start[j+1] = p.start[j] + C.CoinBigIndex(count[j])
	}
	// One spare element so &index[0] is valid when there are no nonzeros.
	p.index = make([]C.int, nnz+1)
	p.value = make([]C.double, nnz+1)
	next := make([]int, n)
	for j := range next {
		next[j] = int(p.start[j])
	}
	for i, terms := range merged {
		for _, t := range terms {
			k := next[t.Var]
			p.index[k] = C.int(i)
			p.value[k] = C.double(t.Coef)
			next[t.Var]++
		}
	}
	p.colLo = make([]C.double, n)
	p.colHi = make([]C.double, n)
	p.obj = make([]C.double, n)
	for j, v := range m.Vars {
		p.colLo[j] = C.double(toCBC(v.Lower))
		p.colHi[j] = C.double(toCBC(v.Upper))
		if math.IsInf(v.Lower, 0) || math.IsInf(v.Upper, 0) {
			p.boundedAllVars = false
		}
		if v.Integer {
			p.integers = append(p.integers, C.int(j))
		}
	}
	for _, t := range m.Objective {
		p.obj[t.Var] += C.double(t.Coef)
	}
	p.rowLo = make([]C.double, r+1)
	p.rowHi = make([]C.double, r+1)
	for i, row := range m.Rows {
		lo, hi := -cbcInf, cbcInf
		switch row.Sense {
		case LE:
			hi = row.RHS
		case GE:
			lo = row.RHS
		case EQ:
			lo, hi = row.RHS, row.RHS
		}
		p.rowLo[i], p.rowHi[i] = C.double(lo), C.double(hi)
	}
	return p
}

func toCBC(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return cbcInf
	case math.IsInf(v, -1):
		return -cbcInf
	}
	return v
}

// fromCBC maps CBC's ±DBL_MAX (and anything near it) back to ±Inf.
func fromCBC(v float64) float64 {
	switch {
	case v >= 1e300:
		return math.Inf(1)
	case v <= -1e300:
		return math.Inf(-1)
	}
	return v
}

// cbcModel owns one Cbc_Model; Close frees it and is safe to call twice.
type cbcModel struct{ c unsafe.Pointer } // Cbc_Model is void in the C header

func newCBCModel() (*cbcModel, error) {
	c := C.Cbc_newModel()
	if c == nil {
		return nil, errors.New("Cbc_newModel returned NULL")
	}
	return &cbcModel{c: c}, nil
}

func (cm *cbcModel) Close() {
	if cm.c != nil {
		C.Cbc_deleteModel(cm.c)
		cm.c = nil
	}
}

func (cm *cbcModel) setParam(name, value string) {
	cn, cv := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	C.Cbc_setParameter(cm.c, cn, cv)
}

// solve loads p into a fresh Cbc_Model, solves it and reads the result. With
// feasibilityOnly the objective is dropped: that decides whether a model CBC
// calls infeasible-or-unbounded has any feasible point.
//
// Caller holds cbcMu.
func (p *cbcProblem) solve(s *Settings, start time.Time, feasibilityOnly bool) (*Solution, error) {
	cm, err := newCBCModel()
	if err != nil {
		return &Solution{Status: Error}, err
	}
	defer cm.Close()

	obj := p.obj
	if feasibilityOnly {
		obj = make([]C.double, p.ncols)
	}
	// Pointers into Go slices of C numbers: no Go pointers inside, and C
	// copies the data before returning.
	C.Cbc_loadProblem(cm.c, C.int(p.ncols), C.int(p.nrows),
		&p.start[0], &p.index[0], &p.value[0],
		&p.colLo[0], &p.colHi[0], &obj[0], &p.rowLo[0], &p.rowHi[0])
	for _, j := range p.integers {
		C.Cbc_setInteger(cm.c, j)
	}
	C.Cbc_setObjSense(cm.c, 1) // minimize
	if len(s.Start) == p.ncols && len(p.integers) > 0 && !feasibilityOnly && !s.Conservative {
		idx := make([]C.int, p.ncols)
		val := make([]C.double, p.ncols)
		for j, v := range s.Start {
			idx[j], val[j] = C.int(j), C.double(v)
		}
		C.Cbc_setMIPStartI(cm.c, C.int(p.ncols), &idx[0], &val[0])
	}

	// Cbc_setParameter passes "-name value" to CBC's command-line driver,
	// which runs only for models with integer variables; a pure LP goes
	// straight to Clp, with no time limit. CBC checks the time between
	// nodes, so a limit can be overrun by the time preprocessing or one
	// node takes.
	C.Cbc_setLogLevel(cm.c, 0)
	cm.setParam("log", "0")
	cm.setParam("slog", "0")
	if s.TimeLimit > 0 {
		left := s.TimeLimit - time.Since(start)
		if left <= 0 {
			return &Solution{Status: TimeLimit, Bound: math.Inf(-1), Gap: math.Inf(1)}, nil
		}
		cm.setParam("timeMode", "elapsed")
		// "sec 0" would mean no limit; never pass less than a millisecond.
		cm.setParam("sec", strconv.FormatFloat(max(left.Seconds(), 0.001), 'g', 6, 64))
	}
	if s.RelGap > 0 {
		cm.setParam("ratio", strconv.FormatFloat(s.RelGap, 'g', -1, 64))
	}
	// CBC 2.10 with Clp 1.17 aborts the process on a failed assert in
	// OsiClpSolverInterface::crunch() when a sub-problem has shrunk to a row
	// or two (Clp issue #288): the feasibility pump's mini branch and bound
	// reaches it after fixing most integers. The layer-level planner hit it
	// at extreme uplinks of the switch table (resnet18, 1 kbit/s: transfer
	// coefficients up to 1.2e6 ms beside 1 ms layers): fixed binaries leave
	// one infeasible row. The pump is off: the planner warm-starts from
	// the block-level optimum, so it rarely helps, and a worker process
	// (worker.go) contains any other abort.
	cm.setParam("feas", "off")
	if s.Conservative {
		cm.setParam("preprocess", "off")
		cm.setParam("presolve", "off")
		cm.setParam("heuristicsOnOff", "off")
	}
	if s.Threads > 1 {
		// 100+n: n threads, deterministic search (same answer every run).
		cm.setParam("threads", strconv.Itoa(100+s.Threads))
	}

	C.Cbc_solve(cm.c)

	mip := len(p.integers) > 0
	sol := &Solution{Bound: math.Inf(-1), Gap: math.Inf(1)}
	if mip {
		sol.Nodes = int(C.Cbc_getNodeCount(cm.c))
	}
	optimal := C.Cbc_isProvenOptimal(cm.c) != 0
	// For a pure LP, CBC 2.10 reports primal or dual infeasibility (that
	// is, unboundedness) both as "proven infeasible"; for a MIP,
	// preprocessing may call an unbounded model infeasible. Either way a
	// solve without objective tells the two apart, unless every variable
	// is bounded, when the model cannot be unbounded.
	infeasible := C.Cbc_isProvenInfeasible(cm.c) != 0
	unbounded := C.Cbc_isContinuousUnbounded(cm.c) != 0
	var x *C.double
	if mip {
		x = C.Cbc_bestSolution(cm.c) // NULL until an integer solution is found
	} else if optimal {
		x = C.Cbc_getColSolution(cm.c)
	}

	switch {
	case optimal && x != nil:
		sol.Status, sol.Proven = Optimal, true
		sol.X = copyDoubles(x, p.ncols)
		sol.Bound = fromCBC(float64(C.Cbc_getBestPossibleObjValue(cm.c))) + p.m.ObjConst
		if !mip {
			sol.Bound = float64(C.Cbc_getObjValue(cm.c)) + p.m.ObjConst
		}
		return sol, nil
	case (infeasible || unbounded) && !feasibilityOnly:
		if p.boundedAllVars {
			sol.Status, sol.Proven = Infeasible, true
			return sol, nil
		}
		f, err := p.solve(s, start, true)
		if err != nil {
			return f, err
		}
		switch f.Status {
		case Optimal, Feasible:
			sol.Status, sol.Proven = Unbounded, true
		case Infeasible:
			sol.Status, sol.Proven = Infeasible, true
		default:
			sol.Status = f.Status // time limit or error while deciding
		}
		sol.Nodes += f.Nodes
		return sol, nil
	case infeasible || unbounded:
		// Feasibility run: zero objective, so unbounded cannot happen.
		sol.Status, sol.Proven = Infeasible, true
		return sol, nil
	case C.Cbc_isAbandoned(cm.c) != 0:
		return &Solution{Status: Error}, errors.New("CBC abandoned the search (numerical difficulties)")
	case x != nil:
		// Stopped by the time limit (or another limit) with an incumbent.
		sol.Status = Feasible
		sol.X = copyDoubles(x, p.ncols)
		sol.Bound = fromCBC(float64(C.Cbc_getBestPossibleObjValue(cm.c))) + p.m.ObjConst
		return sol, nil
	case mip && (C.Cbc_isSecondsLimitReached(cm.c) != 0 || C.Cbc_status(cm.c) == 1):
		sol.Status = TimeLimit
		return sol, nil
	}
	return &Solution{Status: Error}, fmt.Errorf("CBC stopped without a result (status %d, secondary status %d)",
		int(C.Cbc_status(cm.c)), int(C.Cbc_secondaryStatus(cm.c)))
}

func copyDoubles(p *C.double, n int) []float64 {
	out := make([]float64, n)
	for i, v := range unsafe.Slice(p, n) {
		out[i] = float64(v)
	}
	return out
}

// roundIntegers snaps integer variables to the nearest integer (CBC keeps
// them within its integrality tolerance, 1e-6 by default) and clamps every
// value into its bounds, so callers can compare X with 0 and 1 exactly.
func (p *cbcProblem) roundIntegers(x []float64) []float64 {
	for j, v := range p.m.Vars {
		if v.Integer {
			x[j] = math.Round(x[j])
		}
		x[j] = min(max(x[j], v.Lower), v.Upper)
	}
	return x
}
