package linkemu

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"
)

// DefaultQueuePackets is the queue a Link gets when QueuePackets is 0:
// 100 packets, Mahimahi's usual drop-tail size in the literature's setups.
const DefaultQueuePackets = 100

// Link is the sending side of an emulated link: what is written to the
// connection it wraps crosses as 1500-byte packets at the trace's delivery
// opportunities, then DelayMS of propagation delay later reaches the socket.
// The zero values of DelayMS and QueuePackets mean no delay and
// DefaultQueuePackets.
//
// The queue holds QueuePackets packets besides the one waiting for its
// opportunity. A full queue blocks Write instead of dropping packets: the transport under
// us is TCP, which would retransmit a drop anyway, so blocking gives the
// same back-pressure on the sender without losing the stream.
type Link struct {
	Trace        *Trace
	DelayMS      int
	QueuePackets int
}

// Wrap returns a connection whose writes cross the link; reads, deadlines
// and addresses are those of c. Close delivers what is queued, then closes c.
func (l Link) Wrap(c net.Conn) (*Conn, error) {
	return l.wrap(c, monotonic{time.Now()})
}

// clock is the link's time since it started; tests substitute a virtual
// one.
type clock interface {
	now() time.Duration
	sleepUntil(time.Duration)
}

// monotonic is the real clock: time.Since reads the monotonic clock, so a
// wall-clock step cannot speed up or stall the link.
type monotonic struct{ start time.Time }

func (m monotonic) now() time.Duration { return time.Since(m.start) }

func (m monotonic) sleepUntil(d time.Duration) { SleepUntil(m.start.Add(d)) }

// spinMargin is how much of a wait is spun rather than slept: more than
// a timer's usual lateness (about 1 ms, see SleepUntil).
const spinMargin = 1500 * time.Microsecond

// SleepUntil returns at deadline, within microseconds rather than Go's
// timer granularity: on Linux a sleep shorter than a millisecond wakes
// about 1 ms late (the runtime's poller waits in whole milliseconds), more
// than a 32 KB transfer takes at 1000 Mbps. So it sleeps all but the last
// spinMargin and yields in a loop for the rest, costing at most that much
// CPU per wait.
func SleepUntil(deadline time.Time) {
	if w := time.Until(deadline) - spinMargin; w > 0 {
		time.Sleep(w)
	}
	for time.Now().Before(deadline) {
		runtime.Gosched()
	}
}

func (l Link) wrap(c net.Conn, clk clock) (*Conn, error) {
	if l.Trace == nil {
		return nil, errors.New("linkemu: a link needs a trace")
	}
	if l.DelayMS < 0 || l.QueuePackets < 0 {
		return nil, fmt.Errorf("linkemu: delay %d ms and queue %d packets must not be negative", l.DelayMS, l.QueuePackets)
	}
	q := l.QueuePackets
	if q == 0 {
		q = DefaultQueuePackets
	}
	lc := &Conn{
		Conn:  c,
		clock: clk,
		delay: time.Duration(l.DelayMS) * time.Millisecond,
		sched: schedule{t: l.Trace},
		queue: make(chan packet, q),
		// Packets in flight are bounded by rate × delay, not by the
		// queue; this is room for seconds of any real trace.
		flight: make(chan packet, 1<<16),
		dead:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go lc.pace()
	go lc.propagate()
	return lc, nil
}

type packet struct {
	data []byte
	at   time.Duration // arrival at the queue, then departure + delay
}

// Conn is a net.Conn whose writes go through an emulated link.
type Conn struct {
	net.Conn
	clock clock
	delay time.Duration
	sched schedule // only pace touches it

	mu     sync.RWMutex // held for reading while a Write queues
	closed bool
	queue  chan packet // bytes waiting for an opportunity
	flight chan packet // bytes sent, propagating

	errOnce sync.Once
	err     error
	dead    chan struct{} // closed when the socket failed
	done    chan struct{} // closed when everything queued reached the socket
}

// Write queues b as packets of up to 1500 bytes (each Write starts a new
// packet, as TCP does without Nagle) and returns once all are queued.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	n := 0
	for n < len(b) {
		m := min(MTU, len(b)-n)
		p := packet{data: append([]byte(nil), b[n:n+m]...), at: c.clock.now()}
		select {
		case c.queue <- p:
			n += m
		case <-c.dead:
			return n, c.err
		}
	}
	return n, nil
}

// Close sends everything queued, waits for it to reach the socket, and
// closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	close(c.queue)
	c.mu.Unlock()
	<-c.done
	cerr := c.Conn.Close()
	if c.err != nil {
		return c.err
	}
	return cerr
}

func (c *Conn) fail(err error) {
	c.errOnce.Do(func() { c.err = err; close(c.dead) })
}

// pace releases each queued packet at its opportunity.
func (c *Conn) pace() {
	defer close(c.flight)
	for p := range c.queue {
		dep := c.sched.depart(p.at)
		c.clock.sleepUntil(dep)
		p.at = dep + c.delay
		select {
		case c.flight <- p:
		case <-c.dead:
			return
		}
	}
}

// propagate writes packets to the socket after their delay, all packets
// already due in one write: the schedule is in virtual time, so a coarse
// timer makes a burst, not a slower link.
func (c *Conn) propagate() {
	defer close(c.done)
	var buf []byte
	var held *packet
	for {
		var p packet
		if held != nil {
			p, held = *held, nil
		} else {
			var ok bool
			if p, ok = <-c.flight; !ok {
				return
			}
		}
		c.clock.sleepUntil(p.at)
		buf = append(buf[:0], p.data...)
		now := c.clock.now()
	batch:
		for {
			select {
			case q, ok := <-c.flight:
				if !ok {
					break batch
				}
				if q.at > now {
					held = &q
					break batch
				}
				buf = append(buf, q.data...)
			default:
				break batch
			}
		}
		if _, err := c.Conn.Write(buf); err != nil {
			c.fail(err)
			for range c.flight { // let pace finish
			}
			return
		}
	}
}
