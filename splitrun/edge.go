package splitrun

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"time"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/oip"
)

// Link emulates the plan's network on top of a real socket (loopback has
// neither its bandwidth nor its delay): each message waits half the RTT plus
// its size over the link's rate before it goes (or after it arrives).
type Link struct {
	UplinkMbps, DownlinkMbps, RTTMS float64
}

func (l *Link) wait(bytes int, mbps float64) {
	if l == nil || mbps <= 0 {
		return
	}
	ms := l.RTTMS/2 + float64(bytes)*8/(mbps*1e3)
	// Not time.Sleep: it wakes up to 1 ms late, which at 1000 Mbps is
	// several times the wait itself.
	linkemu.SleepUntil(time.Now().Add(time.Duration(ms * float64(time.Millisecond))))
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

// Edge runs the device's part of a deployment and sends what crosses its
// uplink to the server as Open Inference Protocol requests over HTTP
// (kept-alive connections).
type Edge struct {
	D    *Deployment
	Prog *engine.Program
	Link *Link
	// Uplink, when set, carries what the edge sends through a
	// trace-driven link instead of Link's formula (Link still paces the
	// replies).
	Uplink *linkemu.Link
	// Token is the server's bearer token ("": none); TLS configures an
	// https:// server's connection (nil: the system's roots).
	Token string
	TLS   *tls.Config
	// Timeout bounds one request (0: 60 s).
	Timeout time.Duration
	// NoWarm turns off warming: reading the device part's weights into
	// the cache while waiting for the server's reply (see await).
	NoWarm bool
	// Adapt, when set, picks the switch-table row of every inference from
	// the uplink estimate and sets D to it (D is then the last row run).
	Adapt *Adaptive
	tier  int // the tier this edge sends from (0: the device)
	c     *client
	seq   uint64 // requests sent, for their IDs
	seed  uint64 // of the weights, as Dial was told
	// free is when the edge's last compute ended (zero: it has not run).
	free time.Time
}

// Dial prepares the connection to the server at addr (http://HOST:PORT,
// https://HOST:PORT, or HOST:PORT for http) and checks that it serves the
// same model with the same weights (graph, ONNX file, seed) as this
// tier of the next.
func (e *Edge) Dial(addr string, seed uint64) error {
	maxBody := 0
	for _, d := range e.deployments() {
		if len(d.Hops) <= e.tier {
			continue
		}
		body := 0
		for _, t := range d.Hops[e.tier] {
			body += int(4 * d.Graph.Nodes[t.Node].OutShape.Elems())
		}
		maxBody = max(maxBody, body)
	}
	if maxBody == 0 {
		return nil // nothing goes on from this tier: nothing to talk to
	}
	m := e.D.model
	c, err := newClient(addr, m.Plan.Model.Name, e.Token, e.TLS, e.Uplink, e.Link, maxBody)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var md oip.ModelMetadata
	if err := c.get(ctx, "/v2/models/"+m.Plan.Model.Name, &md); err != nil {
		c.close()
		return fmt.Errorf("edge runs %s%s: %w", m.Plan.Model.Name, m.fileNote(), err)
	}
	if err := m.sameAs(md.Parameters, seed, e.tier+1); err != nil {
		c.close()
		return err
	}
	e.c, e.seed = c, seed
	return nil
}

// deployments are the placements this edge may run: every feasible row
// when it adapts, else D.
func (e *Edge) deployments() []*Deployment {
	if e.Adapt != nil {
		return e.Adapt.Deployments()
	}
	return []*Deployment{e.D}
}

func (e *Edge) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return 60 * time.Second
}

// Close hangs up.
func (e *Edge) Close() error {
	if e.c != nil {
		e.c.close()
	}
	return nil
}

