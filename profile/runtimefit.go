package profile

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// Stages are one inference's times by stage, as a run log records them.
type Stages struct {
	TotalMS   *float64 `json:"total_ms"`
	EdgeMS    *float64 `json:"edge_ms"`
	NetworkMS *float64 `json:"network_ms"`
	ServerMS  *float64 `json:"server_ms"`
}

// RuntimeRecord is one line of a run log ('mtlsplit run --out'): one input,
// measured against predicted.
type RuntimeRecord struct {
	Input     string `json:"input"`
	Cut       string `json:"cut"`
	Bytes     *int64 `json:"bytes"`
	Measured  Stages `json:"measured"`
	Predicted Stages `json:"predicted"`
	// Fallback is set when the input ran otherwise than planned (on the
	// device alone): its times are not the plan's.
	Fallback bool `json:"fallback"`
	// EdgeIdleMS and ServerIdleMS are how long the device and the server
	// idled before this input's compute (nil: unknown, as in older logs).
	EdgeIdleMS   *float64 `json:"edge_idle_ms"`
	ServerIdleMS *float64 `json:"server_idle_ms"`
	// Unpredicted is set for a line without a prediction: an adaptive run
	// (run --adaptive) on a switch-table row other than the plan's choice,
	// which the plan prices only as a whole. Such lines are not fitted.
	Unpredicted bool `json:"-"`
	// Line is the record's line in its log.
	Line int `json:"-"`
}

// Tensors is how many tensors the input sent: the cut's "+"-joined tensor
// names, none when nothing was sent.
func (r RuntimeRecord) Tensors() int {
	if *r.Bytes == 0 {
		return 0
	}
	return len(strings.Split(r.Cut, "+"))
}

// LoadRuntimeLog reads a run log; errors name the file and line.
func LoadRuntimeLog(path string) ([]RuntimeRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseRuntimeLog(f, path)
}

// ParseRuntimeLog reads one JSON object per line (blank lines skipped),
// each with input, cut, bytes and every stage measured and predicted.
// Fields it does not use are ignored: the log is the runtime's, and may
// carry more than this fit needs.
func ParseRuntimeLog(r io.Reader, name string) ([]RuntimeRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var recs []RuntimeRecord
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimSpace(sc.Text())
		if raw == "" {
			continue
		}
		var rec RuntimeRecord
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a run log line: %v", name, line, err)
		}
		rec.Line = line
		p := rec.Predicted
		rec.Unpredicted = p.TotalMS == nil && p.EdgeMS == nil && p.NetworkMS == nil && p.ServerMS == nil
		if err := rec.check(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no records (want one JSON object per line, as 'mtlsplit run --out' writes)", name)
	}
	return recs, nil
}

func (r RuntimeRecord) check() error {
	if r.Bytes == nil {
		return errors.New("bytes is missing")
	}
	if *r.Bytes < 0 {
		return fmt.Errorf("bytes %d: want a byte count ≥ 0", *r.Bytes)
	}
	if *r.Bytes > 0 && r.Cut == "" {
		return fmt.Errorf("cut is missing for %d bytes sent", *r.Bytes)
	}
	for _, s := range []struct {
		name string
		st   Stages
	}{{"measured", r.Measured}, {"predicted", r.Predicted}} {
		if s.name == "predicted" && r.Unpredicted {
			continue
		}
		for _, v := range []struct {
			key string
			ms  *float64
		}{{"total_ms", s.st.TotalMS}, {"edge_ms", s.st.EdgeMS}, {"network_ms", s.st.NetworkMS}, {"server_ms", s.st.ServerMS}} {
			switch {
			case v.ms == nil:
				return fmt.Errorf("%s.%s is missing", s.name, v.key)
			case !(*v.ms >= 0) || math.IsInf(*v.ms, 0):
				return fmt.Errorf("%s.%s is %g: want a time ≥ 0 in ms", s.name, v.key, *v.ms)
			}
		}
	}
	return nil
}

