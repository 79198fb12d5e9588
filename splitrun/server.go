package splitrun

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/cores"
	"github.com/mtlsplit/mtlsplit/oip"
)

// Server serves every cut of one model over the Open Inference Protocol
// (see the package documentation for the request format): a pool of
// workers, each with its own engine program, takes requests from a
// bounded queue. The zero value of every limit is a sensible default.
type Server struct {
	Model *Model
	// Seed is the seed of the random weights (a zoo model's, heads the
	// plan added); edges must use the same and are refused otherwise.
	Seed uint64
	// Engine are the engine options of every worker's program; Threads 0
	// means the cores shared out among the workers.
	Engine engine.Options
	// Workers run requests in parallel (0: one per core); Queue is how many
	// more may wait (0: 2 per worker). Past that a request gets 503 with
	// Retry-After at once.
	Workers, Queue int
	// Timeout bounds a request from its arrival to its answer (0: 30 s);
	// one still queued when it passes gets 503.
	Timeout time.Duration
	// Token, when set, is the bearer token every request but the health
	// checks must carry: 401 without one, 403 with another, and no engine
	// work either way.
	Token string
	// TLS, when set, serves HTTPS (with ClientAuth set, mutual TLS).
	TLS *tls.Config
	// Tier is this server's tier (0 means 1, the first behind the device);
	// Next is the address of the tier after it, when the plan uses one,
	// reached over NextLink with NextToken and NextTLS.
	Tier      int
	Next      string
	NextLink  *Link
	NextToken string
	NextTLS   *tls.Config
	// Log, if set, receives one line per notable event.
	Log func(format string, args ...any)
	// NoWarm turns off warming: an idle worker reading its weights into
	// the cache while a request's body arrives (see work).
	NoWarm bool

	startOnce sync.Once
	startErr  error
	jobs      chan *job
	slots     chan struct{} // admission: running and queued requests
	progs     []*engine.Program
	running   atomic.Int64
	// wake has one channel per worker: a request's body started arriving.
	wake []chan struct{}
	// receiving counts the request bodies being read; warms counts the
	// warm passes the workers made (for tests).
	receiving, warms atomic.Int64
	workersWG        sync.WaitGroup
	cache            workCache
	metrics          *metrics
	next             *client
	maxBody          int64
	tokenSum         [32]byte
	httpSrv          *http.Server
	shut             bool // Shutdown was called
	draining         atomic.Bool
	mu               sync.Mutex
}

func (s *Server) tier() int { return max(s.Tier, 1) }

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 30 * time.Second
}

// Start compiles the workers' programs and starts them; Serve and
// Handler call it. The server is ready when it returns nil.
func (s *Server) Start() error {
	s.startOnce.Do(func() { s.startErr = s.start() })
	return s.startErr
}

func (s *Server) start() error {
	if s.Model == nil {
		return errors.New("server: no model")
	}
	workers := s.Workers
	if workers <= 0 {
		workers = cores.N()
	}
	queue := s.Queue
	if queue <= 0 {
		queue = 2 * workers
	}
	opts := s.Engine
	if opts.Threads <= 0 {
		opts.Threads = max(1, cores.N()/workers)
	}
	for range workers {
		p, err := s.Model.Compile(s.Seed, opts)
		if err != nil {
			s.closePrograms()
			return err
		}
		s.progs = append(s.progs, p)
	}
	s.metrics = newMetrics()
	s.maxBody = s.Model.maxRequestBytes()
	s.tokenSum = sha256.Sum256([]byte(s.Token))
	s.jobs = make(chan *job, workers+queue)
	s.slots = make(chan struct{}, workers+queue)
	if s.Next != "" {
		c, err := newClient(s.Next, s.Model.Plan.Model.Name, s.NextToken, s.NextTLS, nil, s.NextLink, int(s.maxBody))
		if err != nil {
			s.closePrograms()
			return fmt.Errorf("tier %d: %w", s.tier()+1, err)
		}
		s.next = c
	}
	for _, p := range s.progs {
		wake := make(chan struct{}, 1)
		s.wake = append(s.wake, wake)
		s.workersWG.Add(1)
		go s.work(p, wake)
	}
	return nil
}

