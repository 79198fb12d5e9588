package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// kernel is a piece of work split by index: part computes items [lo, hi)
// as thread tid (0 ≤ tid < threads; a thread's own scratch space).
// Steps keep their kernels as fields so that handing one to a worker
// allocates nothing.
type kernel interface{ part(lo, hi, tid int) }

// workers is a fixed pool of goroutines that help the calling goroutine
// run one kernel at a time.
//
// A run cuts [0, n) into chunks that every thread claims from a shared
// counter until none is left, rather than one fixed range per thread: on a
// machine shared with other processes a thread is often descheduled for a
// whole time slice, and with fixed ranges every layer then waited for it.
// Now the threads that do run take its chunks, and the caller waits only
// for chunks already claimed — a helper that wakes after the run finds
// nothing to do and touches nothing.
//
// Between runs a helper polls for spinFor before it parks, and so does the
// caller waiting for a helper's last chunk: layers follow each other every
// 10 µs to a few ms, and a parked goroutine costs an OS thread's wake-up
// (a futex, and in a VM an idle virtual CPU's) at every layer's start and
// end. Each poll yields the CPU (osYield), so that on a busy core the
// polling thread gives its time to whoever can use it.
type workers struct {
	threads int
	spin    time.Duration // 0 when the helpers could not all run at once
	helpers []helper
	fin     chan struct{} // the helper that completes a run's last chunk says so
	once    sync.Once
	closed  atomic.Bool

	// claim is epoch<<32 | end<<16 | next: chunks [next, end) are
	// unclaimed. A thread claims the first or the last by CAS, so a helper
	// still holding a finished run's epoch claims nothing; only after a
	// successful claim does it read k, n and chunks, which
	// the caller writes before publishing a new epoch and keeps until every
	// claimed chunk is done.
	claim atomic.Uint64
	done  atomic.Int64
	// waiting is set by a caller that parks on fin; whoever clears it
	// (the helper completing the last chunk, or the caller seeing the run
	// done after all) decides whether fin is sent.
	waiting   atomic.Bool
	k         kernel
	n, chunks int
}

// helper is one helper goroutine's wake-up: parked is set while it blocks
// on wake, and whoever clears it sends the one token that wakes it.
type helper struct {
	wake   chan struct{}
	parked atomic.Bool
}

// spinFor is how long an idle thread polls before it parks: longer than
// the gap between most layers, short next to a pass. On the shared 2-core
// VM (load 6–8; BenchmarkEngine, 2 threads, 8 interleaved runs) polling
// 100 µs with a yield each time against parking at once: mobilenet_v3_small
// 2.45 against 3.05 ms (median), CPU time 2.50 against 2.90 ms; resnet18
// and efficientnet_b0 within the noise. Polling without the yield cost up
// to 15% more CPU time and was slower on the loaded VM.
const spinFor = 100 * time.Microsecond

// chunksPerThread is how finely a run is cut when it can be: enough for the
// running threads to take over a descheduled one's share, few enough that
// per-chunk costs (a GEMM packs its B panel per chunk) stay small.
const chunksPerThread = 4

// maxChunks is the most chunks a run has: the count fits in 16 bits of
// claim.
const maxChunks = 1<<16 - 1

func newWorkers(threads int) *workers {
	spareP(threads)
	w := &workers{threads: threads, fin: make(chan struct{}, 1)}
	if threads > 1 && runtime.GOMAXPROCS(0) >= threads {
		// A spinning helper holds a P: with fewer Ps than threads it
		// would keep the caller from running.
		w.spin = spinFor
	}
	w.helpers = make([]helper, max(threads-1, 0))
	for i := range w.helpers {
		w.helpers[i].wake = make(chan struct{}, 1)
		go w.loop(&w.helpers[i], i+1)
	}
	return w
}

// spareP raises GOMAXPROCS to one more than threads (at most NumCPU+1):
// the threads spend a run inside cgo calls, and while every P is in one,
// Go's sysmon takes each call's P away after 20 µs and starts a spinning
// thread with it to look for other work — on the cores the threads compute
// on — so that the call, when it returns, waits for a P again. One idle P
// keeps sysmon from it. resnet18 on two threads of this 2-core VM: 13.9–14.2
// ms with GOMAXPROCS 4 against 15.5–16.6 with 2 (alternating runs).
func spareP(threads int) {
	if threads < 2 || threads > runtime.NumCPU() {
		return
	}
	if runtime.GOMAXPROCS(0) < threads+1 {
		runtime.GOMAXPROCS(threads + 1)
	}
}

