package experiments

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/optimizer"
)

// Adaptive is the trace-driven study of issue 11: an edge that follows its
// plan's switch table from its own bandwidth estimate, against fixed plans,
// over real uplink traces, in virtual time. Requests go back to back (the
// next starts when the previous finished) for the trace's length. A
// request's compute times are the cost model's for its plan; its uplink
// transfer crosses the trace's packet schedule (linkemu), so it takes what
// the trace allows at that moment, not bytes over a mean rate.
type Adaptive struct {
	Combos []Combo
	Traces []NamedTrace
	Tasks  []int
	Input  int
	// Encodings allowed for the cut tensor.
	Encodings []codec.Encoding
	Policy    PolicySettings
	// Duration of each run; 0 means the trace's period.
	Duration time.Duration
}

// DefaultAdaptive is the study results/adaptive shows, over traces: the
// default combos, two tasks (8 and 4 classes) at 224 px, fp32/fp16/int8,
// the default policy, each trace's whole length.
func DefaultAdaptive(traces []NamedTrace) Adaptive {
	return Adaptive{Combos: DefaultCombos, Traces: traces, Tasks: []int{8, 4}, Input: 224,
		Encodings: []codec.Encoding{codec.FP32, codec.FP16, codec.Int8}, Policy: DefaultPolicy}
}

// LoadTrace reads a trace file for the study. The trace gives the uplink
// only; the RTT and downlink are those of the catalog network its name
// says: 4g for an LTE trace, 3g for any other (UMTS, EVDO).
func LoadTrace(path string) (NamedTrace, error) {
	tr, err := linkemu.LoadTrace(path)
	if err != nil {
		return NamedTrace{}, err
	}
	net := "3g"
	if strings.Contains(strings.ToUpper(filepath.Base(path)), "LTE") {
		net = "4g"
	}
	return NamedTrace{Name: filepath.Base(path), Network: net, Trace: tr}, nil
}

// Combo is one model on one edge device with one server.
type Combo struct{ Model, Device, Server string }

func (c Combo) String() string { return c.Model + " " + c.Device + "→" + c.Server }

// NamedTrace is a trace and the catalog network whose RTT and downlink go
// with it (the trace gives only the uplink).
type NamedTrace struct {
	Name    string
	Network string
	Trace   *linkemu.Trace
}

// PolicySettings are the adaptive edge's estimator and policy: the
// runtime's (adapt.Settings), so that what the study tunes is what runs.
type PolicySettings = adapt.Settings

// DefaultPolicy is the setting the study reports, chosen by the rule in
// TunePolicy (one setting for every trace and combo); the runtime's
// default too.
var DefaultPolicy = adapt.DefaultSettings

// DefaultCombos are the three model × device × server choices of the study.
var DefaultCombos = []Combo{
	{"vgg16", "rpi4", "h100"},
	{"vgg16", "rpi5", "epyc-16c"},
	{"resnet18", "rpi4", "h100"},
	{"efficientnet_b0", "rpi4", "h100"},
}

// Strategy names.
const (
	StratAdaptive   = "adaptive"
	StratBestFixed  = "best-fixed"
	StratMeanPlan   = "mean-bandwidth-plan"
	StratLocalOnly  = "local-only"
	StratRemoteOnly = "remote-only"
)

// AdaptiveRow is one strategy on one trace and combo.
type AdaptiveRow struct {
	Trace    string
	Combo    Combo
	Strategy string
	// Plan is the fixed plan's label, "switching" for adaptive.
	Plan               string
	Requests           int
	MeanMS, P95MS      float64
	P99MS              float64
	SwitchesPerMin     float64
	TraceMeanMbps      float64
	FixedPlansSimulate int // switch-table rows tried for best-fixed
}

// Timeline is one adaptive run request by request, for the figures.
type Timeline struct {
	Trace     string
	Combo     Combo
	Trace0    *linkemu.Trace
	StartS    []float64 // request start, s
	LatencyMS []float64
	EstMbps   []float64 // estimate when the request's plan was picked (NaN before any)
	Row       []int     // switch-table row run
	Labels    []string  // label of every row
	// BestFixedMS is the best fixed plan's latency per request of its own run.
	BestStartS, BestFixedMS []float64
}

