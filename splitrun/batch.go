package splitrun

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mtlsplit/mtlsplit/engine"
)

// Runner answers a stream of inputs through a deployment over several
// edges at once, each with its own engine program and connection. Every
// input is answered exactly once: by the server, or — when the server is
// unreachable, fails or does not answer in time and the device may run
// the whole model — by the device alone.
//
// It builds only on Edge's Dial, Infer and Close, so that it does not
// depend on how an edge talks to its server.
type Runner struct {
	D *Deployment
	// Progs are the edges' programs, one per concurrent edge (compiled
	// with D.Compile and the server's seed).
	Progs []*engine.Program
	// NewEdge makes an edge on prog, not yet dialled; nil: a bare
	// &Edge{D: D, Prog: prog}. A new one is made after every failure, so
	// that no state of a broken connection is reused.
	NewEdge func(prog *engine.Program) *Edge
	Addr    string
	Seed    uint64
	// Timeout bounds each connection attempt and each request to the
	// server (send to reply); 0: no bound.
	Timeout time.Duration
	// Local says the device may run the whole model when the server does
	// not answer (the plan's local-only baseline is feasible); without it
	// such an input fails.
	Local bool
	// Retry is how long an edge whose connection attempt failed goes
	// without trying again, answering locally meanwhile (0: one second):
	// a dead server then costs one attempt per Retry, not one per input.
	Retry time.Duration
}

// Answer is one input's outcome.
type Answer struct {
	Index  int
	Timing Timing
	// Fallback says the device answered alone; Reason says why the
	// server did not.
	Fallback bool
	Reason   string
	// LostMS is the time spent on the server before falling back
	// (included in Timing.TotalMS).
	LostMS float64
	// Err is set when the input has no answer (it could not be read, or
	// the server failed and the device may not run the whole model).
	Err error
}

// ErrStopped is returned by Run when emit stopped it.
var ErrStopped = errors.New("stopped")

// Run reads inputs 0 … n−1 with read (called from several goroutines,
// once per index, into a buffer of the model's input size), answers each
// once and calls emit with the answers in input order, from one
// goroutine. An emit error stops the run and is returned.
func (r *Runner) Run(n int, read func(i int, dst []float32) error, emit func(Answer) error) error {
	if len(r.Progs) == 0 {
		return fmt.Errorf("runner: no edge programs")
	}
	next := make(chan int)
	answers := make(chan Answer)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range r.Progs {
		w := &worker{r: r, prog: p, in: make([]float32, r.D.Graph.Input.Elems())}
		wg.Go(func() {
			defer w.close()
			for i := range next {
				select {
				case answers <- w.answer(i, read):
				case <-stop:
					return
				}
			}
		})
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-stop:
				return
			}
		}
	}()
	go func() { wg.Wait(); close(answers) }()
	// Answers come back in any order: hold each until those before it
	// have gone out.
	held := map[int]Answer{}
	want := 0
	var err error
	for a := range answers {
		if err != nil {
			continue // draining after a stop
		}
		held[a.Index] = a
		for {
			b, ok := held[want]
			if !ok {
				break
			}
			delete(held, want)
			want++
			if err = emit(b); err != nil {
				close(stop)
				break
			}
		}
	}
	if err == nil && want != n {
		return fmt.Errorf("runner: %d of %d inputs answered", want, n)
	}
	return err
}

// worker is one edge: its program, its connection (nil when it has none)
// and when it may next try to connect.
type worker struct {
	r       *Runner
	prog    *engine.Program
	edge    *Edge
	retryAt time.Time
	in      []float32
}

func (w *worker) close() {
	if w.edge != nil {
		w.edge.Close()
	}
}

