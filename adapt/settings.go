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
// study's combos). Window 1 follows a cellular uplink's swings at once
// (longer windows held a row through a drop or a recovery too long on the
// short LTE trace); the 75% hysteresis keeps one fast sample from sending
// the image over a slow uplink; a 32 KiB probe is a fairer sample of an
// image-sized transfer than a 16 KiB one, which often fits in one burst of
// the link. The risk check did not change the worst case at any window
// that won, so it is off.
var DefaultSettings = Settings{Window: 1, HysteresisPct: 75, Dwell: time.Second, ProbeBytes: 32 << 10, ProbeAfter: time.Second}

// Estimator is a fresh estimator with these settings on clock now (nil:
// time.Now); a probe is due after ProbeAfter without a transfer.
func (s Settings) Estimator(now func() time.Time) *Estimator {
	return &Estimator{Window: s.Window, IdleAfter: s.ProbeAfter, Now: now}
}

// Policy is a fresh policy over rows with these settings.
func (s Settings) Policy(rows []Row) (*Policy, error) {
	return NewPolicy(rows, s.HysteresisPct, s.Dwell, s.RiskQuantile)
}