// Switches counts the changes of row between consecutive requests.
func (tl Timeline) Switches() int {
	n := 0
	for i := 1; i < len(tl.Row); i++ {
		if tl.Row[i] != tl.Row[i-1] {
			n++
		}
	}
	return n
}

// simPlan is what the simulation needs of one plan.
type simPlan struct {
	label string
	bytes int64
	// sendAtMS is when the uplink transfer starts after the request does.
	sendAtMS float64
	// localMS is when the last task finished on the device is done (0:
	// none); remoteMS when the last task finished beyond it would be done
	// if the transfer took no time (-Inf: none).
	localMS, remoteMS float64
}

// latency is the request's latency when its transfer took txMS.
func (s simPlan) latency(txMS float64) float64 {
	if s.bytes == 0 {
		return s.localMS
	}
	return max(s.localMS, s.remoteMS+txMS)
}

// modelMS is the cost model's latency at a constant uplink.
func (s simPlan) modelMS(mbps float64) float64 {
	return s.latency(float64(s.bytes) * 8 / (mbps * 1e3))
}

// newSimPlan reads a placement's timing off the cost model: each task's
// completion is a + b/uplink, with b the transfer time at 1 Mbps for a task
// finished beyond the device and 0 on it.
func newSimPlan(p *optimizer.Problem, e optimizer.Evaluated) (simPlan, error) {
	const mbps = 10.0
	ev, err := p.Evaluate(e.Placement, mbps)
	if err != nil {
		return simPlan{}, fmt.Errorf("plan %s: %w", e.Label, err)
	}
	c := ev.Cost
	sp := simPlan{label: e.Label.String(), bytes: c.Bytes, sendAtMS: c.EdgeMS, remoteMS: math.Inf(-1)}
	tx := float64(c.Bytes) * 8 / (mbps * 1e3)
	for t, ms := range c.TaskMS {
		if e.Placement.HeadTier[t] == 0 {
			sp.localMS = max(sp.localMS, ms)
			// The device runs its heads after sending.
			sp.sendAtMS -= p.Tiers[0].Latency.HeadMS[t] * p.Tiers[0].Cost.Scale()
		} else {
			sp.remoteMS = max(sp.remoteMS, ms-tx)
		}
	}
	sp.sendAtMS = max(sp.sendAtMS, 0)
	return sp, nil
}

// comboPlans is one combo's switch table and baselines on one network.
type comboPlans struct {
	rows          []adapt.Row
	plans         []simPlan // by switch-table row index (ID)
	local, remote simPlan
}

// problem is a combo's split problem over a catalog network.
func (a Adaptive) problem(cat *hwprofiles.Catalog, c Combo, network string) (*optimizer.Problem, error) {
	g, err := model.New(c.Model, a.Input, a.Tasks)
	if err != nil {
		return nil, err
	}
	dev, err := cat.Device(c.Device)
	if err != nil {
		return nil, err
	}
	srv, err := cat.Server(c.Server)
	if err != nil {
		return nil, err
	}
	net, err := cat.Network(network)
	if err != nil {
		return nil, err
	}
	p, err := optimizer.NewProblem(g, dev, srv, net)
	if err != nil {
		return nil, err
	}
	if a.Encodings != nil {
		p.Encodings = a.Encodings
	}
	return p, nil
}

// plans solves a combo over a network and reads its switch table.
func (a Adaptive) plans(cat *hwprofiles.Catalog, c Combo, network string) (comboPlans, error) {
	p, err := a.problem(cat, c, network)
	if err != nil {
		return comboPlans{}, err
	}
	r, err := optimizer.Solve(p, nil, nil)
	if err != nil {
		return comboPlans{}, err
	}
	var cp comboPlans
	for i, s := range r.Switch {
		if !s.Feasible {
			return comboPlans{}, fmt.Errorf("%s: no feasible plan at %g–%g Mbps", c, s.FromMbps, s.ToMbps)
		}
		sp, err := newSimPlan(p, optimizer.Evaluated{Placement: s.Placement, Label: s.Label})
		if err != nil {
			return comboPlans{}, err
		}
		cp.plans = append(cp.plans, sp)
		if s.ToMbps > s.FromMbps {
			// The cost the runtime reads off a plan's row: the chord of its
			// objective over its range (adapt.RowsFromPlan).
			cp.rows = append(cp.rows, adapt.Row{FromMbps: s.FromMbps, ToMbps: s.ToMbps, ID: i, Cost: adapt.Chord(s.FromMbps, s.ToMbps, s.ObjectiveFrom, s.ObjectiveTo)})
		}
	}
	if cp.local, err = newSimPlan(p, r.Baselines.LocalOnly); err != nil {
		return comboPlans{}, err
	}
	if cp.remote, err = newSimPlan(p, r.Baselines.RemoteOnly); err != nil {
		return comboPlans{}, err
	}
	return cp, nil
}

