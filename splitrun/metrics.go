package splitrun

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
)

// metrics are the server's counters, written in the Prometheus text
// exposition format (version 0.0.4) by hand: a few counters and
// histograms do not need a client library.
type metrics struct {
	mu       sync.Mutex
	requests map[int]int64 // by status code
	bytesIn  int64
	bytesOut int64
	runs     int64 // inferences the engine ran
	stages   map[string]*histogram
	// cuts counts the requests answered by the tensors they sent (at
	// most maxCachedWork labels, then "other": clients must not grow it).
	cuts map[string]int64
	// probes counts bandwidth probes answered, probeBytes their bodies.
	probes, probeBytes int64
}

// stageNames are the stages timed per request: recv (first to last byte
// of the body), queue (waiting for a worker), server (a worker's compute),
// total (the handler, from its start to the response written), warm (an
// idle worker reading its weights while the body arrived, per request
// that had any).
var stageNames = []string{"recv", "queue", "server", "total", "warm"}

// bucketsMS are the histograms' upper bounds in milliseconds.
var bucketsMS = []float64{0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}

type histogram struct {
	counts []int64 // per bucket, not cumulative
	sum    float64
	n      int64
}

func newMetrics() *metrics {
	m := &metrics{requests: map[int]int64{}, stages: map[string]*histogram{}, cuts: map[string]int64{}}
	for _, s := range stageNames {
		m.stages[s] = &histogram{counts: make([]int64, len(bucketsMS))}
	}
	return m
}

func (m *metrics) observe(stage string, ms float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.stages[stage]
	i, _ := slices.BinarySearch(bucketsMS, ms)
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.sum += ms / 1e3
	h.n++
}

func (m *metrics) request(status int, in, out int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[status]++
	m.bytesIn += in
	m.bytesOut += out
}

// answered counts a request answered for the cut it sent.
func (m *metrics) answered(cut string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cuts[cut]; !ok && len(m.cuts) >= maxCachedWork {
		cut = "other"
	}
	m.cuts[cut]++
}

func (m *metrics) probe(bytes int64) {
	m.mu.Lock()
	m.probes++
	m.probeBytes += bytes
	m.mu.Unlock()
}

func (m *metrics) ran() {
	m.mu.Lock()
	m.runs++
	m.mu.Unlock()
}

// Runs is how many inferences the engine ran.
func (m *metrics) Runs() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs
}

// write writes the exposition with the gauges' values now.
func (m *metrics) write(w io.Writer, queued, running, admitted, workers, capacity int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP mtlsplit_requests_total Inference requests answered, by HTTP status.")
	fmt.Fprintln(w, "# TYPE mtlsplit_requests_total counter")
	codes := make([]int, 0, len(m.requests))
	for c := range m.requests {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "mtlsplit_requests_total{code=\"%d\"} %d\n", c, m.requests[c])
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v int) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	fmt.Fprintln(w, "# HELP mtlsplit_cut_requests_total Inference requests answered, by the cut tensors they sent (\"+\"-joined, in graph order).")
	fmt.Fprintln(w, "# TYPE mtlsplit_cut_requests_total counter")
	for _, c := range slices.Sorted(maps.Keys(m.cuts)) {
		fmt.Fprintf(w, "mtlsplit_cut_requests_total{cut=%q} %d\n", c, m.cuts[c])
	}
	counter("mtlsplit_probe_requests_total", "Bandwidth probes answered (parameters.probe: padding read and discarded, no engine work).", m.probes)
	counter("mtlsplit_probe_bytes_total", "Bytes of bandwidth probe bodies read.", m.probeBytes)
	counter("mtlsplit_request_bytes_total", "Bytes of inference request bodies read.", m.bytesIn)
	counter("mtlsplit_response_bytes_total", "Bytes of inference response bodies written.", m.bytesOut)
	counter("mtlsplit_engine_runs_total", "Inferences the engine ran.", m.runs)
	gauge("mtlsplit_queue_depth", "Requests waiting for a worker.", queued)
	gauge("mtlsplit_running", "Requests a worker is running.", running)
	gauge("mtlsplit_admitted", "Requests admitted (reading their body, queued or running).", admitted)
	gauge("mtlsplit_workers", "Workers (one engine program each).", workers)
	gauge("mtlsplit_queue_capacity", "Requests admitted at once (running and waiting) before 503.", capacity)
	fmt.Fprintln(w, "# HELP mtlsplit_stage_seconds Time per request stage: recv (body first to last byte), queue, server (worker compute), total.")
	fmt.Fprintln(w, "# TYPE mtlsplit_stage_seconds histogram")
	for _, s := range stageNames {
		h := m.stages[s]
		var cum int64
		for i, le := range bucketsMS {
			cum += h.counts[i]
			fmt.Fprintf(w, "mtlsplit_stage_seconds_bucket{stage=%q,le=\"%g\"} %d\n", s, le/1e3, cum)
		}
		fmt.Fprintf(w, "mtlsplit_stage_seconds_bucket{stage=%q,le=\"+Inf\"} %d\n", s, h.n)
		fmt.Fprintf(w, "mtlsplit_stage_seconds_sum{stage=%q} %g\n", s, h.sum)
		fmt.Fprintf(w, "mtlsplit_stage_seconds_count{stage=%q} %d\n", s, h.n)
	}
}