func (w *worker) answer(i int, read func(int, []float32) error) Answer {
	a := Answer{Index: i}
	if err := read(i, w.in); err != nil {
		a.Err = err
		return a
	}
	start := time.Now()
	err := w.connect()
	if err == nil {
		var t Timing
		if t, err = w.infer(); err == nil {
			a.Timing = t
			return a
		}
	}
	a.Reason = err.Error()
	if !w.r.Local {
		a.Err = fmt.Errorf("server: %w (and the plan's device cannot run the whole model)", err)
		return a
	}
	a.LostMS = msSince(start)
	if a.Timing, err = w.local(); err != nil {
		a.Err = err
		return a
	}
	a.Fallback = true
	a.Timing.NetworkMS = a.LostMS
	a.Timing.TotalMS += a.LostMS
	return a
}

// connect makes sure the worker has a connection.
func (w *worker) connect() error {
	if w.edge != nil {
		return nil
	}
	if time.Now().Before(w.retryAt) {
		return fmt.Errorf("connect %s: failed less than %v ago", w.r.Addr, w.r.retry())
	}
	e := w.r.newEdge(w.prog)
	if err := w.r.dial(e); err != nil {
		w.retryAt = time.Now().Add(w.r.retry())
		return fmt.Errorf("connect %s: %w", w.r.Addr, err)
	}
	w.edge = e
	return nil
}

// infer sends the worker's input over its connection; on any failure the
// connection is dropped, so the next input starts on a new one.
func (w *worker) infer() (Timing, error) {
	e := w.edge
	var t Timing
	err := w.r.bounded(func() error {
		var err error
		t, err = e.Infer(w.in)
		return err
	}, e.Close)
	if err != nil {
		e.Close()
		w.edge = nil
	}
	return t, err
}

// local runs the whole model on the worker's program: every node, every
// head, in fp32.
func (w *worker) local() (Timing, error) {
	start := time.Now()
	g := w.r.D.Graph
	if err := w.prog.RunNodes(func(int) bool { return true }, w.in); err != nil {
		return Timing{}, err
	}
	t := Timing{Logits: make([][]float32, len(g.Heads)), EdgeIdleMS: -1, ServerIdleMS: -1}
	for k, h := range g.Heads {
		var err error
		if t.Logits[k], err = w.prog.Tensor(h.Output); err != nil {
			return Timing{}, err
		}
	}
	t.EdgeMS = msSince(start)
	t.TotalMS = t.EdgeMS
	return t, nil
}

func (r *Runner) newEdge(p *engine.Program) *Edge {
	if r.NewEdge != nil {
		return r.NewEdge(p)
	}
	return &Edge{D: r.D, Prog: p}
}

func (r *Runner) retry() time.Duration {
	if r.Retry > 0 {
		return r.Retry
	}
	return time.Second
}

// dial connects e within the timeout. An attempt that outlasts it is left
// to finish on its own (dialling touches no program) and hung up then.
func (r *Runner) dial(e *Edge) error {
	late, err := r.within(func() error { return e.Dial(r.Addr, r.Seed) })
	if late == nil {
		return err
	}
	go func() {
		if <-late == nil {
			e.Close()
		}
	}()
	return fmt.Errorf("no connection within %v", r.Timeout)
}

// bounded runs f within the timeout; past it, abort (hanging up) makes f
// return, and bounded waits for that, since f uses the worker's program.
// An answer that still arrives counts: the input is answered once either
// way.
func (r *Runner) bounded(f func() error, abort func() error) error {
	late, err := r.within(f)
	if late == nil {
		return err
	}
	abort()
	if err := <-late; err != nil {
		return fmt.Errorf("no answer within %v", r.Timeout)
	}
	return nil
}

// within runs f and waits for it at most the timeout: it returns f's
// error, or, past the timeout, the channel f's error will arrive on.
func (r *Runner) within(f func() error) (late <-chan error, err error) {
	if r.Timeout <= 0 {
		return nil, f()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(r.Timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return nil, err
	case <-timer.C:
		return done, nil
	}
}

// msSince is the milliseconds since t.
func msSince(t time.Time) float64 { return msOf(time.Since(t)) }

// msOf is d in milliseconds.
func msOf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