// run is one simulated run: every request's start, latency, row and the
// estimate it was picked with.
type run struct {
	startMS, latencyMS, estMbps []float64
	row                         []int
	switches                    int
}

// simulateFixed runs one plan for the whole duration.
func simulateFixed(tr *linkemu.Trace, sp simPlan, dur time.Duration) run {
	sched := linkemu.NewSchedule(tr)
	var r run
	end := float64(dur) / 1e6
	for now := 0.0; now < end; {
		lat := sp.latency(transfer(sched, now+sp.sendAtMS, sp.bytes))
		r.startMS, r.latencyMS = append(r.startMS, now), append(r.latencyMS, lat)
		now += lat
	}
	return r
}

// transfer sends bytes at atMS and returns how long the last packet took
// to leave, in ms.
func transfer(s *linkemu.Schedule, atMS float64, bytes int64) float64 {
	if bytes == 0 {
		return 0
	}
	at := time.Duration(atMS * 1e6)
	return float64(s.Send(at, bytes)-at) / 1e6
}

// transferTail sends bytes at atMS like transfer and also returns the
// sample an adaptive edge takes of it: the server's tail (adapt.Tail over
// its packets' arrivals, each packet a read), or the whole transfer when
// the tail is not there (a body of a few packets).
func transferTail(s *linkemu.Schedule, atMS float64, bytes int64, arr []adapt.Arrival) (txMS float64, sBytes int64, sDur time.Duration, _ []adapt.Arrival) {
	at := time.Duration(atMS * 1e6)
	arr = arr[:0]
	for n := int64(0); n < bytes; n += linkemu.MTU {
		arr = append(arr, adapt.Arrival{Bytes: min(n+linkemu.MTU, bytes), At: s.Depart(at)})
	}
	txMS = float64(arr[len(arr)-1].At-at) / 1e6
	if b, d, ok := adapt.Tail(arr); ok {
		return txMS, b, max(d, time.Millisecond), arr
	}
	return txMS, bytes, observedMS(txMS), arr
}

