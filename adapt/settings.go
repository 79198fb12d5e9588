package adapt

import "time"

// Settings are an adaptive edge's estimator, policy and probe: the one set
// of knobs the runtime (splitrun) and the simulation (experiment adaptive)
// both build from, so the setting the study tuned is the one that runs.
type Settings struct {
	Window        int // transfers the policy takes its expectation over
	HysteresisPct float64
	Dwell         time.Duration
	// RiskQuantile, if not 0, lets the policy leave its row only for one
	// that is also cheaper at this quantile of each row's cost over the
	// samples.
	RiskQuantile float64
	// ProbeBytes is sent when no transfer was observed for ProbeAfter (and
	// at the start, to get a first estimate); 0 sends no probe.
	ProbeBytes int64
	ProbeAfter time.Duration
}

// DefaultSettings are the setting results/adaptive reports: chosen by
// 'mtlsplit experiment adaptive --tune' (lowest worst-case ratio of mean
// latency to the best fixed plan over the four real uplink traces and the
// study's combos), with samples taken over each transfer's tail (Tail).
// It is no worse than the best fixed plan in all 16 cases (worst ratio
// 1.0000, geometric mean 0.9959) and better where switching pays (vgg16 Pi
// 4 → H100 on the three driving traces, resnet18 on the short LTE one).
// A window of 4 samples: a tail sample follows the link's swings closely,
// and a single one made the policy chase bursts (window 1 at best 1.0056
// worst case); 50% hysteresis over the window keeps one fast sample from
// sending the image over a slow uplink yet moves after two slow ones, so
// the cut follows a drop within 3 requests; a 16 KiB probe, whose tail is
// already a rate. The risk check did not change the worst case, so it is
// off.
var DefaultSettings = Settings{Window: 4, HysteresisPct: 50, Dwell: time.Second, ProbeBytes: 16 << 10, ProbeAfter: time.Second}

// Estimator is a fresh estimator with these settings on clock now (nil:
// time.Now); a probe is due after ProbeAfter without a transfer.
func (s Settings) Estimator(now func() time.Time) *Estimator {
	return &Estimator{Window: s.Window, IdleAfter: s.ProbeAfter, Now: now}
}

// Policy is a fresh policy over rows with these settings.
func (s Settings) Policy(rows []Row) (*Policy, error) {
	return NewPolicy(rows, s.HysteresisPct, s.Dwell, s.RiskQuantile)
}
