package splitrun

import (
	"math"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
	"github.com/mtlsplit/mtlsplit/oip"
)

// TestSample: what a request's transfer tells the estimator — the bytes
// after the first packet over the server's recv_ms, at least 1 ms, and
// nothing for a body of under three packets or a time that is not one.
func TestSample(t *testing.T) {
	tests := []struct {
		name   string
		bytes  int
		recvMS float64
		want   int64
		wantD  time.Duration
		ok     bool
	}{
		{"one packet", 1400, 0, 0, 0, false},
		{"just under three packets", 4499, 12, 0, 0, false},
		{"three packets", 4500, 24, 3000, 24 * time.Millisecond, true},
		// 12000 bytes after the first packet in 96 ms: 1 Mbps.
		{"1 Mbps", 13500, 96, 12000, 96 * time.Millisecond, true},
		{"faster than the clock says", 13500, 0.02, 12000, time.Millisecond, true},
		{"untimed (a server that does not say)", 13500, 0, 0, 0, false},
		{"negative time", 13500, -1, 0, 0, false},
		{"NaN time", 13500, math.NaN(), 0, 0, false},
		{"infinite time", 13500, math.Inf(1), 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, d, ok := sample(tc.bytes, tc.recvMS)
			if b != tc.want || d != tc.wantD || ok != tc.ok {
				t.Errorf("sample(%d, %g) = %d, %v, %v; want %d, %v, %v", tc.bytes, tc.recvMS, b, d, ok, tc.want, tc.wantD, tc.ok)
			}
		})
	}
}

// TestReplySample: a reply with a tail gives the tail's bytes over its
// time (the link at the transfer's end); without one, or with one that is
// not a sample, the whole body's; parameters of the wrong type are errors.
func TestReplySample(t *testing.T) {
	tests := []struct {
		name  string
		ps    oip.Parameters
		want  int64
		wantD time.Duration
		ok    bool
		err   bool
	}{
		// 600 KB sent over 80 s through an outage; the last 150 KB in
		// 100 ms: 12 Mbps, not the 0.06 Mbps of the whole.
		{"tail", oip.Parameters{"recv_ms": 80000.0, "recv_tail_bytes": 150000, "recv_tail_ms": 100.0}, 150000, 100 * time.Millisecond, true, false},
		{"tail faster than the clock says", oip.Parameters{"recv_ms": 5.0, "recv_tail_bytes": 3000, "recv_tail_ms": 0.01}, 3000, time.Millisecond, true, false},
		{"no tail: the whole body", oip.Parameters{"recv_ms": 96.0}, 12000, 96 * time.Millisecond, true, false},
		{"tail of no bytes: the whole body", oip.Parameters{"recv_ms": 96.0, "recv_tail_bytes": 0, "recv_tail_ms": 1.0}, 12000, 96 * time.Millisecond, true, false},
		{"only half a tail: the whole body", oip.Parameters{"recv_ms": 96.0, "recv_tail_bytes": 3000}, 12000, 96 * time.Millisecond, true, false},
		{"recv_ms not a number", oip.Parameters{"recv_ms": "fast"}, 0, 0, false, true},
		{"recv_tail_bytes not a number", oip.Parameters{"recv_ms": 96.0, "recv_tail_bytes": "many", "recv_tail_ms": 1.0}, 0, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, d, ok, err := replySample(13500, tc.ps)
			if b != tc.want || d != tc.wantD || ok != tc.ok || (err != nil) != tc.err {
				t.Errorf("replySample(13500, %v) = %d, %v, %v, %v; want %d, %v, %v, error %v", tc.ps, b, d, ok, err, tc.want, tc.wantD, tc.ok, tc.err)
			}
		})
	}
}

// TestFeasibleRow: a row the plan found infeasible runs its nearest
// feasible neighbour in the table, the lower one on a tie.
func TestFeasibleRow(t *testing.T) {
	d1, d3 := &Deployment{}, &Deployment{}
	a := &Adaptive{
		table: []adapt.Row{{FromMbps: 0, ToMbps: 1, ID: 0}, {FromMbps: 1, ToMbps: 2, ID: 1}, {FromMbps: 2, ToMbps: 3, ID: 2}, {FromMbps: 3, ToMbps: 4, ID: 4}, {FromMbps: 4, ToMbps: math.Inf(1), ID: 5}},
		rows:  map[int]*Deployment{1: d1, 4: d3},
	}
	tests := []struct {
		id, want int
		d        *Deployment
	}{{0, 1, d1}, {1, 1, d1}, {2, 1, d1}, {4, 4, d3}, {5, 4, d3}}
	for _, tc := range tests {
		if d, got := a.feasible(tc.id); got != tc.want || d != tc.d {
			t.Errorf("feasible(%d) = row %d; want row %d", tc.id, got, tc.want)
		}
	}
}
