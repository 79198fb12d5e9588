package adapt

import (
	"math"
	"time"
)

// A transfer's average rate describes the uplink over the whole transfer;
// a transfer that spans an outage (tens of seconds on a driving trace)
// averages the outage in, and the link it reports is gone by the time the
// sample arrives. The rate over the transfer's tail describes the link as
// it is when the next decision is made, so the sample is taken there: over
// the last TailFraction of the bytes, at least MinTailBytes.
const (
	// TailFraction is the share of a transfer's bytes, its last, that its
	// sample is taken over. Half, chosen with the policy's settings by
	// 'mtlsplit experiment adaptive --tune' (at each one's best setting,
	// both no worse than the best fixed plan anywhere, a quarter gave a
	// geometric mean ratio to it of 0.9967, half 0.9959): a quarter of a
	// 16 KiB probe is 3 packets, which one burst of a cellular link
	// delivers at once; half spans more delivery opportunities, so it is a
	// rate, not one burst, and still leaves out the start of a transfer
	// that sat through an outage.
	TailFraction = 0.5
	// MinTailBytes is the smallest tail: two full packets (linkemu.MTU),
	// so that the tail spans at least two delivery opportunities.
	MinTailBytes = 2 * 1500
)

// Arrival is how many of a transfer's bytes had arrived (Bytes, counted
// from its start) by At, on any clock that only needs differences.
type Arrival struct {
	Bytes int64
	At    time.Duration
}

// Tail returns a transfer's tail from its arrivals (in order, the last one
// its end): the bytes that arrived after the last arrival that left at
// least the tail's size (TailFraction of the total, at least MinTailBytes)
// still to come, and the time from that arrival to the end. The tail
// starts at an arrival, not inside one, so its bytes and its time cover
// the same span. ok is false when no arrival left that much to come (the
// first one brought more: a small transfer, or one read in a lump); the
// whole transfer is then the only sample.
func Tail(arrivals []Arrival) (bytes int64, d time.Duration, ok bool) {
	if len(arrivals) < 2 {
		return 0, 0, false
	}
	end := arrivals[len(arrivals)-1]
	want := max(int64(math.Ceil(TailFraction*float64(end.Bytes))), MinTailBytes)
	for i := len(arrivals) - 2; i >= 0; i-- {
		if a := arrivals[i]; end.Bytes-a.Bytes >= want {
			return end.Bytes - a.Bytes, end.At - a.At, true
		}
	}
	return 0, 0, false
}
