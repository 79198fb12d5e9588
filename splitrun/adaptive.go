package splitrun

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/oip"
)

// Adaptive makes an Edge follow its plan's switch table: before each
// inference the edge asks the policy (adapt.Policy) for the row with the
// lowest expected latency over its recent uplink samples, each row's
// latency read off the plan (adapt.RowsFromPlan), and sends that row's
// tensors; after it, the transfer is a new sample. Every feasible row is resolved when it is made, and the edge's
// program (Deployment.Compile, which keeps every tensor any row sends)
// runs any of them, so a switch costs nothing but the decision. The server
// serves every cut and needs no restart.
//
// The estimate comes from the edge's own requests, timed at the server
// (so neither the edge's queueing nor the server's compute counts): the
// rate over the body's tail (recv_tail_bytes over recv_tail_ms, the last
// half of the body: adapt.Tail), the link as it is when the transfer
// ends — a transfer that sat through an outage would otherwise report the
// outage after the link recovered. Without a tail (a body the server got
// in one or two reads) the sample is the whole body's bytes over recv_ms
// (first to last byte of the body at the server).
// The server's clock starts when the first packet is in, so that packet's
// bytes are not part of the time: a sample counts the bytes after the
// first MTU (linkemu.MTU, the packet a delivery opportunity carries; the
// HTTP headers ride in it too, so this undercounts by their ~250 bytes),
// and a body under MinSampleBytes gives none (recv_ms ≈ 0 for a body that
// fits in a packet or two; its rate would be noise). A transfer timed
// under MinSampleTime counts as taking that long: below it recv_ms is the
// server's scheduling, not the link (a handler that starts late finds the
// whole body waiting), so such a sample says only that the uplink is at
// least that fast — the simulation's rule too. When no sample has
// come for Settings.ProbeAfter — nothing sent (a local row) or only small
// tensors — the edge sends a probe first: Settings.ProbeBytes of padding
// in a request with parameters.probe, which the server reads, times and
// discards.
//
// One Adaptive belongs to one Edge; it is not safe for concurrent use.
type Adaptive struct {
	Settings adapt.Settings
	// Log, if set, receives a line per switch with the estimate and the
	// reason, and one per probe that failed.
	Log func(format string, args ...any)

	table []adapt.Row
	rows  map[int]*Deployment // by switch-table index; absent: infeasible
	est   *adapt.Estimator
	pol   *adapt.Policy
	prior float64 // Mbps to start from when nothing was measured
	probe int     // probes sent, for their IDs
	sent  bool    // some row sends over the uplink
}

// MinSampleBytes is the smallest request body whose transfer feeds the
// estimate: three packets, so that the timed part spans at least two
// delivery opportunities.
const MinSampleBytes = 3 * linkemu.MTU

// MinSampleTime is the shortest transfer time a sample is credited with:
// a trace's resolution, and about a loaded host's scheduling jitter.
const MinSampleTime = time.Millisecond

// RowChoice is what an adaptive edge decided for one inference.
type RowChoice struct {
	// Row is the switch-table row run (its index in the plan).
	Row int
	// EstimateMbps is the uplink estimate it decided on (0: nothing
	// measured yet; the first row is then the plan's uplink's).
	EstimateMbps float64
	// Switched says the row changed before this inference; Reason is the
	// policy's.
	Switched bool
	Reason   string
	// Probed says a probe went first (its time is not in the Timing).
	Probed bool
}

// NewAdaptive resolves every feasible row of m's switch table and returns
// a follower with settings s that has not decided yet.
func NewAdaptive(m *Model, s adapt.Settings) (*Adaptive, error) {
	a := &Adaptive{Settings: s, table: adapt.RowsFromPlan(m.Plan), rows: map[int]*Deployment{}, prior: m.Plan.Uplink().UplinkMbps}
	for _, r := range a.table {
		if !m.Plan.SwitchTable[r.ID].Feasible {
			continue
		}
		d, err := m.PrepareRow(r.ID)
		if err != nil {
			return nil, fmt.Errorf("switch table row %d (%g–%g Mbps): %w", r.ID, r.FromMbps, r.ToMbps, err)
		}
		a.rows[r.ID] = d
		a.sent = a.sent || d.Sends()
	}
	if len(a.rows) == 0 {
		return nil, fmt.Errorf("the plan's switch table has no feasible row to follow (plan again with looser constraints, or run without adapting)")
	}
	var err error
	if a.pol, err = s.Policy(a.table); err != nil {
		return nil, err
	}
	a.est = s.Estimator(nil)
	return a, nil
}

// Deployments are the feasible rows' deployments, in table order.
func (a *Adaptive) Deployments() []*Deployment {
	var out []*Deployment
	for _, r := range a.table {
		if d, ok := a.rows[r.ID]; ok {
			out = append(out, d)
		}
	}
	return out
}

