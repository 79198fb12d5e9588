package linkemu

import (
	"testing"
	"time"
)

func TestScheduleSend(t *testing.T) {
	// 10 Mbps is 5 packets every 6 ms, at 2, 3, 4, 5 and 6 ms of each period.
	tr, err := ConstantTrace(10)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		sends   [][2]int64 // arrival ms, bytes
		wantEnd []time.Duration
	}{
		{"nothing leaves at once", [][2]int64{{7, 0}}, []time.Duration{7 * ms}},
		{"one byte takes a packet", [][2]int64{{0, 1}}, []time.Duration{2 * ms}},
		// 10 packets: the opportunities of two periods, the last at 12 ms.
		{"two periods", [][2]int64{{0, 15000}}, []time.Duration{12 * ms}},
		// 7501 bytes is 6 packets; the second send queues behind the first.
		{"queues behind", [][2]int64{{0, 7501}, {0, 1500}}, []time.Duration{8 * ms, 9 * ms}},
		// Opportunities while the link is idle are lost.
		{"idle opportunities lost", [][2]int64{{0, 1500}, {100, 1500}}, []time.Duration{2 * ms, 100 * ms}},
		// 1 MB over 10 Mbps: 667 packets, 800.4 ms of the trace.
		{"1 MB", [][2]int64{{0, 1e6}}, []time.Duration{801 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSchedule(tr)
			for i, sd := range tc.sends {
				if got := s.Send(time.Duration(sd[0])*ms, sd[1]); got != tc.wantEnd[i] {
					t.Errorf("send %d of %d bytes at %d ms ends at %v, want %v", i, sd[1], sd[0], got, tc.wantEnd[i])
				}
			}
		})
	}
}

func TestOpportunities(t *testing.T) {
	tr, err := ConstantTrace(10)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		from, to time.Duration
		want     int64
	}{
		{"one period", 0, 6 * ms, 4},        // 2..5; 6 ms is excluded
		{"one second", 0, time.Second, 832}, // 830 in 166 periods, then 998 and 999 ms
		{"empty", 5 * ms, 5 * ms, 0},
		{"reversed", 6 * ms, 0, 0},
		{"later period", 6 * ms, 12 * ms, 5}, // 6 ms in, 12 excluded: 6, 8, 9, 10, 11
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.Opportunities(tc.from, tc.to); got != tc.want {
				t.Errorf("Opportunities(%v, %v) = %d, want %d", tc.from, tc.to, got, tc.want)
			}
		})
	}
}
