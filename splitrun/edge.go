package splitrun

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/linkemu"
)

// Link emulates the plan's network on top of a real socket (loopback has
// neither its bandwidth nor its delay): each message waits half the RTT plus
// its size over the link's rate before it goes (or after it arrives).
type Link struct {
	UplinkMbps, DownlinkMbps, RTTMS float64
}

func (l *Link) wait(bytes int, mbps float64) {
	if l == nil {
		return
	}
	ms := l.RTTMS/2 + float64(bytes)*8/(mbps*1e3)
	time.Sleep(time.Duration(ms * float64(time.Millisecond)))
}

// Edge runs the device's part of a deployment.
type Edge struct {
	D    *Deployment
	Prog *engine.Program
	Link *Link
	// Uplink, when set, carries what the edge sends through a
	// trace-driven link instead of Link's formula (Link still paces the
	// replies).
	Uplink *linkemu.Link
	tier   int // the tier this edge sends from (0: the device)
	conn   net.Conn
	r      *bufio.Reader
	enc    []byte
	// frame is the length-prefixed payload for the trace-driven uplink.
	frame []byte
}

// Dial connects to the server and checks both run the same deployment.
func (e *Edge) Dial(addr string, seed uint64) error {
	if len(e.D.Hops) <= e.tier || len(e.D.Hops[e.tier]) == 0 {
		return nil // nothing goes on from this tier: nothing to talk to
	}
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	e.r = bufio.NewReader(conn)
	if e.Uplink != nil {
		lc, err := e.Uplink.Wrap(conn)
		if err != nil {
			conn.Close()
			return err
		}
		conn = lc
	}
	e.conn = conn
	if err := writeHello(conn, hello{Hash: e.D.Plan.Model.Hash, File: e.D.model.sha, Seed: seed, Tensors: e.D.tensorsKey(e.tier + 1), Tier: e.tier + 1}); err != nil {
		return err
	}
	line, err := readLine(e.r)
	if err != nil {
		return err
	}
	if line != "ok" {
		return fmt.Errorf("server refused: %s", strings.TrimPrefix(line, "error: "))
	}
	return nil
}

// Close hangs up.
func (e *Edge) Close() error {
	if e.conn == nil {
		return nil
	}
	return e.conn.Close()
}

// Timing is one inference measured part by part, in the plan's terms.
type Timing struct {
	TotalMS   float64 // until every task's result is on the edge
	EdgeMS    float64 // edge compute: backbone prefix, encoding, edge heads
	NetworkMS float64 // send to reply, less the server's time
	ServerMS  float64 // as the server measured it
	Bytes     int     // cut tensor sent
	Logits    [][]float32
}

// Infer runs one input through the deployment.
func (e *Edge) Infer(in []float32) (Timing, error) {
	d, p := e.D, e.Prog
	var t Timing
	start := time.Now()
	if err := p.RunNodes(func(id int) bool { return d.runsOn(0, id, true) }, in); err != nil {
		return t, err
	}
	t.Logits = make([][]float32, len(d.Graph.Heads))
	var ch chan answer
	if d.Sends() {
		var err error
		if e.enc, t.Bytes, err = e.encodeHop(1); err != nil {
			return t, err
		}
		ch = e.send(e.enc)
	}
	t.EdgeMS = float64(time.Since(start).Nanoseconds()) / 1e6
	// The device's heads run while the server works.
	headStart := time.Now()
	if err := p.RunNodes(func(id int) bool { return d.runsOn(0, id, false) }, nil); err != nil {
		return t, err
	}
	for i, k := range d.Placement.HeadTier {
		if k == 0 {
			var err error
			if t.Logits[i], err = p.Tensor(d.Graph.Heads[i].Output); err != nil {
				return t, err
			}
		}
	}
	t.EdgeMS += float64(time.Since(headStart).Nanoseconds()) / 1e6
	if d.Sends() {
		a := <-ch
		if a.err != nil {
			return t, fmt.Errorf("server: %w", a.err)
		}
		for i, v := range a.r.Results {
			t.Logits[i] = v
		}
		t.ServerMS = a.r.ServerMS
		t.NetworkMS = a.ms - a.r.ServerMS
	}
	t.TotalMS = float64(time.Since(start).Nanoseconds()) / 1e6
	return t, nil
}

func (l *Link) up() float64 {
	if l == nil {
		return 0
	}
	return l.UplinkMbps
}

func (l *Link) down() float64 {
	if l == nil {
		return 0
	}
	return l.DownlinkMbps
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// answer is a reply, how long it took from sending, or what failed.
type answer struct {
	r   reply
	ms  float64
	err error
}

// send paces and writes a frame and waits for the reply in the background.
func (e *Edge) send(payload []byte) chan answer {
	ch := make(chan answer, 1)
	go func() {
		sent := time.Now()
		var err error
		if e.Uplink != nil {
			// One write, so the 4-byte length does not take a
			// delivery opportunity of its own.
			e.frame = binary.LittleEndian.AppendUint32(e.frame[:0], uint32(len(payload)))
			e.frame = append(e.frame, payload...)
			_, err = e.conn.Write(e.frame)
		} else {
			e.Link.wait(len(payload), e.Link.up())
			err = writeFrame(e.conn, payload)
		}
		if err != nil {
			ch <- answer{err: err}
			return
		}
		r, err := readReply(e.r, len(e.D.Graph.Heads))
		if err == nil {
			e.Link.wait(r.Bytes, e.Link.down())
		}
		ch <- answer{r: r, ms: float64(time.Since(sent).Nanoseconds()) / 1e6, err: err}
	}()
	return ch
}

// encodeHop encodes every tensor of hop h into one frame payload; bytes
// counts the tensors alone, as the plan does.
func (e *Edge) encodeHop(h int) ([]byte, int, error) {
	var parts [][]byte
	bytes := 0
	for _, t := range e.D.Hops[h-1] {
		x, err := e.Prog.Tensor(t.Node)
		if err != nil {
			return nil, 0, err
		}
		b, err := encode(nil, t.Encoding, x)
		if err != nil {
			return nil, 0, err
		}
		parts = append(parts, b)
		bytes += len(b)
	}
	return packTensors(e.enc, parts), bytes, nil
}