// pending reports whether the current run has unclaimed chunks.
func (w *workers) pending() bool {
	c := w.claim.Load()
	return c&0xFFFF < c>>16&0xFFFF
}

// poll spins until ok or the spin time is up, and reports ok.
func (w *workers) poll(ok func() bool) bool {
	if w.spin == 0 {
		return ok()
	}
	var end time.Time
	for i := 0; ; i++ {
		if ok() {
			return true
		}
		osYield()
		if i&15 == 0 {
			now := time.Now()
			if i == 0 {
				end = now.Add(w.spin)
			} else if now.After(end) {
				return false
			}
		}
	}
}

func (w *workers) loop(h *helper, tid int) {
	busy := func() bool { return w.pending() || w.closed.Load() }
	for {
		if w.closed.Load() {
			return
		}
		if w.work(tid) {
			w.finish()
		}
		if w.poll(busy) {
			continue
		}
		h.parked.Store(true)
		if busy() && h.parked.CompareAndSwap(true, false) {
			continue // a run (or close) came while parking: no token was sent
		}
		if _, ok := <-h.wake; !ok {
			return
		}
	}
}

// finish tells a parked caller that the run is complete.
func (w *workers) finish() {
	if w.waiting.CompareAndSwap(true, false) {
		w.fin <- struct{}{}
	}
}

// work runs chunks of the current run until none is left, and reports
// whether it completed the run's last one. Even threads (the caller
// among them) take chunks from the front, odd ones from the back, so that
// on two threads each keeps the same part of every feature map from one
// layer to the next — the rows it wrote are the rows it reads next, still
// in its own cache — and meets the other wherever the load made it.
func (w *workers) work(tid int) (last bool) {
	back := tid%2 == 1
	for {
		c := w.claim.Load()
		first, end := int(c&0xFFFF), int(c>>16&0xFFFF)
		if first >= end {
			return last
		}
		i, next := first, c+1
		if back {
			i, next = end-1, c-1<<16
		}
		if !w.claim.CompareAndSwap(c, next) {
			continue
		}
		lo, hi := evenSpan(i, w.chunks, w.n)
		w.k.part(lo, hi, tid)
		last = w.done.Add(1) == int64(w.chunks)
	}
}

// evenSpan is part i of n of [0, total): [lo, hi), the parts' sizes
// differing by at most one.
func evenSpan(i, n, total int) (lo, hi int) {
	return i * total / n, (i + 1) * total / n
}

func (w *workers) close() {
	w.once.Do(func() {
		w.closed.Store(true)
		for i := range w.helpers {
			close(w.helpers[i].wake)
		}
	})
}

// run splits [0, n) into chunks of at least grain items (up to
// chunksPerThread per thread) and waits until all are done.
func (w *workers) run(k kernel, n, grain int) {
	w.runChunks(k, n, min(w.threads*chunksPerThread, n/max(grain, 1)))
}

// runChunks splits [0, n) into chunks contiguous non-empty chunks (fewer
// when n is smaller), run by whichever threads claim them.
func (w *workers) runChunks(k kernel, n, chunks int) {
	chunks = min(chunks, n, maxChunks)
	if chunks <= 1 || w.threads <= 1 {
		k.part(0, n, 0)
		return
	}
	w.k, w.n, w.chunks = k, n, chunks
	w.done.Store(0)
	w.claim.Store((w.claim.Load()>>32+1)<<32 | uint64(chunks)<<16)
	for i := range w.helpers {
		if h := &w.helpers[i]; h.parked.Load() && h.parked.CompareAndSwap(true, false) {
			h.wake <- struct{}{}
		}
	}
	w.work(0)
	complete := func() bool { return w.done.Load() == int64(chunks) }
	if w.poll(complete) {
		return
	}
	w.waiting.Store(true)
	if complete() && w.waiting.CompareAndSwap(true, false) {
		return
	}
	<-w.fin
}
