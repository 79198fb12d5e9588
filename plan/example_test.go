package plan_test

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/plan"
)

func ExampleLoad() {
	p, err := plan.Load("testdata/effnet_rpi4_wifi.good.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: cut after %s, send %s %v, heads %v\n", p.Model.Name, p.Choice.Cut, p.Choice.Encoding, p.CutTensors[0].Shape, p.Choice.Heads)
	pl, err := p.Placement()
	if err != nil {
		fmt.Println(err)
		return
	}
	device := 0
	for _, k := range pl.NodeTier {
		if k == 0 {
			device++
		}
	}
	fmt.Printf("the device runs %d of %d nodes and sends node %d\n", device, len(pl.NodeTier), pl.Sends[0].Node)
	fmt.Printf("optimal for %.2f–%.2f Mbps uplink\n", p.ValidUplinkMbps[0], p.ValidUplinkMbps[1])
	for _, s := range p.SwitchTable {
		fmt.Printf("  from %8.3f Mbps: %s %s\n", s.FromMbps, s.Cut, s.Encoding)
	}
	// Output:
	// efficientnet_b0: cut after features.3, send int8 [40 28 28], heads map[task1:server task2:server]
	// the device runs 75 of 256 nodes and sends node 74
	// optimal for 13.82–25.16 Mbps uplink
	//   from    0.001 Mbps: features.8 none
	//   from    3.528 Mbps: features.4 int8
	//   from   13.823 Mbps: features.3 int8
	//   from   25.155 Mbps: input uint8
}
