package linkemu

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The spec of the issue: 1 MB over a constant 10 Mbps trace takes 0.8 s
// ± 5%. This is the package's only wall-clock test, because the duration is
// the specification; 1e6 bytes are 667 packets, the last leaving at 801 ms
// (the virtual-clock test checks that exactly). Faster than 0.76 s fails at
// once: no load makes a link early. Slower than 0.84 s can be a machine too
// busy to wake the link on time, so that alone is tried again, three times
// in all: one attempt within the bound shows the link keeps the rate.
func TestOneMegabyteAtTenMbpsTakesPointEightSeconds(t *testing.T) {
	tr, err := ConstantTrace(10)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(1e6)
	var tries []time.Duration
	for range 3 {
		took := transfer(t, tr, data)
		tries = append(tries, took)
		if took < 760*time.Millisecond {
			t.Fatalf("1 MB at 10 Mbps took %v, faster than 0.8 s - 5%%", took)
		}
		if took <= 840*time.Millisecond {
			t.Logf("1 MB at 10 Mbps took %v (attempts %v)", took, tries)
			return
		}
	}
	t.Fatalf("1 MB at 10 Mbps took %v, want 0.8 s ± 5%%", tries)
}

// transfer sends data over a loopback TCP pair through the link and returns
// how long until the other end had all of it.
func transfer(t *testing.T, tr *Trace, data []byte) time.Duration {
	t.Helper()
	client, server := tcpPair(t)
	lc, err := Link{Trace: tr}.Wrap(client)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	start := time.Now()
	go func() {
		// Into a buffer made beforehand: io.ReadAll's growing and the
		// collections it causes delay the reader by tens of ms.
		b := make([]byte, len(data)+1)
		n, _ := io.ReadFull(server, b)
		got <- b[:n]
	}()
	if _, err := lc.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := lc.Close(); err != nil {
		t.Fatal(err)
	}
	b := <-got
	took := time.Since(start)
	if !bytes.Equal(b, data) {
		t.Fatalf("received %d bytes, not the %d sent", len(b), len(data))
	}
	return took
}

// Many small writes, a delay and a small queue (so writers block) still
// deliver the stream intact and in order.
func TestLinkDeliversStreamIntact(t *testing.T) {
	tr, err := ConstantTrace(1200) // 100 packets per ms: fast, not timed
	if err != nil {
		t.Fatal(err)
	}
	client, server := tcpPair(t)
	lc, err := Link{Trace: tr, DelayMS: 2, QueuePackets: 3}.Wrap(client)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(200_000)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	for off := 0; off < len(data); {
		n := min(777+off%3000, len(data)-off)
		if _, err := lc.Write(data[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if err := lc.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("received %d bytes, not the %d sent", len(b), len(data))
	}
	if _, err := lc.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

func TestWrapRefusesBadLinks(t *testing.T) {
	tr, _ := ConstantTrace(10)
	for _, tc := range []struct {
		name string
		l    Link
		want string
	}{
		{"no trace", Link{}, "needs a trace"},
		{"negative delay", Link{Trace: tr, DelayMS: -1}, "must not be negative"},
		{"negative queue", Link{Trace: tr, QueuePackets: -1}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.l.Wrap(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Wrap error = %v, want %q", err, tc.want)
			}
		})
	}
}
