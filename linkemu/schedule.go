package linkemu

import "time"

// Schedule is a link's packet departures in virtual time, for simulations
// that need the trace's timing without a socket or a clock: the same
// schedule a Conn paces its packets by. Not safe for concurrent use.
type Schedule struct{ s schedule }

// NewSchedule returns the departures of an idle link on t, starting at
// time 0 of the trace.
func NewSchedule(t *Trace) *Schedule { return &Schedule{s: schedule{t: t}} }

// Depart is when a packet reaching the queue at arrival leaves: the first
// opportunity not before it that no earlier packet took.
func (s *Schedule) Depart(arrival time.Duration) time.Duration { return s.s.depart(arrival) }

// Send queues bytes at once at arrival, as MTU-sized packets, and returns
// when the last one leaves (arrival itself for no bytes). Opportunities
// between arrival and that departure are used up, so a later Send queues
// behind this one, as on the link.
func (s *Schedule) Send(arrival time.Duration, bytes int64) time.Duration {
	last := arrival
	for n := int64(0); n < bytes; n += MTU {
		last = s.s.depart(arrival)
	}
	return last
}

// Opportunities counts the delivery opportunities in [from, to): times the
// MTU, the bytes the link could carry in that window.
func (t *Trace) Opportunities(from, to time.Duration) int64 {
	if to <= from {
		return 0
	}
	return t.first(to) - t.first(from)
}
