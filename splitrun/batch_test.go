package splitrun_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// seededInput fills dst with input i: the same values whichever edge reads
// it.
func seededInput(i int, dst []float32) error {
	rng := rand.New(rand.NewPCG(uint64(i), 3))
	for k := range dst {
		dst[k] = float32(rng.NormFloat64())
	}
	return nil
}

// runAll runs n inputs through r and checks that every index comes back
// once, in order.
func runAll(t *testing.T, r *splitrun.Runner, n int) []splitrun.Answer {
	t.Helper()
	var got []splitrun.Answer
	err := r.Run(n, seededInput, func(a splitrun.Answer) error {
		if a.Index != len(got) {
			t.Fatalf("answer %d emitted in position %d", a.Index, len(got))
		}
		got = append(got, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d answers for %d inputs", len(got), n)
	}
	return got
}

func progs(t *testing.T, d *splitrun.Deployment, seed uint64, k int) []*engine.Program {
	var ps []*engine.Program
	for range k {
		ps = append(ps, compiled(t, d, seed))
	}
	return ps
}

// TestRunnerConcurrentEqualsSerial: three edges over one loopback server
// answer every input once, in input order, with the logits one edge gives
// bit for bit (fp32 cut), and none falls back.
func TestRunnerConcurrentEqualsSerial(t *testing.T) {
	const seed, n = 5, 11
	d := planFor(t, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	addr := serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed})
	var runs [][]splitrun.Answer
	for _, k := range []int{1, 3} {
		r := &splitrun.Runner{D: d, Progs: progs(t, d, seed, k), Addr: addr, Seed: seed, Timeout: time.Minute}
		runs = append(runs, runAll(t, r, n))
	}
	for i := range n {
		one, three := runs[0][i], runs[1][i]
		for _, a := range []splitrun.Answer{one, three} {
			if a.Err != nil || a.Fallback || a.Timing.Bytes != 4*int(d.Graph.Nodes[d.Hops[0][0].Node].OutShape.Elems()) {
				t.Fatalf("input %d: %+v", i, a)
			}
		}
		sameLogits(t, three.Timing.Logits, one.Timing.Logits)
	}
	if n := len(runs[0][0].Timing.Logits); n != 2 {
		t.Fatalf("%d tasks answered, want 2", n)
	}
}

// TestRunnerFallsBack: with the server gone (a closed port) or silent (it
// accepts and never answers, bounded by the timeout), an edge whose plan
// lets the device run the whole model answers every input alone with the
// whole network's logits, bit for bit, marked as a fallback with the
// reason; without that permission every input fails, none is answered
// twice.
func TestRunnerFallsBack(t *testing.T) {
	const seed, n = 5, 5
	d := planFor(t, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	silent := fakeServer(t, func(net.Conn) []net.Conn { return nil }) // accepts, never answers
	whole := compiled(t, d, seed)
	tests := []struct {
		name, addr string
		local      bool
		reason     string
	}{
		{"dead server, device may", deadAddr, true, "connection refused"},
		{"silent server, device may", silent, true, "within 200ms"},
		{"dead server, device may not", deadAddr, false, "cannot run the whole model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &splitrun.Runner{D: d, Progs: progs(t, d, seed, 2), Addr: tc.addr, Seed: seed, Timeout: 200 * time.Millisecond, Local: tc.local}
			reasons := ""
			for i, a := range runAll(t, r, n) {
				reasons += a.Reason + "\n"
				if !tc.local {
					reasons += fmt.Sprint(a.Err) + "\n"
					if a.Err == nil || a.Fallback || !strings.Contains(a.Err.Error(), tc.reason) {
						t.Errorf("input %d: err %v, fallback %v", i, a.Err, a.Fallback)
					}
					continue
				}
				if a.Err != nil || !a.Fallback || a.Timing.Bytes != 0 || a.Timing.ServerMS != 0 {
					t.Fatalf("input %d: %+v", i, a)
				}
				sameLogits(t, a.Timing.Logits, wholeLogits(t, whole, i))
			}
			if !strings.Contains(reasons, tc.reason) {
				t.Errorf("no reason names %q:\n%s", tc.reason, reasons)
			}
		})
	}
}

// TestRunnerStopsOnEmitError: an emit error ends the run and is returned;
// no answer is emitted after it.
func TestRunnerStopsOnEmitError(t *testing.T) {
	const seed = 5
	d := planFor(t, "features.12", "none", map[string]string{"task1": "edge", "task2": "edge"})
	r := &splitrun.Runner{D: d, Progs: progs(t, d, seed, 2), Seed: seed}
	emitted := 0
	err := r.Run(20, seededInput, func(a splitrun.Answer) error {
		emitted++
		if a.Index == 3 {
			return fmt.Errorf("disk full")
		}
		return nil
	})
	if err == nil || err.Error() != "disk full" || emitted != 4 {
		t.Errorf("err %v after %d answers, want disk full after 4", err, emitted)
	}
}

// fakeServer accepts loopback connections and hands each to handle, which
// returns the other connections it opened; all are closed when the test
// ends (t.Cleanup may not be called from the accepting goroutine then).
func fakeServer(t *testing.T, handle func(c net.Conn) []net.Conn) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(append(conns, c), handle(c)...)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// freezingProxy forwards connections to addr until frozen is set; from
// then on it drops everything the server sends, as a server that hangs
// mid-request would look to the edge. It does not read the protocol.
func freezingProxy(t *testing.T, addr string, frozen *atomic.Bool) string {
	return fakeServer(t, func(c net.Conn) []net.Conn {
		u, err := net.Dial("tcp", addr)
		if err != nil {
			c.Close()
			return nil
		}
		go io.Copy(u, c)
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := u.Read(buf)
				if err != nil {
					c.Close()
					return
				}
				if !frozen.Load() {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}
		}()
		return []net.Conn{u}
	})
}

