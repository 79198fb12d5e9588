package profile

import (
	"fmt"
	"math"
	"strconv"
)

// Param is one fitted number and whether the measured table pins it down.
// A parameter is not identified when its value sits on the fit's bound, or
// when moving it alone by IdentFactor (either way, inside the fit's bounds)
// changes the mean squared relative error by less than IdentTol: the data
// then says at most on which side the value lies, and the number kept is
// only one of many that fit as well. This is a finite-difference test: a
// parameter that others can compensate for is still called identified.
type Param struct {
	// Name is the catalog key: efficiency.CLASS, overhead_ms.CLASS,
	// mem_bandwidth_gbps, cache_mb, cache_bandwidth_gbps, peak_gflops (when
	// the fit raised it), or sync_ms (the per-call cost, not in a catalog).
	Name  string
	Value float64
	// Lo and Hi bound the values that fit as well as Value (every other
	// parameter kept), searched out to the fit's bounds.
	Lo, Hi float64
	// OnBound is "lower" or "upper" when Value sits on the fit's bound.
	OnBound string
	// FlatBelow and FlatAbove say that Value/IdentFactor (Value·IdentFactor,
	// or the bound when nearer) still fits as well.
	FlatBelow, FlatAbove bool
	Identified           bool
	// Why says, when not identified, what the data cannot tell.
	Why string
}

const (
	// IdentFactor is how far a parameter is moved to test it.
	IdentFactor = 10
	// IdentTol is the change of the weighted mean squared relative error
	// below which a move counts as invisible: 1e-4 is an RMS error of 1%
	// added in quadrature.
	IdentTol = 1e-4
	// onBoundMargin is how close (as a ratio) to a bound counts as on it.
	onBoundMargin = 1.01
)

// identify tests every parameter of a settled vector v (throughputs capped
// at top, topClass the class that raised top above the base peak or -1)
// against the whole problem.
func (p *fitProblem) identify(v []float64, top float64, topClass int) []Param {
	var wsum float64
	for _, it := range p.items {
		wsum += p.weight(it)
	}
	mse := func(v []float64) float64 { return p.loss(v) / wsum }
	l0 := mse(v)
	flat := func(i int, x float64) bool {
		w := append([]float64(nil), v...)
		w[i] = x
		return math.Abs(mse(w)-l0) <= IdentTol
	}
	// edge walks from v[i] towards limit (a bound) by steps of step and
	// returns the farthest value that still fits as well (bisected, on a
	// log scale), and whether the first step, IdentFactor, does.
	edge := func(i int, step, limit float64) (float64, bool) {
		next := func(x float64) float64 {
			if step > 1 {
				return min(x*step, limit)
			}
			return max(x*step, limit)
		}
		near, far := v[i], next(v[i])
		if far == near {
			return near, true // on the bound: no room to move
		}
		flat10 := flat(i, far)
		for flat(i, far) {
			if far == limit {
				return far, flat10
			}
			near, far = far, next(far)
		}
		for range 40 {
			mid := math.Sqrt(near * far)
			if flat(i, mid) {
				near = mid
			} else {
				far = mid
			}
		}
		return near, flat10
	}
	params := make([]Param, 0, nParams+1)
	var topParam *Param
	for i := range nParams {
		b := p.bounds[i]
		pr := Param{Value: v[i]}
		switch {
		case v[i] >= b.hi/onBoundMargin:
			pr.OnBound = "upper"
		case v[i] <= b.lo*onBoundMargin:
			pr.OnBound = "lower"
		}
		pr.Lo, pr.FlatBelow = edge(i, 1.0/IdentFactor, b.lo)
		pr.Hi, pr.FlatAbove = edge(i, IdentFactor, b.hi)
		toLo, toHi := pr.Lo == b.lo, pr.Hi == b.hi
		pr.Identified = pr.OnBound == "" && !pr.FlatBelow && !pr.FlatAbove
		scale, unit := 1.0, ""
		switch {
		case i < nFit:
			pr.Name, scale = "efficiency."+string(fitClasses[i]), 1/top
		case i < 2*nFit:
			pr.Name, unit = "overhead_ms."+string(fitClasses[i-nFit]), " ms"
		case i == pBandwidth:
			pr.Name, unit = "mem_bandwidth_gbps", " GB/s"
		case i == pSync:
			pr.Name, unit = "sync_ms", " ms"
		case i == pCacheBytes:
			pr.Name, scale, unit = "cache_mb", 1e-6, " MB"
		case i == pCacheGBps:
			pr.Name, unit = "cache_bandwidth_gbps", " GB/s"
		}
		if i == topClass {
			// This class set a peak above the datasheet's: the peak is the
			// number it identifies (or not), its efficiency is 1.
			tp := pr
			tp.Name = "peak_gflops"
			tp.Why = why(tp, i, toLo, toHi, "", " GFLOP/s")
			topParam = &tp
		}
		pr.Value, pr.Lo, pr.Hi = pr.Value*scale, pr.Lo*scale, pr.Hi*scale
		pr.Why = why(pr, i, toLo, toHi, p.boundNote(i), unit)
		params = append(params, pr)
	}
	if topParam != nil {
		params = append(params, *topParam)
	}
	return params
}

// boundNote names the fit's bound a parameter sits on, and where the bound
// comes from when it is a multiple of the base model's numbers.
func (p *fitProblem) boundNote(i int) string {
	switch {
	case i == pBandwidth && p.base.MemBandwidthGBps > 0:
		return fmt.Sprintf(" (20× the base %s GB/s)", fmtG(p.base.MemBandwidthGBps))
	case i < nFit && p.base.PeakGFLOPS > 0:
		return " (twice the base peak)"
	}
	return ""
}

// why says for people what the data cannot tell of a parameter, "" when
// it is identified; toLo and toHi say that the values fitting as well reach
// the fit's lower and upper bound.
func why(pr Param, i int, toLo, toHi bool, note, unit string) string {
	if pr.Identified {
		return ""
	}
	var s string
	switch {
	case toLo && toHi:
		s = fmt.Sprintf("the data never exercises it: anything from %s to %s%s (the fit's whole range) fits as well", fmtG(pr.Lo), fmtG(pr.Hi), unit)
	case toHi:
		lead := "raising it changes nothing"
		switch {
		case i < nFit:
			lead = "never compute-bound"
		case i == pBandwidth:
			lead = "memory never binds"
		case i == pCacheGBps:
			lead = "the cache never binds"
		}
		s = fmt.Sprintf("%s: any value ≥ %s%s fits as well", lead, fmtG(pr.Lo), unit)
	case toLo:
		lead := "lowering it changes nothing"
		if i >= nFit && i < 2*nFit || i == pSync {
			lead = "too small to show next to the other costs"
		}
		s = fmt.Sprintf("%s: any value ≤ %s%s fits as well", lead, fmtG(pr.Hi), unit)
	default:
		s = fmt.Sprintf("anything from %s to %s%s fits as well", fmtG(pr.Lo), fmtG(pr.Hi), unit)
	}
	if pr.OnBound != "" {
		s += fmt.Sprintf("; %s%s is the fit's %s bound%s", fmtG(pr.Value), unit, pr.OnBound, note)
	}
	return s
}

// fmtG prints 4 significant digits, without an exponent below 1e9.
func fmtG(v float64) string {
	if a := math.Abs(v); a >= 1e4 && a < 1e9 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
