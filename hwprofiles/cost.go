package hwprofiles

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/profile"
)

// CostModel is the device's latency model with the catalog's numbers.
func (d Device) CostModel() profile.CostModel {
	bpe := bytesPerElem(d.Dtype)
	if d.StorageDtype != "" {
		bpe = bytesPerElem(d.StorageDtype)
	}
	eff := make(map[profile.OpClass]float64, len(d.Efficiency))
	for k, v := range d.Efficiency {
		eff[profile.OpClass(k)] = v.Value
	}
	var over map[profile.OpClass]float64
	for k, v := range d.OverheadMS {
		if over == nil {
			over = map[profile.OpClass]float64{}
		}
		over[profile.OpClass(k)] = v.Value
	}
	return profile.CostModel{
		OverheadMS:       over,
		CacheBytes:       d.CacheMB.Value * 1e6,
		CacheGBps:        d.CacheBandwidthGBps.Value,
		Device:           d.ID,
		BytesPerElem:     bpe,
		PeakGFLOPS:       d.PeakGFLOPS.Value,
		MemBandwidthGBps: d.MemBandwidthGBps.Value,
		LayerOverheadMS:  d.LayerOverheadMS.Value,
		Efficiency:       eff,
		FoldNormAct:      d.FoldNormAct,
		TensorEncodeMS:   d.TensorEncodeMS.Value,
		TensorDecodeMS:   d.TensorDecodeMS.Value,
		ColdFrac:         d.IdleColdFrac.Value,
		ColdTauMS:        d.IdleTauMS.Value,
		ComputeScale:     d.ComputeScale.Value,
	}
}

// bytesPerElem of a precision: fp32 unless fp16 or int8.
func bytesPerElem(dtype string) int {
	switch dtype {
	case DtypeFP16:
		return 2
	case DtypeInt8:
		return 1
	}
	return 4
}

// LatencySource is where the device's latencies come from: its measured
// table where one is embedded (measured wins), its cost model otherwise.
func (d Device) LatencySource() (profile.Source, error) {
	cm := d.CostModel()
	if d.Measured == "" {
		return cm, nil
	}
	raw, err := MeasuredTable(d.Measured)
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", d.ID, err)
	}
	t, err := profile.ParseTable(raw)
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", d.ID, err)
	}
	return profile.Measured{File: d.Measured, Table: t, Fallback: cm}, nil
}
