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
	pol, err := adapt.NewPolicy([]adapt.Row{{FromMbps: 0, ToMbps: 10, ID: 7}, {FromMbps: 10, ToMbps: 40, ID: 8}}, 5, time.Second)
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
		mbps, _ := est.Mbps()
		row, switched, reason := pol.Decide(mbps, now)
		fmt.Printf("%.2f Mbps -> plan %d switched=%v (%s)\n", mbps, pol.Row(row).ID, switched, reason)
	}
	fmt.Println("switches:", pol.Switches())
	// Output:
	// 8.00 Mbps -> plan 7 switched=false (initial: 8 Mbps in row 0 [0, 10))
	// 8.00 Mbps -> plan 7 switched=false (hold row 0: 8 Mbps)
	// 9.60 Mbps -> plan 7 switched=false (hold row 0: 9.6 Mbps)
	// 10.67 Mbps -> plan 8 switched=true (up to row 1: 10.7 Mbps exceeds 10 Mbps by 6.7% (> 5%))
	// 12.80 Mbps -> plan 8 switched=false (hold row 1: 12.8 Mbps)
	// switches: 1
}
