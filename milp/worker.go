//go:build cgo && !nocbc

package milp

// CBC runs in a child process by default: CBC 2.10 aborts the whole process
// on some models (a failed assert() in Clp, see cbc.go), and an abort in C
// cannot be recovered in Go. The child is this same executable, started
// again with workerEnv set; the init() in cbc.go sees it and serves solves
// instead of running main or the tests. So it works in the CLI, in test
// binaries and in any program that links this package, with no separate
// binary to install. Nothing here is C: the child solves with the in-process
// path of cbc.go.

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/mtlsplit/mtlsplit/internal/cores"
)

const (
	// workerEnv marks the child; its value names the protocol, so a worker
	// from another build of the executable refuses instead of misreading.
	workerEnv      = "MTLSPLIT_MILP_WORKER"
	workerProtocol = "cbc-gob-1"
	// hookEnv is a hidden test hook in the caller's environment: "abort"
	// makes the worker call abort() instead of solving, as CBC does on a
	// failed assert; "hang" makes it never answer.
	hookEnv = "MTLSPLIT_MILP_TEST_HOOK"
	// workerIdle is how long an idle worker lives before it exits.
	workerIdle = 30 * time.Second
	// The pipes are the child's file descriptors 3 and 4 (exec.Cmd's
	// ExtraFiles), so whatever CBC prints on stdout cannot corrupt them.
	requestFD, solutionFD = 3, 4
)

type workerRequest struct {
	Model    wireModel
	Settings Settings
	Hook     string
}

type workerResponse struct {
	Solution *Solution
	Err      string
}

// serveWorker is the child's main loop: read a request, solve it in
// process, answer, until the parent closes the request pipe. It returns
// the exit code.
func serveWorker(solve func(*Model, *Settings) (*Solution, error), abort func()) int {
	in, out := os.NewFile(requestFD, "milp-requests"), os.NewFile(solutionFD, "milp-solutions")
	dec := gob.NewDecoder(bufio.NewReader(in))
	bw := bufio.NewWriter(out)
	enc := gob.NewEncoder(bw)
	for {
		var req workerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "milp worker: read request: %v\n", err)
			return 2
		}
		switch req.Hook {
		case "abort":
			fmt.Fprintln(os.Stderr, "milp worker: abort() on request (test hook)")
			abort()
		case "hang":
			time.Sleep(24 * time.Hour)
		}
		sol, err := solve(req.Model.model(), &req.Settings)
		resp := workerResponse{Solution: sol}
		if err != nil {
			resp.Err = err.Error()
		}
		if err := enc.Encode(&resp); err == nil {
			err = bw.Flush()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "milp worker: write solution: %v\n", err)
			return 2
		}
	}
}

// worker is one live child process.
type worker struct {
	cmd   *exec.Cmd
	req   *os.File // our end of the request pipe
	enc   *gob.Encoder
	dec   *gob.Decoder
	out   *tail
	timer *time.Timer // retires the worker when idle too long
	done  chan struct{}
}

// workerPool keeps idle workers for reuse (starting one costs a process
// start) and bounds the live ones: each serves one solve at a time, as CBC
// is not thread-safe, so concurrent callers get a worker each.
type workerPool struct {
	mu    sync.Mutex
	idle  []*worker
	slots chan struct{}
}

var pool = &workerPool{slots: make(chan struct{}, max(2, cores.N()))}

// solve runs one solve in a worker. The model and settings are valid.
func (p *workerPool) solve(m *Model, s *Settings) (*Solution, error) {
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	w, err := p.take()
	if err != nil {
		return &Solution{Status: Error}, err
	}
	req := workerRequest{Model: toWire(m), Settings: *s, Hook: os.Getenv(hookEnv)}
	// A worker that overruns its time limit by far is hung; CBC itself can
	// overrun by the time preprocessing or one node takes.
	var watchdog *time.Timer
	patience := 2*s.TimeLimit + 5*time.Second
	if s.TimeLimit > 0 {
		watchdog = time.AfterFunc(patience, func() { w.cmd.Process.Kill() })
	}
	var resp workerResponse
	err = w.enc.Encode(&req)
	if err == nil {
		err = w.dec.Decode(&resp)
	}
	killed := watchdog != nil && !watchdog.Stop()
	if err != nil {
		w.close()
		<-w.done
		if killed {
			return &Solution{Status: Error}, fmt.Errorf("%w: killed after %v without an answer (time limit %v)%s",
				ErrSolverCrashed, patience, s.TimeLimit, w.out.last())
		}
		return &Solution{Status: Error}, fmt.Errorf("%w: %v%s", ErrSolverCrashed, w.cmd.ProcessState, w.out.last())
	}
	if killed {
		w.close() // answered just in time, but the kill is on its way
	} else {
		p.put(w)
	}
	if resp.Solution == nil {
		resp.Solution = &Solution{Status: Error}
	}
	if resp.Err != "" {
		return resp.Solution, errors.New(resp.Err)
	}
	return resp.Solution, nil
}