func (s *Server) closePrograms() {
	for _, p := range s.progs {
		p.Close()
	}
	s.progs = nil
}

// Runs is how many inferences the server's engine has run.
func (s *Server) Runs() int64 {
	if s.metrics == nil {
		return 0
	}
	return s.metrics.Runs()
}

// Warms is how many warm passes the server's idle workers made (see
// work).
func (s *Server) Warms() int64 { return s.warms.Load() }

// Serve serves HTTP (HTTPS with TLS) on ln until Shutdown, with read,
// header and idle timeouts and a bound on header size.
func (s *Server) Serve(ln net.Listener) error {
	h, err := s.Handler()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// The body has the deadline's time to arrive, at least 10 s (a
		// short deadline is for queueing and compute, not for a slow
		// uplink).
		ReadTimeout:    max(s.timeout(), 10*time.Second),
		WriteTimeout:   max(s.timeout(), 10*time.Second) + 10*time.Second,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 16 << 10,
		TLSConfig:      s.TLS,
		// Handshake failures and malformed requests are the clients'
		// business: to Log when set, else nowhere.
		ErrorLog: log.New(logWriter{s.Log}, "", 0),
	}
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.httpSrv = srv
	s.mu.Unlock()
	if s.TLS != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// logWriter sends the HTTP server's log lines to Log.
type logWriter struct{ log func(string, ...any) }

func (w logWriter) Write(b []byte) (int, error) {
	if w.log != nil {
		w.log("%s", strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

// Shutdown stops accepting connections, lets every request in flight
// finish (or ctx end), then stops the workers.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.httpSrv
	s.shut = true
	s.mu.Unlock()
	if s.draining.Swap(true) {
		return nil
	}
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	if s.jobs != nil && err == nil {
		// Every slot taken back: no handler holds one, so none can still
		// queue a job.
		for range cap(s.slots) {
			s.slots <- struct{}{}
		}
		close(s.jobs)
		s.workersWG.Wait()
		s.closePrograms()
		if s.next != nil {
			s.next.close()
		}
	}
	return err
}

// Handler is the server's HTTP handler (Start is called first).
func (s *Server) Handler() (http.Handler, error) {
	if err := s.Start(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("GET /v2/health/live", ok)
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v2/models/{name}", s.authorized(s.metadata))
	mux.HandleFunc("GET /v2/models/{name}/ready", s.authorized(s.modelReady))
	mux.HandleFunc("POST /v2/models/{name}/infer", s.authorized(s.infer))
	mux.HandleFunc("GET /metrics", s.authorized(s.writeMetrics))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errStatus(http.StatusNotFound, "no %s %s here: the server speaks the Open Inference Protocol under /v2", r.Method, r.URL.Path))
	})
	return mux, nil
}

// authorized checks the bearer token before h: in constant time, over
// the tokens' digests so that their lengths do not leak either.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Token != "" {
			auth := r.Header.Get("Authorization")
			tok, isBearer := strings.CutPrefix(auth, "Bearer ")
			if !isBearer || tok == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mtlsplit"`)
				s.refuse(w, errStatus(http.StatusUnauthorized, "this server needs a bearer token (Authorization: Bearer TOKEN)"))
				return
			}
			sum := sha256.Sum256([]byte(tok))
			if subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
				s.refuse(w, errStatus(http.StatusForbidden, "the bearer token is not this server's"))
				return
			}
		}
		h(w, r)
	}
}

// refuse answers an error and counts it.
func (s *Server) refuse(w http.ResponseWriter, err error) {
	n := writeError(w, err)
	s.metrics.request(statusOf(err), 0, int64(n))
}

func statusOf(err error) int {
	var he *httpError
	var fe *oip.FieldError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, &fe):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError writes the protocol's error object with the error's status.
