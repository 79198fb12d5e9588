package profile

import (
	"fmt"
	"math"
	"slices"
)

// IdleFit is one device's idle-gap term as fitted to a run log (see
// IdleFactor): a stage takes (scale·predicted + n·perTensor) · (1 +
// ColdFrac · (1 − exp(−gap/TauMS))).
type IdleFit struct {
	ColdFrac, TauMS float64
	// Used counts the records with a measured gap; MinGapMS and MaxGapMS
	// are the range of their gaps (the 5th and 95th percentiles), where the
	// term is measured; Note says why the term is 0 when it is.
	Used               int
	MinGapMS, MaxGapMS float64
	Note               string
	perTensorMS        float64 // the per-tensor term fitted with it
	scale              float64 // the compute scale fitted with it (see scaleOrTensor)
}

// factor is the term at a record's gap (1: none, or the gap is unknown).
func (f IdleFit) factor(gapMS *float64) float64 {
	if gapMS == nil {
		return 1
	}
	return IdleFactor(f.ColdFrac, f.TauMS, *gapMS)
}

// stageSample is one record's stage: predicted and measured ms, tensors
// sent, and the idle gap before it.
type stageSample struct{ pred, meas, n, gap float64 }

// stageSamples are the device's (edge) or the server's stages of the
// records that measured their idle gap, or with needGap false of every
// record (gap 0 where unknown).
func stageSamples(recs []RuntimeRecord, edge, needGap bool) []stageSample {
	var out []stageSample
	for _, r := range recs {
		pred, meas, gap := r.Predicted.ServerMS, r.Measured.ServerMS, r.ServerIdleMS
		if edge {
			pred, meas, gap = r.Predicted.EdgeMS, r.Measured.EdgeMS, r.EdgeIdleMS
		}
		known := gap != nil && *gap >= 0
		if (needGap && !known) || !(*meas > 0) {
			continue
		}
		x := stageSample{pred: *pred, meas: *meas, n: float64(r.Tensors())}
		if known {
			x.gap = *gap
		}
		out = append(out, x)
	}
	return out
}

// maxComputeScale bounds a fitted compute scale: a profile that
// over-predicts, never one that under-predicts (that is the per-tensor
// term's), and a catalog's compute_scale alike.
const maxComputeScale = 1

// scaleOrTensor is what a stage misses besides the factors fac (nil: 1):
// the per-tensor term t, the median of (measured/factor − predicted)/n,
// when it is ≥ 0 (scale 1); else t = 0 and the compute scale, the median
// of measured/(factor · predicted), below 1 (if that median is not, the
// negative t is returned, for the caller to clamp and say so). With one cut every record
// does the same work, so a scale and a per-tensor term cannot be told
// apart: only the one that keeps the term ≥ 0 is fitted. (A profile
// measured block by block over-predicts the pipelined run by 10–17%, a
// negative per-tensor term the catalog cannot store.)
func scaleOrTensor(s []stageSample, fac []float64) (scale, t float64) {
	f := func(i int) float64 {
		if fac == nil {
			return 1
		}
		return fac[i]
	}
	per := make([]float64, 0, len(s))
	for i, x := range s {
		per = append(per, (x.meas/f(i)-x.pred)/max(x.n, 1))
	}
	if t = median(per); !(t < 0) {
		return 1, t
	}
	var ratio []float64
	for i, x := range s {
		if x.pred > 0 {
			ratio = append(ratio, x.meas/(f(i)*x.pred))
		}
	}
	if scale = median(ratio); !(scale > 0 && scale < maxComputeScale) {
		return 1, t
	}
	return scale, 0
}

// Limits of the idle fit: enough records, gaps spread over enough of a
// range to tell a slowdown with the gap from a constant, and the grid the
// term is searched on.
const (
	idleMinRecords = 10
	idleMinSpread  = 3    // 95th over 5th percentile gap
	idleMinGain    = 0.10 // the term must cut the mean error by 10%
)