// wireModel is a Model as flat slices, without the variable and row names
// CBC does not use: gob sends slices of numbers in one piece, so this is
// about twice as fast to send as the Model itself.
type wireModel struct {
	Name         string
	Lower, Upper []float64
	Integer      []bool
	RowStart     []int // row i's terms are TermVar[RowStart[i]:RowStart[i+1]]
	TermVar      []int
	TermCoef     []float64
	Sense        []Sense
	RHS          []float64
	ObjVar       []int
	ObjCoef      []float64
	ObjConst     float64
}

func toWire(m *Model) wireModel {
	w := wireModel{Name: m.Name, Lower: make([]float64, len(m.Vars)), Upper: make([]float64, len(m.Vars)),
		Integer: make([]bool, len(m.Vars)), RowStart: make([]int, 1, len(m.Rows)+1),
		Sense: make([]Sense, len(m.Rows)), RHS: make([]float64, len(m.Rows)), ObjConst: m.ObjConst}
	for i, v := range m.Vars {
		w.Lower[i], w.Upper[i], w.Integer[i] = v.Lower, v.Upper, v.Integer
	}
	for i, r := range m.Rows {
		for _, t := range r.Terms {
			w.TermVar = append(w.TermVar, t.Var)
			w.TermCoef = append(w.TermCoef, t.Coef)
		}
		w.RowStart = append(w.RowStart, len(w.TermVar))
		w.Sense[i], w.RHS[i] = r.Sense, r.RHS
	}
	for _, t := range m.Objective {
		w.ObjVar = append(w.ObjVar, t.Var)
		w.ObjCoef = append(w.ObjCoef, t.Coef)
	}
	return w
}

func (w *wireModel) model() *Model {
	m := &Model{Name: w.Name, Vars: make([]Var, len(w.Lower)), Rows: make([]Row, len(w.Sense)), ObjConst: w.ObjConst}
	for i := range m.Vars {
		m.Vars[i] = Var{Lower: w.Lower[i], Upper: w.Upper[i], Integer: w.Integer[i]}
	}
	terms := make([]Term, len(w.TermVar))
	for k := range terms {
		terms[k] = Term{w.TermVar[k], w.TermCoef[k]}
	}
	for i := range m.Rows {
		m.Rows[i] = Row{Terms: terms[w.RowStart[i]:w.RowStart[i+1]:w.RowStart[i+1]], Sense: w.Sense[i], RHS: w.RHS[i]}
	}
	for k := range w.ObjVar {
		m.Objective = append(m.Objective, Term{w.ObjVar[k], w.ObjCoef[k]})
	}
	return m
}

func (p *workerPool) take() (*worker, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.timer.Stop()
		return w, nil
	}
	p.mu.Unlock()
	return startWorker()
}

func (p *workerPool) put(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle = append(p.idle, w)
	w.timer = time.AfterFunc(workerIdle, func() { p.retire(w) })
}

// retire closes w if it is still idle.
func (p *workerPool) retire(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, v := range p.idle {
		if v == w {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			w.close()
			return
		}
	}
}

// executable is this program's file. /proc/self/exe still names it when the
// file on disk has been replaced or deleted since it started.
func executable() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

func startWorker() (*worker, error) {
	exe, err := executable()
	if err != nil {
		return nil, fmt.Errorf("milp: start CBC worker: %w", err)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("milp: start CBC worker: %w", err)
	}
	solR, solW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("milp: start CBC worker: %w", err)
	}
	out := &tail{}
	cmd := exec.Command(exe)
	cmd.Args[0] = os.Args[0] // the name CBC's assert messages start with
	cmd.Env = append(os.Environ(), workerEnv+"="+workerProtocol)
	cmd.ExtraFiles = []*os.File{reqR, solW} // fds 3 and 4
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Start()
	reqR.Close()
	solW.Close()
	if err != nil {
		reqW.Close()
		solR.Close()
		return nil, fmt.Errorf("milp: start CBC worker: %w", err)
	}
	w := &worker{cmd: cmd, req: reqW, enc: gob.NewEncoder(reqW), dec: gob.NewDecoder(bufio.NewReader(solR)),
		out: out, done: make(chan struct{})}
	go func() {
		// Wait also drains stdout and stderr into out.
		cmd.Wait()
		solR.Close()
		close(w.done)
	}()
	return w, nil
}

// close ends the request stream (a live worker exits on it) and makes sure
// the process goes.
func (w *worker) close() {
	w.req.Close()
	go func() {
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
		}
	}()
}

// tail keeps the end of a worker's output for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4096

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(b), nil
}

// last is the last non-empty line written, as ": line", or "".
func (t *tail) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	if l := strings.TrimSpace(string(lines[len(lines)-1])); l != "" {
		return ": " + l
	}
	return ""
}
