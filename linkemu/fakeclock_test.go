package linkemu

import (
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is virtual time: sleeping jumps to the wake-up time at once.
// Nothing sleeps before gate opens, so a test can queue all its writes at
// virtual time 0 first.
type fakeClock struct {
	gate chan struct{}
	mu   sync.Mutex
	t    time.Duration
}

func (f *fakeClock) now() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) sleepUntil(d time.Duration) {
	<-f.gate
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = max(f.t, d)
}

// recorder is a socket that notes how many bytes reached it at which
// virtual time.
type recorder struct {
	net.Conn // nil: only Write and Close are used
	clock    *fakeClock
	mu       sync.Mutex
	got      map[time.Duration]int
}

func (r *recorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[r.clock.now()] += len(b)
	return len(b), nil
}

func (r *recorder) Close() error { return nil }

// TestLinkDeliversAtTraceTimesInVirtualTime runs the whole link (queue,
// pacing, propagation) on a virtual clock: every byte reaches the socket at
// its opportunity plus the delay, exactly. The delays are longer than the
// schedule so the socket's clock reads are not moved by the pacer's.
func TestLinkDeliversAtTraceTimesInVirtualTime(t *testing.T) {
	small, err := ParseTrace(strings.NewReader("2\n2\n5\n"))
	if err != nil {
		t.Fatal(err)
	}
	ten, err := ConstantTrace(10)
	if err != nil {
		t.Fatal(err)
	}
	// 1e6 bytes at 10 Mbps: 666 full packets and one of 1000 bytes, five
	// every 6 ms at 2, 3, 4, 5, 6 ms, a second later.
	tenWant := map[time.Duration]int{}
	for i := range 667 {
		at := time.Duration(1000+(i/5)*6+int(ten.ms[i%5])) * time.Millisecond
		tenWant[at] += min(MTU, 1e6-i*MTU)
	}
	for _, tc := range []struct {
		name  string
		tr    *Trace
		delay int
		bytes int
		want  map[time.Duration]int
	}{
		{"backlog repeats the trace", small, 10, 7 * MTU, map[time.Duration]int{12 * time.Millisecond: 2 * MTU,
			15 * time.Millisecond: MTU, 17 * time.Millisecond: 2 * MTU, 20 * time.Millisecond: MTU, 22 * time.Millisecond: MTU}},
		{"a partial packet takes an opportunity", small, 10, 1600, map[time.Duration]int{12 * time.Millisecond: 1600}},
		{"1 MB at 10 Mbps ends at 0.801 s after the delay", ten, 1000, 1e6, tenWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{gate: make(chan struct{})}
			rec := &recorder{clock: clk, got: map[time.Duration]int{}}
			lc, err := Link{Trace: tc.tr, DelayMS: tc.delay, QueuePackets: 1000}.wrap(rec, clk)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lc.Write(make([]byte, tc.bytes)); err != nil {
				t.Fatal(err)
			}
			close(clk.gate)
			if err := lc.Close(); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(rec.got, tc.want) {
				t.Fatalf("bytes by arrival time %v, want %v", rec.got, tc.want)
			}
		})
	}
}
