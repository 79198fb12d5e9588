package hwprofiles_test

import (
	"errors"
	"fmt"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
)

func ExampleDefault() {
	cat, err := hwprofiles.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	h100, _ := cat.Server("h100")
	fmt.Printf("%s: %.0f GFLOPS %s, %.0f GB/s, %.3f ms per layer\n",
		h100.ID, h100.PeakGFLOPS.Value, h100.Dtype, h100.MemBandwidthGBps.Value, h100.LayerOverheadMS.Value)
	fmt.Println(h100.LayerOverheadMS.Source)

	_, err = cat.Device("jetson-nan")
	fmt.Println(err, errors.Is(err, hwprofiles.ErrUnknown))
	// Output:
	// h100: 989400 GFLOPS fp16, 67000 GB/s, 0.007 ms per layer
	// fitted: mtlsplit calibrate h100_fp16_b1_224.json on 2026-11-30 (block MAPE 5.0%, held out 6.7%)
	// unknown edge device "jetson-nan" (did you mean "jetson-nano" or "jetson-tx2" or "jetson-orin-nano"?) true
}

func ExampleCatalog_Merge() {
	cat, _ := hwprofiles.Default()
	user, err := hwprofiles.Load("testdata/override.good.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	merged := cat.Merge(user)
	n, _ := merged.Network("4g")
	fmt.Println(n.UplinkMbps.Value, n.File)
	// Output:
	// 2.5 testdata/override.good.yaml
}