// The grid: time constants from 1 ms to 10 s and cold fractions from 0.01
// to 20, both with 40 steps per decade (6% apart).
var (
	idleTausMS = logGrid(1, 1e4)
	idleFracs  = logGrid(0.01, 20)
)

// logGrid is lo to hi (inclusive, within a step) with 40 values per decade.
func logGrid(lo, hi float64) []float64 {
	var g []float64
	for k := 0; ; k++ {
		v := lo * math.Pow(10, float64(k)/40)
		if v > hi*1.0001 {
			return g
		}
		g = append(g, v)
	}
}

// fitIdle fits the idle term and the per-tensor term together on a grid of
// (ColdFrac, TauMS): for each, the per-tensor term is the median of what
// the term leaves ((measured/factor − predicted)/n), and the
// pair kept is the one with the least mean relative error. The term is
// kept only when it cuts that error by idleMinGain against the
// per-tensor term alone: two parameters more must earn their place. The
// time constant is at most the 95th percentile gap, so the term saturates
// within the gaps it was fitted to, and at least the 5th percentile, so
// that it varies across them.
func fitIdle(s []stageSample) IdleFit {
	var f IdleFit
	f.Used = len(s)
	if len(s) < idleMinRecords {
		f.Note = fmt.Sprintf("%d records with a measured idle gap: want %d or more", len(s), idleMinRecords)
		return f
	}
	gaps := make([]float64, len(s))
	for i, x := range s {
		gaps[i] = x.gap
	}
	slices.Sort(gaps)
	f.MinGapMS, f.MaxGapMS = gaps[len(gaps)*5/100], gaps[len(gaps)*95/100]
	if f.MaxGapMS < idleMinSpread*max(f.MinGapMS, 0.1) {
		f.Note = fmt.Sprintf("idle gaps %.3g–%.3g ms: too narrow a range to tell a slowdown with the gap (want the 95th percentile %d× the 5th: logs at low and high bandwidth)",
			f.MinGapMS, f.MaxGapMS, idleMinSpread)
		return f
	}
	fac := make([]float64, len(s))
	// loss is the mean relative error with term (c, tau) and the per-tensor
	// term or compute scale it leaves (scaleOrTensor), the term at least 0
	// as the catalog stores it: the fit must be the model the planner
	// applies. (Left free, the per-tensor term of a profile that
	// over-predicts the warm time goes negative and a large fraction makes
	// up the rest; clamped afterwards, that fraction multiplies the whole
	// profile: measured at load 8, a 13× slowdown.)
	loss := func(c, tau float64) (l, scale, t float64) {
		for i, x := range s {
			fac[i] = IdleFactor(c, tau, x.gap)
		}
		scale, t = scaleOrTensor(s, fac)
		t = max(0, t)
		sum := 0.0
		for i, x := range s {
			sum += math.Abs((scale*x.pred+x.n*t)*fac[i]-x.meas) / x.meas
		}
		return sum / float64(len(s)), scale, t
	}
	base, _, _ := loss(0, 1)
	best, bc, btau, bs, bt := base, 0.0, 0.0, 1.0, 0.0
	for _, tau := range idleTausMS {
		// A time constant beyond the gaps measured would make the term a
		// line through them, extrapolated without bound to longer gaps.
		if tau > f.MaxGapMS {
			break
		}
		// One below the gaps measured makes the term a constant factor over
		// all of them, which a compute scale then cancels: scale 0.08 with
		// a 10.6 fraction fitted a log as well as scale 0.9 alone, and
		// predicts a twelfth of the compute for short gaps.
		if tau < f.MinGapMS {
			continue
		}
		for _, c := range idleFracs {
			if l, sc, t := loss(c, tau); l < best {
				best, bc, btau, bs, bt = l, c, tau, sc, t
			}
		}
	}
	if bc == 0 || best > (1-idleMinGain)*base {
		f.Note = fmt.Sprintf("the term cuts the mean error only from %.1f%% to %.1f%%: not kept", 100*base, 100*best)
		return f
	}
	f.ColdFrac, f.TauMS, f.scale, f.perTensorMS = bc, btau, bs, bt
	return f
}
