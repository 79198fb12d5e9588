package splitrun

import (
	"sort"

	"github.com/mtlsplit/mtlsplit/plan"
)

// Parts are the plan's cost breakdown, in ms.
type Parts struct {
	TotalMS   float64 `json:"total_ms"`
	EdgeMS    float64 `json:"edge_ms"`
	NetworkMS float64 `json:"network_ms"`
	ServerMS  float64 `json:"server_ms"`
}

// Summary sets the medians of measured inferences against the plan.
type Summary struct {
	N              int   `json:"n"`
	Measured       Parts `json:"measured"`
	Predicted      Parts `json:"predicted"`
	Bytes          int   `json:"bytes"`
	PredictedBytes int64 `json:"predicted_bytes"`
	// ErrorTotal is (measured − predicted) / predicted of the total.
	ErrorTotal float64 `json:"error_total"`
}

// Summarize takes the median of every part over the timings.
func Summarize(p *plan.Plan, ts []Timing) Summary {
	med := func(f func(Timing) float64) float64 {
		v := make([]float64, len(ts))
		for i, t := range ts {
			v[i] = f(t)
		}
		sort.Float64s(v)
		if len(v) == 0 {
			return 0
		}
		return v[len(v)/2]
	}
	s := Summary{N: len(ts), PredictedBytes: p.Predicted.Bytes,
		Measured: Parts{
			TotalMS:   med(func(t Timing) float64 { return t.TotalMS }),
			EdgeMS:    med(func(t Timing) float64 { return t.EdgeMS }),
			NetworkMS: med(func(t Timing) float64 { return t.NetworkMS }),
			ServerMS:  med(func(t Timing) float64 { return t.ServerMS }),
		},
		Predicted: Parts{TotalMS: p.Predicted.TotalMS, EdgeMS: p.Predicted.EdgeMS, NetworkMS: p.Predicted.NetworkMS, ServerMS: p.Predicted.ServerMS},
	}
	if len(ts) > 0 {
		s.Bytes = ts[0].Bytes
	}
	if s.Predicted.TotalMS > 0 {
		s.ErrorTotal = (s.Measured.TotalMS - s.Predicted.TotalMS) / s.Predicted.TotalMS
	}
	return s
}
