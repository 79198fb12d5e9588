package adapt

import (
	"fmt"
	"time"
)

// Defaults for a zero Estimator.
const (
	// DefaultWindow is the number of recent transfers averaged: enough that
	// one odd transfer moves the estimate by at most about an eighth, few
	// enough that a step change in the uplink shows within a handful of
	// requests (FESTIVE averages the last 20 chunks of several seconds each;
	// split inference sends one tensor per request, many per second).
	DefaultWindow = 8
	// DefaultMaxAge drops samples the uplink has probably outlived.
	DefaultMaxAge = 30 * time.Second
	// DefaultIdleAfter is how long without a sample before a probe is due.
	DefaultIdleAfter = 5 * time.Second
)

// Estimator keeps the throughputs of the last Window transfers no older
// than MaxAge. Rates returns them, the empirical distribution the Policy
// takes its expected cost over; Mbps is their harmonic mean, the point
// estimate that logs and figures show (for a row whose cost is linear in
// 1/uplink the expected cost is exactly the cost at the harmonic mean).
//
// Harmonic, not arithmetic: the harmonic mean of rates is dominated by the
// slow samples, so one transfer that looked fast (a small tensor that fit in
// a socket buffer, a burst after a handover) barely raises it, while the
// arithmetic mean would follow the outlier; this is the choice FESTIVE and
// later ABR work made for the same reason. Underestimating costs latency;
// overestimating picks a cut the uplink cannot carry.
//
// The zero value uses the defaults and time.Now. Not safe for concurrent use.
type Estimator struct {
	Window    int           // samples averaged; 0 means DefaultWindow
	MaxAge    time.Duration // older samples are dropped; 0 means DefaultMaxAge
	IdleAfter time.Duration // Idle after this long without a sample; 0 means DefaultIdleAfter
	// Now is the clock Mbps ages samples by; nil means time.Now.
	Now func() time.Time

	samples []sample // in arrival order, at most Window
	last    time.Time
}

type sample struct {
	at   time.Time
	mbps float64
}

// Observe records that bytes took transfer to reach the server, finishing at
// at (the server's receive time, so queueing on the edge is not counted as
// uplink time). A transfer of no bytes or no time carries no rate and is
// rejected, leaving the estimate unchanged.
func (e *Estimator) Observe(bytes int64, transfer time.Duration, at time.Time) error {
	if bytes <= 0 {
		return fmt.Errorf("adapt: observe: bytes %d: want a positive byte count", bytes)
	}
	if transfer <= 0 {
		return fmt.Errorf("adapt: observe: transfer time %v for %d bytes: want a positive duration", transfer, bytes)
	}
	mbps := float64(bytes) * 8 / transfer.Seconds() / 1e6
	if len(e.samples) >= e.window() {
		e.samples = append(e.samples[:0], e.samples[len(e.samples)-e.window()+1:]...)
	}
	e.samples = append(e.samples, sample{at: at, mbps: mbps})
	if at.After(e.last) {
		e.last = at
	}
	return nil
}

// Mbps returns the harmonic mean of the live samples, or false when none is
// younger than MaxAge.
func (e *Estimator) Mbps() (float64, bool) {
	now := e.now()
	var inv float64
	n := 0
	for _, s := range e.samples {
		if now.Sub(s.at) > e.maxAge() {
			continue
		}
		inv += 1 / s.mbps
		n++
	}
	if n == 0 {
		return 0, false
	}
	return float64(n) / inv, true
}

// Rates returns the live samples' throughputs (Mbps), oldest first: the
// empirical distribution Policy.Decide takes its expectation over.
func (e *Estimator) Rates() []float64 {
	now := e.now()
	var out []float64
	for _, s := range e.samples {
		if now.Sub(s.at) <= e.maxAge() {
			out = append(out, s.mbps)
		}
	}
	return out
}

// Samples returns how many samples are held (live or not).
func (e *Estimator) Samples() int { return len(e.samples) }

// Idle reports whether no sample has arrived for IdleAfter, so a probe is
// due; before any sample it is always due.
func (e *Estimator) Idle(now time.Time) bool {
	return e.last.IsZero() || now.Sub(e.last) >= e.idleAfter()
}

func (e *Estimator) window() int {
	if e.Window > 0 {
		return e.Window
	}
	return DefaultWindow
}

func (e *Estimator) maxAge() time.Duration {
	if e.MaxAge > 0 {
		return e.MaxAge
	}
	return DefaultMaxAge
}

func (e *Estimator) idleAfter() time.Duration {
	if e.IdleAfter > 0 {
		return e.IdleAfter
	}
	return DefaultIdleAfter
}

func (e *Estimator) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