// RuntimeFit is what a run log says the cost model misses: a fixed cost
// per request on the uplink, fixed costs per tensor encoded on the device
// and decoded on the server or, where the profile over-predicts, a scale of
// that side's compute, and each side's idle-gap term, fitted to the
// records that sent something as planned.
type RuntimeFit struct {
	OverheadMS     float64 // per request, network stage
	TensorEncodeMS float64 // per tensor, device
	TensorDecodeMS float64 // per tensor, server
	// EdgeScale and ServerScale multiply each side's predicted compute
	// (0 or 1: none): fitted, below 1, where the profile over-predicts and
	// the per-tensor term would come out negative (see scaleOrTensor).
	EdgeScale, ServerScale float64
	// Edge and Server are the idle-gap terms of the device and the server
	// (ColdFrac 0: not fitted, Note says why).
	Edge, Server IdleFit
	// PerMBMS is the network residual's slope in bytes, in ms per MB: what a
	// fixed term cannot absorb (a bandwidth the plan got wrong). Reported,
	// not applied: the bandwidth is the link's.
	PerMBMS float64
	// Used counts the records fitted; Skipped those left out (fallbacks,
	// records that sent nothing or carry no prediction), Clamped the terms that came out negative
	// and were set to 0 (the model cannot take a negative fixed cost; a
	// per-tensor term is not clamped where a compute scale absorbs it).
	Used, Skipped int
	Clamped       []string
	// Before and After are the median signed relative error of the
	// prediction per stage, (predicted - measured) / measured, over the
	// used records, without and with the fitted terms.
	Before, After StageErrors
}

// StageErrors are median signed relative errors by stage (NaN: no record
// measured that stage above 0).
type StageErrors struct{ Total, Edge, Network, Server float64 }

// FitRuntime fits the fixed terms robustly: medians of the per-tensor
// residuals on each side, and for the per-request overhead the median of
// the network residuals weighted by 1/measured (the overhead with the
// smallest summed relative error), so that a few stalled transfers do not
// move the terms. The Theil–Sen slope of the network residual against
// bytes is reported; with one transfer size it is 0.
func FitRuntime(recs []RuntimeRecord) (RuntimeFit, error) {
	var fit RuntimeFit
	var used []RuntimeRecord
	for _, r := range recs {
		if r.Fallback || r.Unpredicted || *r.Bytes == 0 {
			fit.Skipped++
			continue
		}
		used = append(used, r)
	}
	fit.Used = len(used)
	if len(used) == 0 {
		return fit, fmt.Errorf("no record sent anything as planned (%d fallbacks, local runs or rows without a prediction): nothing to fit the network and server terms to", fit.Skipped)
	}
	var net, bytes []float64
	for _, r := range used {
		net = append(net, *r.Measured.NetworkMS-*r.Predicted.NetworkMS)
		bytes = append(bytes, float64(*r.Bytes))
	}
	fit.EdgeScale, fit.TensorEncodeMS = scaleOrTensor(stageSamples(used, true, false), nil)
	fit.ServerScale, fit.TensorDecodeMS = scaleOrTensor(stageSamples(used, false, false), nil)
	if fit.Edge = fitIdle(stageSamples(used, true, true)); fit.Edge.ColdFrac > 0 {
		fit.EdgeScale, fit.TensorEncodeMS = fit.Edge.scale, fit.Edge.perTensorMS
	}
	if fit.Server = fitIdle(stageSamples(used, false, true)); fit.Server.ColdFrac > 0 {
		fit.ServerScale, fit.TensorDecodeMS = fit.Server.scale, fit.Server.perTensorMS
	}
	// The fixed cost is the one that makes the network stage's relative
	// errors smallest (their absolute values summed): the median of the
	// residuals weighted by 1/measured. Logs at several bandwidths with one
	// transfer size (1 and 1000 Mbps, say) have residuals that grow with
	// the transfer time (framing bytes, a trace's packet rounding), which a
	// pooled median would put into a per-request constant; and a trace's
	// millisecond slots delay a 3 ms transfer at 1000 Mbps while they hurry
	// a 5 ms one at 100 Mbps, which the relative weights balance.
	slope := theilSenSlope(bytes, net)
	inv := make([]float64, len(used))
	for i, r := range used {
		inv[i] = 1 / max(*r.Measured.NetworkMS, 1e-3)
	}
	fit.OverheadMS, fit.PerMBMS = weightedMedian(net, inv), slope*1e6
	for _, t := range []struct {
		name string
		v    *float64
	}{{"overhead_ms", &fit.OverheadMS}, {"tensor_encode_ms", &fit.TensorEncodeMS}, {"tensor_decode_ms", &fit.TensorDecodeMS}} {
		if *t.v < 0 {
			fit.Clamped = append(fit.Clamped, fmt.Sprintf("%s %.3g", t.name, *t.v))
			*t.v = 0
		}
	}
	fit.Before = stageErrors(used, RuntimeFit{})
	fit.After = stageErrors(used, fit)
	return fit, nil
}

