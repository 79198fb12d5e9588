package optimizer_test

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/profile"
)

func ExampleSolve() {
	g, _ := model.New("efficientnet_b0", 224, []int{8, 4})
	device := func(name string, gflops, gbps, overheadMS float64, watts float64) optimizer.Side {
		cm := profile.CostModel{Device: name, BytesPerElem: 4, PeakGFLOPS: gflops, MemBandwidthGBps: gbps, LayerOverheadMS: overheadMS,
			Efficiency: map[profile.OpClass]float64{"conv": 0.5, "depthwise": 0.1, "linear": 0.3, "elementwise": 0.2, "pool": 0.2}}
		lat, _ := cm.Latency(g)
		return optimizer.Side{Name: name, Latency: lat, Cost: cm, ActivePowerW: watts}
	}
	p := &optimizer.Problem{
		Graph:     g,
		Tiers:     []optimizer.Side{device("pi", 48, 12.8, 0.02, 6), device("gpu", 100000, 2000, 0.015, 300)},
		Links:     []optimizer.Network{{Name: "wifi", UplinkMbps: 10, DownlinkMbps: 40, RTTMS: 20, TxPowerW: 1.3}},
		Encodings: []codec.Encoding{codec.FP32, codec.FP16, codec.Int8},
		Objective: optimizer.Latency,
	}
	r, err := optimizer.Solve(p, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s in %.1f ms, %d bytes\n", r.Status, r.Best.Label, r.Best.Cost.TotalMS, r.Best.Cost.Bytes)
	fmt.Printf("local-only %.1f ms, remote-only %.1f ms, MTL-Split %.1f ms\n",
		r.Baselines.LocalOnly.Cost.TotalMS, r.Baselines.RemoteOnly.Cost.TotalMS, r.Baselines.MTLSplit.Cost.TotalMS)
	fmt.Printf("optimal for %.2f–%.2f Mbps\n", r.ValidUplinkMbps[0], r.ValidUplinkMbps[1])
	// Output:
	// optimal: features.4/int8/SS in 64.9 ms, 15688 bytes
	// local-only 69.4 ms, remote-only 144.4 ms, MTL-Split 280.1 ms
	// optimal for 7.37–22.31 Mbps
}
