package engine

import (
	"sync"
	"sync/atomic"
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
type workers struct {
	threads int
	wake    []chan struct{} // one per helper, cap 1: a pending wake-up is enough
	fin     chan struct{}   // the helper that completes a run's last chunk says so
	once    sync.Once

	// claim is epoch<<32 | chunks<<16 | next chunk. A helper claims a
	// chunk by CAS, so a helper still holding a finished run's epoch claims
	// nothing; only after a successful claim does it read k and n, which
	// the caller writes before publishing a new epoch and keeps until every
	// claimed chunk is done.
	claim atomic.Uint64
	done  atomic.Int64
	k     kernel
	n     int
}

// chunksPerThread is how finely a run is cut when it can be: enough for the
// running threads to take over a descheduled one's share, few enough that
// per-chunk costs (a GEMM packs its B panel per chunk) stay small.
const chunksPerThread = 4

// maxChunks is the most chunks a run has: the count fits in 16 bits of
// claim.
const maxChunks = 1<<16 - 1

func newWorkers(threads int) *workers {
	w := &workers{threads: threads, fin: make(chan struct{}, 1)}
	for tid := 1; tid < threads; tid++ {
		c := make(chan struct{}, 1)
		w.wake = append(w.wake, c)
		go w.loop(c, tid)
	}
	return w
}

func (w *workers) loop(wake chan struct{}, tid int) {
	for range wake {
		if w.work(tid) {
			w.fin <- struct{}{}
		}
	}
}

// work runs chunks of the current run until none is left, and reports
// whether it completed the run's last one.
func (w *workers) work(tid int) (last bool) {
	for {
		c := w.claim.Load()
		i, chunks := int(c&0xFFFF), int(c>>16&0xFFFF)
		if i >= chunks {
			return last
		}
		if !w.claim.CompareAndSwap(c, c+1) {
			continue
		}
		w.k.part(i*w.n/chunks, (i+1)*w.n/chunks, tid)
		last = w.done.Add(1) == int64(chunks)
	}
}

func (w *workers) close() {
	w.once.Do(func() {
		for _, c := range w.wake {
			close(c)
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
	w.k, w.n = k, n
	w.done.Store(0)
	w.claim.Store((w.claim.Load()>>32+1)<<32 | uint64(chunks)<<16)
	for _, c := range w.wake {
		select {
		case c <- struct{}{}:
		default: // already has a wake-up pending, which will find this run
		}
	}
	if !w.work(0) {
		<-w.fin
	}
}