// Apply is a record's prediction with the fitted terms: each side's
// compute scale times its predicted stage, the fixed terms added, the idle
// terms at the gaps the record measured.
func (f RuntimeFit) Apply(r RuntimeRecord) (total, edge, network, server float64) {
	n := float64(r.Tensors())
	edge = (scaleOf(f.EdgeScale)**r.Predicted.EdgeMS + n*f.TensorEncodeMS) * f.Edge.factor(r.EdgeIdleMS)
	server = (scaleOf(f.ServerScale)**r.Predicted.ServerMS + n*f.TensorDecodeMS) * f.Server.factor(r.ServerIdleMS)
	network = *r.Predicted.NetworkMS
	if n > 0 {
		network += f.OverheadMS
	}
	total = *r.Predicted.TotalMS + (edge - *r.Predicted.EdgeMS) + (network - *r.Predicted.NetworkMS) + (server - *r.Predicted.ServerMS)
	return total, edge, network, server
}

// scaleOf is a compute scale with 0 (unset) read as 1.
func scaleOf(s float64) float64 {
	if s == 0 {
		return 1
	}
	return s
}

func stageErrors(recs []RuntimeRecord, f RuntimeFit) StageErrors {
	var tot, edge, net, srv []float64
	add := func(errs *[]float64, pred float64, meas *float64) {
		if *meas > 0 {
			*errs = append(*errs, (pred-*meas) / *meas)
		}
	}
	for _, r := range recs {
		t, e, n, s := f.Apply(r)
		add(&tot, t, r.Measured.TotalMS)
		add(&edge, e, r.Measured.EdgeMS)
		add(&net, n, r.Measured.NetworkMS)
		add(&srv, s, r.Measured.ServerMS)
	}
	return StageErrors{Total: median(tot), Edge: median(edge), Network: median(net), Server: median(srv)}
}

// median of values (NaN for none); the input is not modified.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// weightedMedian is the value v minimizing Σ w_i·|x_i − v| (w_i > 0): the
// first x, in order, at which the weights reach half their sum.
func weightedMedian(x, w []float64) float64 {
	idx := make([]int, len(x))
	var total float64
	for i := range idx {
		idx[i] = i
		total += w[i]
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	var acc float64
	for _, i := range idx {
		if acc += w[i]; acc >= total/2 {
			return x[i]
		}
	}
	return math.NaN()
}

// theilSenSlope is the median slope of y against x over pairs with
// different x (0 when there are none). Quadratic in the points, so at most
// 400 of them are paired (evenly spread, deterministic).
func theilSenSlope(x, y []float64) float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	if len(idx) > 400 {
		sub := make([]int, 400)
		for k := range sub {
			sub[k] = k * len(idx) / 400
		}
		idx = sub
	}
	var slopes []float64
	for a, i := range idx {
		for _, j := range idx[a+1:] {
			if x[i] != x[j] {
				slopes = append(slopes, (y[j]-y[i])/(x[j]-x[i]))
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	return median(slopes)
}