// observedMS is the duration the edge attributes to a transfer: at least
// the trace's millisecond, since a packet that arrives on an opportunity
// leaves at once.
func observedMS(txMS float64) time.Duration {
	return time.Duration(max(txMS, 1) * 1e6)
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// simulateAdaptive runs the adaptive edge: before each request it decides
// from its estimate; after it, it observes the transfer; when nothing was
// observed for the estimator's idle time it sends a probe, which queues on
// the uplink like any transfer.
func simulateAdaptive(tr *linkemu.Trace, cp comboPlans, ps PolicySettings, dur time.Duration) (run, error) {
	sched := linkemu.NewSchedule(tr)
	now := 0.0
	clock := func() time.Time { return epoch.Add(time.Duration(now * 1e6)) }
	est := ps.Estimator(clock)
	pol, err := ps.Policy(cp.rows)
	if err != nil {
		return run{}, err
	}
	var r run
	var arr []adapt.Arrival
	end := float64(dur) / 1e6
	for now < end {
		if est.Idle(clock()) && ps.ProbeBytes > 0 {
			var tx float64
			var b int64
			var d time.Duration
			tx, b, d, arr = transferTail(sched, now, ps.ProbeBytes, arr)
			if err := est.Observe(b, d, epoch.Add(time.Duration((now+tx)*1e6))); err != nil {
				return run{}, err
			}
		}
		mbps, ok := est.Mbps()
		if !ok {
			mbps = math.NaN()
		}
		row, switched, _ := pol.Decide(est.Rates(), clock())
		if row < 0 {
			return run{}, fmt.Errorf("no estimate for the first request: give a probe size")
		}
		if switched {
			r.switches++
		}
		id := pol.Row(row).ID
		sp := cp.plans[id]
		var tx float64
		var b int64
		var d time.Duration
		if sp.bytes > 0 {
			tx, b, d, arr = transferTail(sched, now+sp.sendAtMS, sp.bytes, arr)
		}
		lat := sp.latency(tx)
		r.startMS, r.latencyMS = append(r.startMS, now), append(r.latencyMS, lat)
		r.row, r.estMbps = append(r.row, id), append(r.estMbps, mbps)
		if sp.bytes > 0 {
			at := epoch.Add(time.Duration((now + sp.sendAtMS + tx) * 1e6))
			if err := est.Observe(b, d, at); err != nil {
				return run{}, err
			}
		}
		now += lat
	}
	return r, nil
}

// stats are a run's summary numbers.
func (r run) stats() (mean, p95, p99 float64) {
	s := slices.Clone(r.latencyMS)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return sum / float64(len(s)), percentile(s, 0.95), percentile(s, 0.99)
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, q float64) float64 {
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// Run simulates every trace and combo, returning the summary rows and the
// adaptive timeline of each.
func (a Adaptive) Run(cat *hwprofiles.Catalog, progress func(done, total int)) ([]AdaptiveRow, []Timeline, error) {
	var rows []AdaptiveRow
	var lines []Timeline
	total, done := len(a.Traces)*len(a.Combos), 0
	for _, nt := range a.Traces {
		dur := a.Duration
		if dur == 0 {
			dur = nt.Trace.Period()
		}
		for _, c := range a.Combos {
			cp, err := a.plans(cat, c, nt.Network)
			if err != nil {
				return nil, nil, err
			}
			rs, tl, err := a.compare(nt, c, cp, dur)
			if err != nil {
				return nil, nil, fmt.Errorf("%s on %s: %w", c, nt.Name, err)
			}
			rows, lines = append(rows, rs...), append(lines, tl)
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return rows, lines, nil
}

// compare runs every strategy of one combo on one trace.
func (a Adaptive) compare(nt NamedTrace, c Combo, cp comboPlans, dur time.Duration) ([]AdaptiveRow, Timeline, error) {
	mins := dur.Minutes()
	row := func(strategy, label string, r run) AdaptiveRow {
		mean, p95, p99 := r.stats()
		return AdaptiveRow{Trace: nt.Name, Combo: c, Strategy: strategy, Plan: label, Requests: len(r.latencyMS),
			MeanMS: mean, P95MS: p95, P99MS: p99, SwitchesPerMin: float64(r.switches) / mins,
			TraceMeanMbps: nt.Trace.MeanMbps(), FixedPlansSimulate: len(cp.rows)}
	}
	ad, err := simulateAdaptive(nt.Trace, cp, a.Policy, dur)
	if err != nil {
		return nil, Timeline{}, err
	}
	out := []AdaptiveRow{row(StratAdaptive, "switching", ad)}
	// Best fixed in hindsight: every row of the table run alone.
	var best run
	bestRow, bestMean := -1, math.Inf(1)
	for _, r := range cp.rows {
		fr := simulateFixed(nt.Trace, cp.plans[r.ID], dur)
		if m, _, _ := fr.stats(); m < bestMean {
			best, bestRow, bestMean = fr, r.ID, m
		}
	}
	out = append(out, row(StratBestFixed, cp.plans[bestRow].label, best))
	mean := nt.Trace.MeanMbps()
	meanRow := cp.rows[len(cp.rows)-1].ID
	for _, r := range cp.rows {
		if mean < r.ToMbps {
			meanRow = r.ID
			break
		}
	}
	out = append(out, row(StratMeanPlan, cp.plans[meanRow].label, simulateFixed(nt.Trace, cp.plans[meanRow], dur)))
	out = append(out, row(StratLocalOnly, cp.local.label, simulateFixed(nt.Trace, cp.local, dur)))
	out = append(out, row(StratRemoteOnly, cp.remote.label, simulateFixed(nt.Trace, cp.remote, dur)))
	tl := Timeline{Trace: nt.Name, Combo: c, Trace0: nt.Trace, LatencyMS: ad.latencyMS, EstMbps: ad.estMbps, Row: ad.row,
		BestFixedMS: best.latencyMS}
	for _, s := range ad.startMS {
		tl.StartS = append(tl.StartS, s/1e3)
	}
	for _, s := range best.startMS {
		tl.BestStartS = append(tl.BestStartS, s/1e3)
	}
	for _, p := range cp.plans {
		tl.Labels = append(tl.Labels, p.label)
	}
	return out, tl, nil
}
