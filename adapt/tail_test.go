package adapt

import (
	"testing"
	"time"
)

// TestTail: the tail is the bytes after the last arrival that leaves half
// the transfer (at least two packets) still to come, over the time from it
// to the end; hand-computed cases.
func TestTail(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		arrivals []Arrival
		bytes    int64
		d        time.Duration
		ok       bool
	}{
		// 40 packets of 1500 bytes, one per ms, with an 80 s outage
		// between the 10th and 11th: the whole transfer averages
		// 60000 B over 80.039 s (0.006 Mbps); half, 30000 B, is 20
		// packets: the tail starts at packet 20 (30000 B to come) and
		// takes 20 ms, 12 Mbps, the link after the outage.
		{"after an outage", packets(40, 10, 80*time.Second), 30000, 20 * ms, true},
		// 100 packets one per ms: 50 packets after the 50th, in 50 ms.
		{"steady", packets(100, -1, 0), 75000, 50 * ms, true},
		// Half of 4 packets is 3000 B: exactly two packets, the least a
		// tail may be.
		{"two packets", packets(4, -1, 0), 3000, 2 * ms, true},
		// 3 packets: half is 2250 B, under the two-packet least.
		{"small: two packets anyway", packets(3, -1, 0), 3000, 2 * ms, true},
		// Reads of uneven size: 10000 B in all, half 5000 B; the last
		// read leaving 5000 B to come is the one at 4000 B (6000 to
		// come; the one at 7000 B leaves 3000): the tail is 6000 B in
		// 40 ms.
		{"uneven reads", []Arrival{{4000, 0}, {7000, 10 * ms}, {8000, 20 * ms}, {10000, 40 * ms}}, 6000, 40 * ms, true},
		{"one lump", []Arrival{{9000, 0}, {10000, 5 * ms}}, 0, 0, false},
		{"one read", []Arrival{{10000, 0}}, 0, 0, false},
		{"none", nil, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, d, ok := Tail(tc.arrivals)
			if b != tc.bytes || d != tc.d || ok != tc.ok {
				t.Errorf("Tail = %d B, %v, %v; want %d B, %v, %v", b, d, ok, tc.bytes, tc.d, tc.ok)
			}
		})
	}
}

// packets is n packets of 1500 bytes arriving one per millisecond, with a
// gap of gap after packet gapAfter (-1: none).
func packets(n, gapAfter int, gap time.Duration) []Arrival {
	var out []Arrival
	at := time.Duration(0)
	for i := range n {
		out = append(out, Arrival{Bytes: int64(i+1) * 1500, At: at})
		at += time.Millisecond
		if i+1 == gapAfter {
			at += gap
		}
	}
	return out
}
