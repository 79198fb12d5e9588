package profile

import "math"

// A device computes slower after it has idled: on a shared server the
// last-level cache has been taken by other work, so the weights and
// activations of the next pass come from DRAM (measured on the 2-core VM,
// engine.BenchmarkAfterIdle: resnet18 at 128 px, 12 ms back to back, 15 ms
// after 20 ms idle, 24-30 ms after 260 ms; busy-spinning through the gap
// does not help, so it is the cache, not the clock). The term is
//
//	compute(gap) = warm · (1 + ColdFrac · (1 − exp(−gap / ColdTauMS)))
//
// a saturating rise from the back-to-back time: ColdFrac is the slowdown of
// a fully cold pass, ColdTauMS how long the device idles before most of
// it shows. Both are 0 (no term) until calibrate --runtime fits them.

// IdleFactor is compute(gap)/warm for cold fraction c and time constant
// tau; 1 without a term or a gap.
func IdleFactor(c, tauMS, gapMS float64) float64 {
	if !(c > 0) || !(tauMS > 0) || !(gapMS > 0) {
		return 1
	}
	return 1 + c*(1-math.Exp(-gapMS/tauMS))
}

// AfterIdleMS is a stage of warmMS run after the device idled gapMS.
func (m CostModel) AfterIdleMS(warmMS, gapMS float64) float64 {
	return warmMS * IdleFactor(m.ColdFrac, m.ColdTauMS, gapMS)
}

// SequentialStages are the edge and server stages of one inference in a
// loop that sends the next input when the last answer is in (run's edge):
// the server idles while the edge computes and the request and the last
// reply cross (gap = edge + network), the edge while the request crosses
// and the server computes (gap = network + server). Each gap depends on
// the other side's slowed stage, so the two are iterated to their fixed
// point (a bounded increasing sequence from the warm times). Without terms
// they are the warm times.
func SequentialStages(edgeMS, networkMS, serverMS float64, edge, server CostModel) (e, s float64) {
	e, s = edgeMS, serverMS
	if edge.ColdFrac == 0 && server.ColdFrac == 0 {
		return e, s
	}
	for range 100 {
		ne := edge.AfterIdleMS(edgeMS, networkMS+s)
		ns := server.AfterIdleMS(serverMS, ne+networkMS)
		done := math.Abs(ne-e) < 1e-9 && math.Abs(ns-s) < 1e-9
		e, s = ne, ns
		if done {
			break
		}
	}
	return e, s
}