func writeError(w http.ResponseWriter, err error) int {
	body := oip.ErrorJSON(err.Error())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(statusOf(err))
	w.Write(body)
	return len(body)
}

func (s *Server) model(r *http.Request) error {
	if name := r.PathValue("name"); name != s.Model.Plan.Model.Name {
		return errStatus(http.StatusNotFound, "no model %q: this server serves %q%s", name, s.Model.Plan.Model.Name, s.Model.fileNote())
	}
	return nil
}

// fileNote names the ONNX file of the model, if it has one.
func (m *Model) fileNote() string {
	if m.sha == "" {
		return ""
	}
	return " (weights from the file with SHA-256 \"" + m.sha + "\")"
}

// ready refuses work once the server is stopping.
func (s *Server) ready() error {
	if s.draining.Load() {
		return errStatus(http.StatusServiceUnavailable, "the server is stopping")
	}
	return nil
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	err := s.model(r)
	if err == nil {
		err = s.ready()
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) writeMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.write(w, len(s.jobs), int(s.running.Load()), len(s.slots), len(s.progs), cap(s.slots))
}

// job is one admitted request on its way through a worker.
type job struct {
	ctx      context.Context
	req      *oip.Request
	w        *work
	enqueued time.Time
	done     chan result
}

type result struct {
	outputs           []oip.Tensor
	queueMS, serverMS float64
	// idleMS is how long the worker had idled before it took the job:
	// a device computes slower after idling (profile.IdleFactor); warmMS
	// how much of that it spent warming its weights.
	idleMS, warmMS float64
	err            error
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if err := s.model(r); err != nil {
		s.refuse(w, err)
		return
	}
	// A claim past the limit is refused before a byte of it is read.
	if r.ContentLength > s.maxBody {
		w.Header().Set("Connection", "close")
		s.refuse(w, errStatus(http.StatusRequestEntityTooLarge, "request body of %d bytes; this model's largest request is %d", r.ContentLength, s.maxBody))
		return
	}
	// Admission before the body is read: memory is bounded by the slots
	// times the body limit, whatever the clients do.
	select {
	case s.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		err := s.ready()
		if err == nil {
			err = errStatus(http.StatusServiceUnavailable, "the server is busy: %d requests are running or queued", cap(s.slots))
		}
		s.refuse(w, err)
		return
	}
	queued := false
	defer func() {
		if !queued {
			<-s.slots
		}
	}()
	if err := s.ready(); err != nil {
		w.Header().Set("Retry-After", "1")
		s.refuse(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout())
	defer cancel()
	s.receiving.Add(1)
	s.wakeWorkers()
	body, recv, err := readBody(w, r, s.maxBody)
	s.receiving.Add(-1)
	if err != nil {
		s.refuse(w, err)
		return
	}
	s.metrics.observe("recv", recv.ms)
	req, wk, err := s.decode(r, body)
	if err != nil {
		s.metrics.request(statusOf(err), int64(len(body)), int64(writeError(w, err)))
		return
	}
	if wk == nil {
		s.answerProbe(w, req, len(body), recv)
		return
	}
	j := &job{ctx: ctx, req: req, w: wk, enqueued: time.Now(), done: make(chan result, 1)}
	queued = true
	s.jobs <- j // never blocks: it has room for every slot
	var res result
	select {
	case res = <-j.done:
	case <-ctx.Done():
		res.err = errStatus(http.StatusServiceUnavailable, "the request's deadline (%v) passed before it was answered", s.timeout())
	}
	if res.err != nil {
		if statusOf(res.err) == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		s.metrics.request(statusOf(res.err), int64(len(body)), int64(writeError(w, res.err)))
		return
	}
	resp := &oip.Response{ModelName: s.Model.Plan.Model.Name, ID: req.ID, Outputs: res.outputs,
		Parameters: recv.params(oip.Parameters{"server_ms": res.serverMS, "queue_ms": res.queueMS, "idle_ms": res.idleMS, "warm_ms": res.warmMS})}
	binary := make([]bool, len(res.outputs))
	for i, o := range req.Outputs {
		binary[i] = o.Binary
	}
	out, hlen, err := oip.EncodeResponse(resp, func(i int) bool { return binary[i] })
	if err != nil {
		s.metrics.request(http.StatusInternalServerError, int64(len(body)), int64(writeError(w, err)))
		return
	}
	if hlen >= 0 {
		w.Header().Set(oip.HeaderContentLength, strconv.Itoa(hlen))
		w.Header().Set("Content-Type", "application/octet-stream")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
	s.metrics.request(http.StatusOK, int64(len(body)), int64(len(out)))
	s.metrics.answered(wk.cut)
	s.metrics.observe("total", float64(time.Since(start).Nanoseconds())/1e6)
}

// answerProbe answers a bandwidth probe: its body was read (and timed)
// like any request's; its inputs are padding, discarded without engine
// work, and the answer has no outputs, only the body's timing (recv_ms,
// and its tail's when there is one) and the bytes read.
func (s *Server) answerProbe(w http.ResponseWriter, req *oip.Request, bytes int, recv recvTiming) {
	resp := &oip.Response{ModelName: s.Model.Plan.Model.Name, ID: req.ID,
		Parameters: recv.params(oip.Parameters{"probe_bytes": bytes})}
	out, _, err := oip.EncodeResponse(resp, nil)
	if err != nil {
		s.metrics.request(http.StatusInternalServerError, int64(bytes), int64(writeError(w, err)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
	s.metrics.probe(int64(bytes))
}

// recvTiming is how a request body arrived: ms from its first read to its
// last, and the tail's bytes and time (adapt.Tail over the reads) when the
// reads give one.
type recvTiming struct {
	ms        float64
	tailBytes int64
	tailMS    float64
	tail      bool
}

// params adds the reply parameters recv_ms and, with a tail,
// recv_tail_bytes and recv_tail_ms to p.
func (t recvTiming) params(p oip.Parameters) oip.Parameters {
	p["recv_ms"] = t.ms
	if t.tail {
		p["recv_tail_bytes"], p["recv_tail_ms"] = t.tailBytes, t.tailMS
	}
	return p
}

// readBody reads a request body of at most limit bytes, timing its first
// to last byte and each read in between (for the tail's rate).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, recvTiming, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	size := 512
	if r.ContentLength > 0 {
		size = int(r.ContentLength)
	}
	buf := make([]byte, 0, size)
	var first time.Time
	var reads []adapt.Arrival // since first
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		buf = buf[:len(buf)+n]
		if n > 0 {
			reads = append(reads, adapt.Arrival{Bytes: int64(len(buf)), At: time.Since(first)})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, recvTiming{}, errStatus(http.StatusRequestEntityTooLarge, "request body over %d bytes, this model's largest request", limit)
			}
			return nil, recvTiming{}, errStatus(http.StatusBadRequest, "reading the body: %v", err)
		}
	}
	var t recvTiming
	if !first.IsZero() {
		t.ms = msSince(first)
	}
	var d time.Duration
	if t.tailBytes, d, t.tail = adapt.Tail(reads); t.tail {
		t.tailMS = msOf(d)
	}
	return buf, t, nil
}

// decode parses a request and works out what it asks of this server.
func (s *Server) decode(r *http.Request, body []byte) (*oip.Request, *work, error) {
	n, err := oip.HeaderLength(r.Header.Get(oip.HeaderContentLength), len(body))
	if err != nil {
		return nil, nil, err
	}
	req, err := oip.DecodeRequest(body, n)
	if err != nil {
		return nil, nil, err
	}
	m := s.Model
	id, given, err := req.Parameters.String("model_id")
	if err != nil {
		return nil, nil, err
	}
	if mine := m.id(s.Seed); given && id != mine {
		return nil, nil, errStatus(http.StatusBadRequest, "parameters.model_id: the request is for %s, this server runs %s (graph hash:weights file SHA-256:seed)", id, mine)
	}
	probe, err := req.Parameters.Bool("probe")
	if err != nil {
		return nil, nil, errStatus(http.StatusBadRequest, "%v", err)
	}
	if probe {
		return req, nil, nil
	}
	var tasks []int
	if len(req.Outputs) == 0 {
		for t := range m.Graph.Heads {
			tasks = append(tasks, t)
			req.Outputs = append(req.Outputs, oip.RequestedOutput{Name: m.Graph.Heads[t].Task, Binary: req.BinaryOutput})
		}
	}
	for i, o := range req.Outputs {
		if len(tasks) == len(req.Outputs) {
			break
		}
		t := m.task(o.Name)
		if t < 0 {
			return nil, nil, errStatus(http.StatusNotFound, "outputs[%d].name: %s has no task %q (tasks: %s)", i, m.Plan.Model.Name, o.Name, strings.Join(m.taskNames(), ", "))
		}
		tasks = append(tasks, t)
	}
	names := make([]string, len(req.Inputs))
	for i, in := range req.Inputs {
		names[i] = in.Name
	}
	key := strings.Join(names, "\x00") + "\x01" + fmt.Sprint(tasks)
	wk, err := s.cache.get(key, func() (*work, error) { return m.planWork(s.tier(), names, tasks, s.next != nil) })
	if err != nil {
		return nil, nil, err
	}
	// Every tensor's encoding, datatype and shape are checked here, before
	// the request takes a worker.
	for i := range req.Inputs {
		in := &req.Inputs[i]
		id := m.names().node[in.Name]
		if err := m.checkTensor(in, id, fmt.Sprintf("inputs[%d]", i)); err != nil {
			return nil, nil, err
		}
	}
	return req, wk, nil
}

func (m *Model) taskNames() []string {
	var out []string
	for _, h := range m.Graph.Heads {
		out = append(out, h.Task)
	}
	return out
}

// warmEvery is how often an idle worker reads its weights again while a
// body is still arriving: measured on a shared VM, weights read 260 ms
// before a run were evicted again by then (resnet18 at 128 px: 9.2 ms
// back to back, 22–27 ms after 260 ms idle, the read itself 12 ms cold
// and 0.9 ms hot), so one read at the body's first byte would not last a
// 1 Mbps transfer; a pass every 20 ms keeps them cached for a pass's cost
// when they still are.
const warmEvery = 20 * time.Millisecond

// wakeWorkers tells every worker that a body started arriving; a busy
// worker finds the signal when it is done (one pending signal is enough).
func (s *Server) wakeWorkers() {
	if s.NoWarm {
		return
	}
	for _, c := range s.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// work is one worker: it takes jobs until the queue closes. While idle it
// warms its program's weights whenever a body is arriving (wake, then
// every warmEvery until no body is), so that the job that body becomes
// runs at its warm speed: the cold-cache cost moves into the transfer,
// off the request's path. A pass stops as soon as a job is queued.
func (s *Server) work(p *engine.Program, wake <-chan struct{}) {
	defer s.workersWG.Done()
	scratch := map[int][]float32{}
	free := time.Now() // since when the worker has had nothing to do
	var (
		warmMS float64          // warming since free
		again  <-chan time.Time // the next pass while bodies arrive
		last   *work            // the last job's: its nodes are warmed first
	)
	for {
		var j *job
		select {
		case j = <-s.jobs:
		case <-wake:
			warmMS += s.warm(p, last)
			again = time.After(warmEvery)
			continue
		case <-again:
			again = nil
			if s.receiving.Load() > 0 {
				warmMS += s.warm(p, last)
				again = time.After(warmEvery)
			}
			continue
		}
		if j == nil {
			return // the queue closed
		}
		taken := time.Now()
		queueMS := msOf(taken.Sub(j.enqueued))
		idleMS := msOf(taken.Sub(free))
		s.metrics.observe("queue", queueMS)
		if warmMS > 0 {
			s.metrics.observe("warm", warmMS)
		}
		var res result
		if j.ctx.Err() != nil {
			res.err = errStatus(http.StatusServiceUnavailable, "the request's deadline passed while it was queued")
		} else {
			s.running.Add(1)
			res.outputs, res.err = s.run(j, p, scratch)
			s.running.Add(-1)
			last = j.w
		}
		res.queueMS, res.idleMS, res.warmMS = queueMS, idleMS, warmMS
		warmMS, again = 0, nil
		free = time.Now()
		res.serverMS = msOf(free.Sub(taken))
		if res.err == nil {
			s.metrics.observe("server", res.serverMS)
		}
		<-s.slots
		j.done <- res
	}
}

// warm makes one warm pass over p, stopping when a job is queued, and
// returns its milliseconds. It reads the nodes the worker's last job ran
// (a request's cut usually stays put), every node before the first job.
func (s *Server) warm(p *engine.Program, last *work) float64 {
	start := time.Now()
	var want func(int) bool
	if last != nil {
		want = func(n int) bool { return last.run[n] || last.after != nil && last.after[n] }
	}
	p.Warm(want, func() bool { return len(s.jobs) > 0 })
	s.warms.Add(1)
	return msSince(start)
}

// run does one request's work on program p: the tensors sent go in as the
// run reaches them (a tensor loaded early could share its buffer with one
// computed before it), the nodes run, the next tier gets its hop, and the
// tasks answered here come out.
func (s *Server) run(j *job, p *engine.Program, scratch map[int][]float32) ([]oip.Tensor, error) {
	m, g, wk := s.Model, s.Model.Graph, j.w
	for i, id := range wk.inputs {
		x := scratch[id]
		if x == nil {
			x = make([]float32, g.Nodes[id].OutShape.Elems())
			scratch[id] = x
		}
		in := &j.req.Inputs[wk.index[i]]
		norm, _ := m.normalization()
		if err := tensorIn(x, in, g.Nodes[id].OutShape, fmt.Sprintf("inputs[%d]", wk.index[i]), norm); err != nil {
			return nil, err
		}
		if err := p.SetTensor(id, x); err != nil {
			return nil, err
		}
		hi := len(g.Nodes)
		if i+1 < len(wk.inputs) {
			hi = wk.inputs[i+1]
		}
		if err := p.RunNodes(func(n int) bool { return n > id && n < hi && wk.run[n] }, nil); err != nil {
			return nil, err
		}
	}
	s.metrics.ran()
	results := map[int][]float32{}
	var onward chan answer
	if wk.fwd != nil {
		req, _, err := hopRequest(wk.fwd, p, s.tier()+1, nil)
		if err != nil {
			return nil, err
		}
		req.ID = j.req.ID
		req.Parameters = oip.Parameters{"model_id": m.id(s.Seed)}
		onward = make(chan answer, 1)
		go func() {
			r, err := s.next.infer(j.ctx, req)
			onward <- answer{r: r, err: err}
		}()
		if err := p.RunNodes(func(n int) bool { return wk.after[n] }, nil); err != nil {
			return nil, err
		}
	}
	for _, t := range wk.here {
		x, err := p.Tensor(g.Heads[t].Output)
		if err != nil {
			return nil, err
		}
		results[t] = x
	}
	if onward != nil {
		a := <-onward
		if a.err != nil {
			return nil, errStatus(http.StatusBadGateway, "tier %d: %v", s.tier()+1, a.err)
		}
		logits := make([][]float32, len(g.Heads))
		if err := m.results(logits, a.r.resp); err != nil {
			return nil, errStatus(http.StatusBadGateway, "tier %d: %v", s.tier()+1, err)
		}
		for _, t := range wk.onward {
			results[t] = logits[t]
		}
	}
	var out []oip.Tensor
	for _, o := range j.req.Outputs {
		t := m.task(o.Name)
		out = append(out, oip.FP32Tensor(o.Name, []int64{1, int64(g.Heads[t].Classes)}, results[t]))
	}
	return out, nil
}
