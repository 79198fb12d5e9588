package splitrun

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mtlsplit/mtlsplit/engine"
)

// Server runs the server's part of a deployment for every edge that
// connects. Inferences are served one at a time (the program is one).
type Server struct {
	D    *Deployment
	Prog *engine.Program
	Seed uint64
	// Log, if set, receives one line per connection event.
	Log func(format string, args ...any)
	// Tier is this server's tier (0 means 1, the first behind the device);
	// Next is the address of the tier after it, when the plan uses one,
	// reached over NextLink.
	Tier     int
	Next     string
	NextLink *Link
	next     *Edge // the connection onward, opened on first use
	mu       sync.Mutex
}

func (s *Server) tier() int { return max(s.Tier, 1) }

// Serve accepts connections until the listener closes.
func (s *Server) Serve(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer conn.Close()
			if err := s.handle(conn); err != nil && !errors.Is(err, io.EOF) && s.Log != nil {
				s.Log("%s: %v", conn.RemoteAddr(), err)
			}
		}()
	}
}

func (s *Server) handle(conn net.Conn) error {
	r := bufio.NewReader(conn)
	line, err := readLine(r)
	if err != nil {
		return err
	}
	var h hello
	if err := jsonUnmarshal(line, &h); err != nil {
		fmt.Fprintf(conn, "error: bad hello: %v\n", err)
		return err
	}
	d := s.D
	if h.File != d.model.sha {
		msg := fmt.Sprintf("error: edge runs the ONNX file with SHA-256 %q, this server %q", h.File, d.model.sha)
		fmt.Fprintln(conn, msg)
		return errors.New(msg)
	}
	if h.Hash != d.Plan.Model.Hash || h.Seed != s.Seed || h.Tensors != d.tensorsKey(s.tier()) || max(h.Tier, 1) != s.tier() {
		msg := fmt.Sprintf("error: edge runs graph %s seed %d sending %q to tier %d, this server graph %s seed %d expecting %q as tier %d",
			h.Hash, h.Seed, h.Tensors, h.Tier, d.Plan.Model.Hash, s.Seed, d.tensorsKey(s.tier()), s.tier())
		fmt.Fprintln(conn, msg)
		return errors.New(msg)
	}
	if _, err := fmt.Fprintln(conn, "ok"); err != nil {
		return err
	}
	if s.Log != nil {
		s.Log("edge %s connected: %s cut after %s, %s", conn.RemoteAddr(), d.Graph.Name, d.Plan.Choice.Cut, d.Plan.Choice.Encoding)
	}
	var buf []byte
	for {
		frame, err := readFrame(r, buf)
		if err != nil {
			return err
		}
		buf = frame
		start := time.Now()
		results, err := s.infer(frame)
		if err != nil {
			return err
		}
		ms := float64(time.Since(start).Nanoseconds()) / 1e6
		if err := writeReply(conn, ms, results); err != nil {
			return err
		}
	}
}

// infer takes the tensors of this tier's hop, runs this tier's nodes,
// sends the next tier its tensors and returns the results of the tasks
// finished here and beyond.
func (s *Server) infer(frame []byte) (map[int][]float32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, p, g, k := s.D, s.Prog, s.D.Graph, s.tier()
	in := d.Hops[k-1]
	parts, err := unpackTensors(frame, len(in))
	if err != nil {
		return nil, err
	}
	for i, t := range in {
		x := make([]float32, g.Nodes[t.Node].OutShape.Elems())
		if err := decode(x, t.Encoding, parts[i]); err != nil {
			return nil, fmt.Errorf("decode %q: %w", g.Nodes[t.Node].Name, err)
		}
		if err := p.SetTensor(t.Node, x); err != nil {
			return nil, err
		}
	}
	if err := p.RunNodes(func(id int) bool { return d.runsOn(k, id, true) }, nil); err != nil {
		return nil, err
	}
	var onward chan answer
	if k < len(d.Hops) && len(d.Hops[k]) > 0 {
		if s.next == nil {
			s.next = &Edge{D: d, Prog: p, Link: s.NextLink, tier: k}
			if err := s.next.Dial(s.Next, s.Seed); err != nil {
				s.next = nil
				return nil, fmt.Errorf("tier %d: %w", k+1, err)
			}
		}
		payload, _, err := s.next.encodeHop(k + 1)
		if err != nil {
			return nil, err
		}
		onward = s.next.send(payload)
	}
	if err := p.RunNodes(func(id int) bool { return d.runsOn(k, id, false) }, nil); err != nil {
		return nil, err
	}
	results := map[int][]float32{}
	for t, tier := range d.Placement.HeadTier {
		if tier == k {
			if results[t], err = p.Tensor(g.Heads[t].Output); err != nil {
				return nil, err
			}
		}
	}
	if onward != nil {
		a := <-onward
		if a.err != nil {
			return nil, fmt.Errorf("tier %d: %w", k+1, a.err)
		}
		for t, v := range a.r.Results {
			results[t] = v
		}
	}
	return results, nil
}
