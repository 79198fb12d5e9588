// Package milp states and solves small mixed-integer linear programs:
// variables with bounds and integrality, linear rows, a linear objective to
// minimize, and names for all of them. A Model is plain data; a Solver solves
// it. Two solvers implement the interface: CBC (COIN-OR's branch and cut,
// through cgo) for real work, and Enumerate, a brute-force search over tiny
// pure-binary models that the tests use as the oracle CBC must agree with.
// Models can also be written as CPLEX LP or free MPS files so any other
// solver (glpsol, HiGHS, Gurobi) can check them.
//
// The package must never know what its variables mean: nothing here may
// mention layers, cuts, tasks, devices or networks. The optimizer builds a
// Model from its own problem and reads the answer back by variable index.
//
// CBC is the only cgo in the project and lives in cbc.go alone: C types and
// 1-based indices never leave that file, every CBC handle is freed on every
// path, and every argument is checked in Go before it reaches C. Built with
// CGO_ENABLED=0 or the build tag nocbc, CBC.Solve returns ErrUnavailable and
// everything else works.
//
// CBC 2.10 can abort the process on a failed assert, so by default it runs
// in a worker process (worker.go): the same executable, started again with
// an environment variable that an init() in cbc.go checks, fed models over
// a pipe. A crash, an abort or a hang becomes ErrSolverCrashed and the next
// solve starts a fresh worker; CBC{InProcess: true} skips the process for
// callers who accept the risk.
package milp
