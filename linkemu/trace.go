// Package linkemu emulates a network link from a packet-delivery trace in
// Mahimahi's format, the way the Mahimahi emulator does: the link delivers
// 1500-byte packets only at the instants the trace lists, after a fixed
// propagation delay, from a finite queue. Unlike a sleep computed from a mean
// rate, this reproduces the second-to-second swings of real cellular links.
package linkemu

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MTU is the size of the packet one delivery opportunity lets through.
const MTU = 1500

// Trace is a parsed delivery trace: opportunities at the listed millisecond
// offsets, repeating every Period milliseconds (Mahimahi's convention: the
// period is the last timestamp, so the one-line trace "1" means one packet
// every millisecond, 12 Mbps).
type Trace struct {
	ms     []int64 // opportunity offsets in ms, non-decreasing, last == period
	period int64
}

// ParseTrace reads a trace: one whole, non-negative number of milliseconds
// per line, non-decreasing, at least one line, the last one positive.
// Errors name the line ("trace:LINE: ...").
func ParseTrace(r io.Reader) (*Trace, error) {
	return parseTrace(r, "trace")
}

// LoadTrace reads the trace file at path; errors name path and line.
func LoadTrace(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTrace(f, path)
}

func parseTrace(r io.Reader, name string) (*Trace, error) {
	sc := bufio.NewScanner(r)
	var ms []int64
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s:%d: %q is not a whole, non-negative number of milliseconds", name, line, s)
		}
		if n := len(ms); n > 0 && v < ms[n-1] {
			return nil, fmt.Errorf("%s:%d: %d ms comes before the previous line's %d ms (times must not decrease)", name, line, v, ms[n-1])
		}
		ms = append(ms, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no delivery opportunities (want one millisecond per line, e.g. \"1\" for 12 Mbps)", name)
	}
	if ms[len(ms)-1] == 0 {
		return nil, fmt.Errorf("%s:%d: the trace must last at least 1 ms (its last time is its period)", name, line)
	}
	return &Trace{ms: ms, period: ms[len(ms)-1]}, nil
}

// ConstantTrace returns the shortest exactly periodic trace of mbps: n
// opportunities spread evenly over q ms with n*12/q == mbps (10 Mbps is 5
// packets every 6 ms, at 2, 3, 4, 5 and 6 ms). Rates with up to three
// decimals are exact; others are refused rather than rounded.
func ConstantTrace(mbps float64) (*Trace, error) {
	if !(mbps > 0) || mbps > 1e6 {
		return nil, fmt.Errorf("constant link rate %v Mbps: want more than 0 and at most 1e6", mbps)
	}
	perMS := mbps * 1e3 / (MTU * 8) // packets per millisecond
	for q := int64(1); q <= 12000; q++ {
		f := perMS * float64(q)
		n := math.Round(f)
		if n < 1 || math.Abs(f-n) > 1e-9*f {
			continue
		}
		ms := make([]int64, int64(n))
		for i := range ms {
			// ceil((i+1)*q/n): the i-th of n packets is due by this ms.
			ms[i] = (int64(i+1)*q + int64(n) - 1) / int64(n)
		}
		return &Trace{ms: ms, period: q}, nil
	}
	return nil, fmt.Errorf("constant link rate %v Mbps has no exact periodic trace (use at most three decimals)", mbps)
}

// MeanMbps is the trace's average capacity: packets × 1500 × 8 bits over
// the period.
func (t *Trace) MeanMbps() float64 {
	return float64(len(t.ms)) * MTU * 8 / (float64(t.period) * 1e3)
}

// Period is how long the trace lasts before it repeats.
func (t *Trace) Period() time.Duration { return time.Duration(t.period) * time.Millisecond }

// Len is the number of opportunities in one period.
func (t *Trace) Len() int { return len(t.ms) }

// at is the time of opportunity k (0-based, counting across repetitions).
func (t *Trace) at(k int64) time.Duration {
	n := int64(len(t.ms))
	return time.Duration((k/n)*t.period+t.ms[k%n]) * time.Millisecond
}

// first is the index of the first opportunity at or after d.
func (t *Trace) first(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	// Opportunities sit on whole milliseconds: round d up to one.
	m := int64((d + time.Millisecond - 1) / time.Millisecond)
	p := m / t.period
	off := m % t.period
	i := sort.Search(len(t.ms), func(i int) bool { return t.ms[i] >= off })
	k := p*int64(len(t.ms)) + int64(i)
	// The last offset equals the period, so the previous period's last
	// opportunity can fall on m too (when m is a multiple of the period).
	for k > 0 && t.at(k-1) >= time.Duration(m)*time.Millisecond {
		k--
	}
	return k
}

// schedule hands out departure times in virtual time: each packet leaves at
// the first unused opportunity not before it arrived. Opportunities while
// the queue is empty are lost, as on a real link. Because departures come
// from the trace, not from when a timer fired, a late wake-up never delays
// the packets after it.
type schedule struct {
	t    *Trace
	next int64 // index of the first opportunity not yet used
}

func (s *schedule) depart(arrival time.Duration) time.Duration {
	k := max(s.next, s.t.first(arrival))
	s.next = k + 1
	return s.t.at(k)
}

// WriteTo writes one period of the trace in Mahimahi's format, one
// millisecond per line: the file ParseTrace reads back as t (how a
// ConstantTrace becomes a --trace file).
func (t *Trace) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, m := range t.ms {
		b.WriteString(strconv.FormatInt(m, 10))
		b.WriteByte('\n')
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