// Timing is one inference measured part by part, in the plan's terms.
type Timing struct {
	TotalMS   float64 // until every task's result is on the edge
	EdgeMS    float64 // edge compute: backbone prefix, encoding, edge heads
	NetworkMS float64 // send to reply, less the server's queueing and compute
	ServerMS  float64 // as the server measured it, from a worker taking the request
	// QueueMS is how long the request waited for a server worker;
	// RecvMS how long its body took to arrive, first byte to last, at
	// the server (the uplink's bandwidth is the bytes sent over it).
	QueueMS, RecvMS float64
	// EdgeIdleMS is how long the edge had idled since its last compute
	// ended, ServerIdleMS the server's worker before it took the request
	// (a device computes slower after idling, profile.IdleFactor); −1:
	// unknown (the edge's first input, a server that does not say).
	EdgeIdleMS, ServerIdleMS float64
	// EdgeWarmMS is how long the edge spent, while it waited for this
	// input's reply, warming its weights for the next input;
	// ServerWarmMS how long the server's worker spent warming its own
	// while this input's body arrived (0: it did not, or does not say).
	EdgeWarmMS, ServerWarmMS float64
	Bytes                    int // cut tensors sent, encoded (as the plan counts them)
	// WireBytes is the request body on the wire (the protocol's header
	// and tensor framing included).
	WireBytes int
	Logits    [][]float32
	// Choice is what an adaptive edge decided (nil: the edge does not
	// adapt).
	Choice *RowChoice
}

// Infer runs one input through the deployment. When the input itself
// crosses the uplink and is exactly an 8-bit image normalized as the plan
// records, its bytes go as InferImage sends them.
func (e *Edge) Infer(in []float32) (Timing, error) { return e.infer(in, nil) }

// InferImage runs one camera image through the deployment: img is its
// 8-bit RGB planes (C×H×W bytes, already at the model's size), normalized
// as the plan's model.source.preprocess says. When the input itself
// crosses the uplink (remote-only), its bytes go as they are (a UINT8
// tensor, encoding uint8) and the server normalizes them.
func (e *Edge) InferImage(img []byte) (Timing, error) {
	norm, err := e.D.model.normalization()
	if err != nil {
		return Timing{}, err
	}
	in := make([]float32, e.D.Graph.Input.Elems())
	if err := norm.apply(in, img); err != nil {
		return Timing{}, err
	}
	return e.infer(in, img)
}

func (e *Edge) infer(in []float32, img []byte) (Timing, error) {
	t := Timing{EdgeIdleMS: -1, ServerIdleMS: -1}
	if e.Adapt != nil {
		var c RowChoice
		e.D, c = e.Adapt.choose(e)
		t.Choice = &c
	}
	d, p := e.D, e.Prog
	start := time.Now()
	if !e.free.IsZero() {
		t.EdgeIdleMS = msOf(start.Sub(e.free))
	}
	if err := p.RunNodes(func(id int) bool { return d.runsOn(0, id, true) }, in); err != nil {
		return t, err
	}
	t.Logits = make([][]float32, len(d.Graph.Heads))
	var ch chan answer
	if d.Sends() {
		if img == nil && d.sendsInput() {
			img = d.model.image(in) // the camera's bytes, when in is exactly an image
		}
		req, bytes, err := hopRequest(d, p, 1, img)
		if err != nil {
			return t, err
		}
		t.Bytes = bytes
		e.seq++
		req.ID = strconv.FormatUint(e.seq, 10)
		req.Parameters = oip.Parameters{"model_id": d.model.id(e.seed)}
		ch = e.send(req)
	}
	t.EdgeMS = msSince(start)
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
	e.free = time.Now()
	t.EdgeMS += msOf(e.free.Sub(headStart))
	if d.Sends() {
		var a answer
		a, t.EdgeWarmMS = e.await(ch, p, d)
		if a.err != nil {
			return t, fmt.Errorf("server: %w", a.err)
		}
		if err := d.model.results(t.Logits, a.r.resp); err != nil {
			return t, fmt.Errorf("server: %w", err)
		}
		ps := a.r.resp.Parameters
		t.ServerMS, _, _ = ps.Float64("server_ms")
		t.QueueMS, _, _ = ps.Float64("queue_ms")
		t.RecvMS, _, _ = ps.Float64("recv_ms")
		if idle, ok, _ := ps.Float64("idle_ms"); ok {
			t.ServerIdleMS = idle
		}
		t.ServerWarmMS, _, _ = ps.Float64("warm_ms")
		t.NetworkMS = a.r.ms - t.ServerMS - t.QueueMS
		t.WireBytes = a.wire
		if e.Adapt != nil {
			if err := e.Adapt.observe(t.WireBytes, ps); err != nil {
				e.Adapt.logf("adaptive: no sample: %v", err)
			}
		}
	}
	t.TotalMS = msSince(start)
	return t, nil
}

