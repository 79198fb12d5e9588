package dataset

// Iter streams a set in order, batch by batch, decoding the next batch in
// the background while the caller works on the current one. Two batches are
// in memory at a time, never the whole set.
//
//	it := set.Iter(32, progress)
//	defer it.Close()
//	for it.Next() {
//		x, first, n := it.X(), it.Start(), it.N() // x: n·Elems() values, NCHW
//		...
//	}
//	if err := it.Err(); err != nil { ... }
type Iter struct {
	set      *Set
	progress func(done, total int)
	ready    chan filled
	free     chan []float32
	stop     chan struct{}
	cur      filled
	err      error
	closed   bool
}

type filled struct {
	x        []float32
	start, n int
	err      error
}

// Iter starts streaming batches of size batch (the last one may be
// smaller). progress, if not nil, is called from Next after each batch with
// the items delivered so far and Len. batch < 1 is taken as 1.
func (s *Set) Iter(batch int, progress func(done, total int)) *Iter {
	batch = max(batch, 1)
	it := &Iter{set: s, progress: progress,
		ready: make(chan filled, 1), free: make(chan []float32, 2), stop: make(chan struct{})}
	for range 2 {
		it.free <- make([]float32, batch*s.Elems())
	}
	go it.fill(batch)
	return it
}

func (it *Iter) fill(batch int) {
	defer close(it.ready)
	for i := 0; i < it.set.Len(); i += batch {
		var x []float32
		select {
		case x = <-it.free:
		case <-it.stop:
			return
		}
		n := min(batch, it.set.Len()-i)
		err := it.set.Batch(i, n, x)
		select {
		case it.ready <- filled{x: x[:n*it.set.Elems()], start: i, n: n, err: err}:
		case <-it.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// Next moves to the next batch; false at the end, after an error (see Err)
// or after Close. The previous batch's X is reused from here on.
func (it *Iter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	if it.cur.x != nil {
		it.free <- it.cur.x[:cap(it.cur.x)]
		it.cur = filled{}
	}
	f, ok := <-it.ready
	if !ok {
		return false
	}
	if f.err != nil {
		it.err = f.err
		return false
	}
	it.cur = f
	if it.progress != nil {
		it.progress(f.start+f.n, it.set.Len())
	}
	return true
}

// X is the current batch, N()·Elems() values in NCHW order.
func (it *Iter) X() []float32 { return it.cur.x }

// Start is the index of the current batch's first item (for Set.Item).
func (it *Iter) Start() int { return it.cur.start }

// N is the number of items in the current batch.
func (it *Iter) N() int { return it.cur.n }

// Labels are the current batch's labels, [item][task].
func (it *Iter) Labels() [][]int {
	out := make([][]int, it.cur.n)
	for k := range out {
		out[k] = it.set.items[it.cur.start+k].Labels
	}
	return out
}

// Err is the error that ended the stream, if any.
func (it *Iter) Err() error { return it.err }

// Close stops the background decoding; Next returns false afterwards.
// Closing twice is harmless.
func (it *Iter) Close() {
	if it.closed {
		return
	}
	it.closed = true
	close(it.stop)
	for range it.ready { // let the filler see stop and exit
	}
}