// wholeLogits are input i's logits from the whole network on prog.
func wholeLogits(t *testing.T, prog *engine.Program, i int) [][]float32 {
	t.Helper()
	in := make([]float32, prog.Graph().Input.Elems())
	seededInput(i, in)
	_, want, err := prog.RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestRunnerTimesOutMidRequest: a server that stops answering after two
// inputs costs the third its timeout, after which it and the rest are
// answered by the device alone, each once, with the whole network's logits.
func TestRunnerTimesOutMidRequest(t *testing.T) {
	const seed, n = 5, 5
	d := planFor(t, "features.4", "fp32", map[string]string{"task1": "server", "task2": "server"})
	var frozen atomic.Bool
	addr := freezingProxy(t, serve(t, &splitrun.Server{Model: d.Model(), Workers: 1, Seed: seed}), &frozen)
	r := &splitrun.Runner{D: d, Progs: progs(t, d, seed, 1), Addr: addr, Seed: seed, Timeout: 300 * time.Millisecond, Local: true}
	read := func(i int, dst []float32) error {
		if i == 2 {
			frozen.Store(true)
		}
		return seededInput(i, dst)
	}
	var got []splitrun.Answer
	if err := r.Run(n, read, func(a splitrun.Answer) error { got = append(got, a); return nil }); err != nil {
		t.Fatal(err)
	}
	whole := compiled(t, d, seed)
	for i, a := range got {
		if a.Index != i || a.Err != nil || a.Fallback != (i >= 2) {
			t.Fatalf("answer %d: index %d, err %v, fallback %v", i, a.Index, a.Err, a.Fallback)
		}
		sameLogits(t, a.Timing.Logits, wholeLogits(t, whole, i))
	}
	if len(got) != n || !strings.Contains(got[2].Reason, "no answer within 300ms") || !(got[2].LostMS >= 300) {
		t.Errorf("%d answers; the third: reason %q after %.0f ms", len(got), got[2].Reason, got[2].LostMS)
	}
}