// answer is a reply or what failed.
type answer struct {
	r    reply
	wire int
	err  error
}

// await waits for the reply on ch, meanwhile warming the weights the
// next input runs first (the device's part before the send): the edge
// idles during the transfer, and weights left idle that long are evicted
// on a shared machine (see engine.Program.Warm and the server's
// warmEvery), so a pass every warmEvery, each stopped when the reply
// arrives, moves the cold-cache cost of the next input off its path. It
// returns the reply and the milliseconds warming took.
func (e *Edge) await(ch chan answer, p *engine.Program, d *Deployment) (answer, float64) {
	if e.NoWarm {
		return <-ch, 0
	}
	want := func(id int) bool { return d.runsOn(0, id, true) }
	stop := func() bool { return len(ch) > 0 }
	var ms float64
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case a := <-ch:
			return a, ms
		case <-tick.C:
			start := time.Now()
			p.Warm(want, stop)
			ms += msSince(start)
			tick.Reset(warmEvery)
		}
	}
}

// send posts a request and waits for the reply in the background.
func (e *Edge) send(req *oip.Request) chan answer {
	ch := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout())
		defer cancel()
		r, err := e.c.infer(ctx, req)
		ch <- answer{r: r, wire: r.sent, err: err}
	}()
	return ch
}

// hopRequest is the request carrying hop h's tensors from prog (encoded as
// the deployment says; the input as img's bytes when given) and asking for
// every task finished beyond it; bytes counts the encoded tensors alone,
// as the plan does.
func hopRequest(d *Deployment, p *engine.Program, h int, img []byte) (*oip.Request, int, error) {
	m := d.model
	req := &oip.Request{}
	bytes := 0
	for _, t := range d.Hops[h-1] {
		if t.Node == 0 && img != nil {
			req.Inputs = append(req.Inputs, oip.Tensor{Name: m.TensorName(0), Datatype: oip.Uint8, Raw: img,
				Shape: append([]int64{1}, dims(d.Graph.Input)...), Parameters: oip.Parameters{"encoding": string(codec.Raw)}})
			bytes += len(img)
			continue
		}
		x, err := p.Tensor(t.Node)
		if err != nil {
			return nil, 0, err
		}
		ot, n, err := tensorOut(m.TensorName(t.Node), d.Graph.Nodes[t.Node].OutShape, t.Encoding, x)
		if err != nil {
			return nil, 0, err
		}
		req.Inputs = append(req.Inputs, ot)
		bytes += n
	}
	for i, k := range d.Placement.HeadTier {
		if k >= h {
			req.Outputs = append(req.Outputs, oip.RequestedOutput{Name: d.Graph.Heads[i].Task, Binary: true})
		}
	}
	return req, bytes, nil
}

// results puts a response's task outputs into logits by task.
func (m *Model) results(logits [][]float32, r *oip.Response) error {
	for i := range r.Outputs {
		o := &r.Outputs[i]
		t := m.task(o.Name)
		if t < 0 {
			return fmt.Errorf("outputs[%d]: no task %q", i, o.Name)
		}
		x, err := o.Float32s()
		if err != nil {
			return err
		}
		if len(x) != m.Graph.Heads[t].Classes {
			return fmt.Errorf("outputs[%d]: %d logits for task %s of %d classes", i, len(x), o.Name, m.Graph.Heads[t].Classes)
		}
		logits[t] = x
	}
	return nil
}

// task is the index of the task named name, or -1.
func (m *Model) task(name string) int {
	for i, h := range m.Graph.Heads {
		if h.Task == name {
			return i
		}
	}
	return -1
}

// sendsInput reports whether the device's uplink carries the input itself.
func (d *Deployment) sendsInput() bool {
	for _, t := range d.Hops[0] {
		if t.Node == 0 {
			return true
		}
	}
	return false
}
