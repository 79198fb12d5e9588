package runtime

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
	mu  sync.Mutex
}

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
	if h.Hash != d.Plan.Model.Hash || h.Cut != d.Cut || h.Encoding != string(d.Encoding) || h.Seed != s.Seed || h.Tensors != d.tensorsKey() {
		msg := fmt.Sprintf("error: edge runs graph %s cut %d %s seed %d, this server graph %s cut %d %s seed %d",
			h.Hash, h.Cut, h.Encoding, h.Seed, d.Plan.Model.Hash, d.Cut, d.Encoding, s.Seed)
		fmt.Fprintln(conn, msg)
		return errors.New(msg)
	}
	if _, err := fmt.Fprintln(conn, "ok"); err != nil {
		return err
	}
	if s.Log != nil {
		s.Log("edge %s connected: %s cut after %s, %s", conn.RemoteAddr(), d.Graph.Name, d.Plan.Choice.Cut, d.Encoding)
	}
	var x []float32
	if !d.Layer() {
		x = make([]float32, cutShape(d).Elems())
	}
	var buf []byte
	for {
		frame, err := readFrame(r, buf)
		if err != nil {
			return err
		}
		buf = frame
		start := time.Now()
		results, err := s.infer(frame, x)
		if err != nil {
			return err
		}
		ms := float64(time.Since(start).Nanoseconds()) / 1e6
		if err := writeReply(conn, ms, results); err != nil {
			return err
		}
	}
}

// infer decodes a cut tensor, runs the rest of the backbone and the
// server's heads.
func (s *Server) infer(frame []byte, x []float32) (map[int][]float32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, p := s.D, s.Prog
	if d.Layer() {
		return s.inferLayers(frame)
	}
	if err := engine.Decode(x, d.Encoding, frame); err != nil {
		return nil, fmt.Errorf("decode cut tensor: %w", err)
	}
	backbone, err := p.RunRange(d.Cut, p.Cuts(), x)
	if err != nil {
		return nil, err
	}
	results := map[int][]float32{}
	for t, edge := range d.HeadsOnEdge {
		if !edge {
			if results[t], err = p.RunHead(t, backbone); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// inferLayers takes the tensors of a layer-level cut, runs every server
// node and returns the server's results.
func (s *Server) inferLayers(frame []byte) (map[int][]float32, error) {
	d, p, g := s.D, s.Prog, s.D.Graph
	parts, err := unpackTensors(frame, len(d.Tensors))
	if err != nil {
		return nil, err
	}
	for i, t := range d.Tensors {
		x := make([]float32, g.Nodes[t.Node].OutShape.Elems())
		if err := engine.Decode(x, t.Encoding, parts[i]); err != nil {
			return nil, fmt.Errorf("decode %q: %w", g.Nodes[t.Node].Name, err)
		}
		if err := p.SetTensor(t.Node, x); err != nil {
			return nil, err
		}
	}
	if err := p.RunNodes(func(id int) bool { return !d.OnEdge[id] }, nil); err != nil {
		return nil, err
	}
	results := map[int][]float32{}
	for t, edge := range d.HeadsOnEdge {
		if !edge {
			if results[t], err = p.Tensor(g.Heads[t].Output); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}
