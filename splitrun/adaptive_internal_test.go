package splitrun

import (
	"math"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
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
