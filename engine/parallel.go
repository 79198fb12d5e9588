package engine

import "sync"

// kernel is a piece of work split by index: part computes items [lo, hi)
// as thread tid (0 ≤ tid < threads; a thread's own scratch space).
// Steps keep their kernels as fields so that handing one to a worker
// allocates nothing.
type kernel interface{ part(lo, hi, tid int) }

type job struct {
	k           kernel
	lo, hi, tid int
}

// workers is a fixed pool of goroutines that run parts of one kernel at a
// time; the calling goroutine runs a share too.
type workers struct {
	threads int
	jobs    chan job
	wg      sync.WaitGroup
	once    sync.Once
}

func newWorkers(threads int) *workers {
	w := &workers{threads: threads, jobs: make(chan job, threads)}
	for range threads - 1 {
		go w.loop()
	}
	return w
}

func (w *workers) loop() {
	for j := range w.jobs {
		j.k.part(j.lo, j.hi, j.tid)
		w.wg.Done()
	}
}

func (w *workers) close() { w.once.Do(func() { close(w.jobs) }) }

// run splits [0, n) into at most one contiguous range per thread, with at
// least grain items in each, and waits for all of them.
func (w *workers) run(k kernel, n, grain int) {
	parts := min(w.threads, n/max(grain, 1))
	if parts <= 1 {
		k.part(0, n, 0)
		return
	}
	w.wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		w.jobs <- job{k, i * n / parts, (i + 1) * n / parts, i}
	}
	k.part(0, n/parts, 0)
	w.wg.Wait()
}