// choose probes when one is due, then decides the row for the next
// inference and returns its deployment.
func (a *Adaptive) choose(e *Edge) (*Deployment, RowChoice) {
	var c RowChoice
	if a.sent && e.c != nil && a.Settings.ProbeBytes > 0 && a.est.Idle(time.Now()) {
		c.Probed = true
		if err := a.sendProbe(e); err != nil {
			a.logf("probe: %v", err)
		}
	}
	mbps, ok := a.est.Mbps()
	samples := a.est.Rates() // none live: the policy holds its row
	if ok {
		c.EstimateMbps = mbps
	} else if a.pol.Current() < 0 {
		mbps, samples = a.prior, []float64{a.prior}
	}
	before := a.pol.Current()
	i, switched, reason := a.pol.Decide(samples, time.Now())
	c.Switched, c.Reason = switched, reason
	id := a.table[i].ID
	d, runs := a.feasible(id)
	c.Row = runs
	switch {
	case before < 0:
		how := "estimated"
		if !ok {
			how = "no measurement yet: the plan's uplink,"
		}
		a.logf("adaptive: start in row %d (%s) at %s %.3g Mbps: %s", runs, a.rowName(runs), how, mbps, reason)
	case switched:
		a.logf("adaptive: switch row %d (%s) → row %d (%s) at %.3g Mbps: %s", a.table[before].ID, a.rowName(a.table[before].ID), runs, a.rowName(runs), mbps, reason)
	}
	if runs != id && (before < 0 || switched) {
		a.logf("adaptive: row %d is infeasible (the plan's constraints fail at its uplinks): running row %d, the nearest feasible one", id, runs)
	}
	return d, c
}

// feasible is the deployment of row id, or of the nearest feasible row
// (the lower one on a tie) when the plan found none meeting its
// constraints there: at a row's boundary its neighbour is as good, so the
// nearest is the best guess the table offers.
func (a *Adaptive) feasible(id int) (*Deployment, int) {
	if d, ok := a.rows[id]; ok {
		return d, id
	}
	at := 0
	for i, r := range a.table {
		if r.ID == id {
			at = i
		}
	}
	for k := 1; k < len(a.table); k++ {
		for _, j := range []int{at - k, at + k} {
			if j >= 0 && j < len(a.table) {
				if d, ok := a.rows[a.table[j].ID]; ok {
					return d, a.table[j].ID
				}
			}
		}
	}
	return nil, -1 // unreachable: NewAdaptive wants a feasible row
}

// rowName is how a log line names a row: its cut and encoding.
func (a *Adaptive) rowName(id int) string {
	d, ok := a.rows[id]
	if !ok {
		return "infeasible"
	}
	s := d.Plan.SwitchTable[id]
	if !d.Sends() {
		return "after " + s.Cut + ", all on the device"
	}
	return "after " + s.Cut + ", " + s.Encoding
}

// observe feeds the estimate with the transfer of a request body of
// bytes, from the server's reply parameters ps.
func (a *Adaptive) observe(bytes int, ps oip.Parameters) error {
	b, d, ok, err := replySample(bytes, ps)
	if ok {
		a.est.Observe(b, d, time.Now()) // b, d > 0: never an error
	}
	return err
}

// replySample is the sample a reply gives: the tail's rate
// (recv_tail_bytes over recv_tail_ms, at least MinSampleTime) when the
// server reports one, the link as it is at the transfer's end; otherwise
// the whole body's (sample). A parameter of the wrong type is an error.
func replySample(bytes int, ps oip.Parameters) (int64, time.Duration, bool, error) {
	recv, _, err := ps.Float64("recv_ms")
	if err != nil {
		return 0, 0, false, fmt.Errorf("server's reply: %w", err)
	}
	tb, hasB, err := ps.Int64("recv_tail_bytes")
	if err != nil {
		return 0, 0, false, fmt.Errorf("server's reply: %w", err)
	}
	tms, hasMS, err := ps.Float64("recv_tail_ms")
	if err != nil {
		return 0, 0, false, fmt.Errorf("server's reply: %w", err)
	}
	if hasB && hasMS && tb > 0 && tms >= 0 && !math.IsInf(tms, 0) {
		return tb, max(time.Duration(tms*1e6), MinSampleTime), true, nil
	}
	b, d, ok := sample(bytes, recv)
	return b, d, ok, nil
}

// sample is the part of a transfer the server's recv_ms times: the bytes
// after the first packet over at least MinSampleTime, or nothing for a
// body under MinSampleBytes or an untimed one (recv_ms 0 or absent).
func sample(bytes int, recvMS float64) (int64, time.Duration, bool) {
	if bytes < MinSampleBytes || !(recvMS > 0) || math.IsInf(recvMS, 0) {
		return 0, 0, false
	}
	return int64(bytes - linkemu.MTU), max(time.Duration(recvMS*1e6), MinSampleTime), true
}

// sendProbe posts Settings.ProbeBytes of padding (no more than the
// server's largest request) and feeds the estimate with its transfer.
func (a *Adaptive) sendProbe(e *Edge) error {
	m := e.D.model
	n := min(a.Settings.ProbeBytes, m.maxRequestBytes()-4096) // room for the JSON header
	if n < MinSampleBytes {
		return fmt.Errorf("the model's largest request (%d bytes) leaves no room for a %d-byte probe", m.maxRequestBytes(), a.Settings.ProbeBytes)
	}
	a.probe++
	req := &oip.Request{ID: "probe-" + strconv.Itoa(a.probe), Parameters: oip.Parameters{"probe": true, "model_id": m.id(e.seed)},
		Inputs: []oip.Tensor{{Name: "padding", Datatype: oip.Bytes, Shape: []int64{1}, Raw: padding(int(n))}}}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout())
	defer cancel()
	r, err := e.c.infer(ctx, req)
	if err != nil {
		return err
	}
	return a.observe(r.sent, r.resp.Parameters)
}

// padding is a BYTES tensor's raw form: one element of n−4 zero bytes
// after its 4-byte length.
func padding(n int) []byte {
	b := make([]byte, n)
	copy(b, le32(n-4))
	return b
}

func (a *Adaptive) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}
