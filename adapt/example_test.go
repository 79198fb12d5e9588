package adapt_test

import (
	"fmt"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
)

func Example() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	est := adapt.Estimator{Window: 4, Now: func() time.Time { return now }}
	// Plan 7 runs on the device (100 ms); plan 8 sends 100 kB after 20 ms
	// of compute (20 + 800/Mbps ms): they break even at 10 Mbps.
	pol, err := adapt.NewPolicy([]adapt.Row{
		{FromMbps: 0, ToMbps: 10, ID: 7, Cost: adapt.Line{Fixed: 100}},
		{FromMbps: 10, ToMbps: 40, ID: 8, Cost: adapt.Line{Fixed: 20, PerInvMbps: 800}},
	}, 10, time.Second, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The uplink goes from 8 to 16 Mbps: 1 MB in 1 s, then in 0.5 s.
	for i, transfer := range []time.Duration{time.Second, time.Second, time.Second / 2, time.Second / 2, time.Second / 2} {
		now = start.Add(time.Duration(i) * time.Second)
		if err := est.Observe(1e6, transfer, now); err != nil {
			fmt.Println(err)
			return
		}
		row, switched, reason := pol.Decide(est.Rates(), now)
		fmt.Printf("%v Mbps -> plan %d switched=%v (%s)\n", est.Rates(), pol.Row(row).ID, switched, reason)
	}
	fmt.Println("switches:", pol.Switches())
	// Output:
	// [8] Mbps -> plan 7 switched=false (initial: row 0, expected 100 over 1 samples)
	// [8 8] Mbps -> plan 7 switched=false (hold row 0: expected 100, the lowest over 2 samples)
	// [8 8 16] Mbps -> plan 7 switched=false (hold row 0: expected 100, the lowest over 3 samples)
	// [8 8 16 16] Mbps -> plan 7 switched=false (hold row 0: row 1 expected 95 against row 0's 100 over 4 samples, but with the samples ×0.909 (10% hysteresis) 102.5 against 100)
	// [8 16 16 16] Mbps -> plan 8 switched=true (switch: row 1 expected 82.5 against row 0's 100 over 4 samples, and 88.75 against 100 with them ×0.909 (10% hysteresis))
	// switches: 1
}
