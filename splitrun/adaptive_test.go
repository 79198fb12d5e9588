package splitrun_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtlsplit/mtlsplit/adapt"
	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/linkemu"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/oip"
	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// dropPlan is mobilenet_v3_small at 96 px from a Jetson Nano to an H100
// with a LAN's RTT, fp32 only: its switch table runs everything on the
// device below 4.86 Mbps, sends features.4 (5760 bytes) up to 34.2 Mbps,
// then features.2, then the image.
func dropPlan(t *testing.T) *plan.Plan {
	t.Helper()
	g, err := model.New("mobilenet_v3_small", 96, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := hwprofiles.Default()
	dev, _ := cat.Device("jetson-nano")
	srv, _ := cat.Server("h100")
	lan, _ := cat.Network("ethernet")
	p, err := optimizer.NewProblem(g, dev, srv, lan)
	if err != nil {
		t.Fatal(err)
	}
	p.Encodings = []codec.Encoding{codec.FP32}
	r, err := optimizer.Solve(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.Plan(r, optimizer.PlanInfo{Granularity: optimizer.BlockLevel})
}

// rowAt is the index of the switch-table row holding mbps.
func rowAt(p *plan.Plan, mbps float64) int {
	for i, s := range p.SwitchTable {
		if mbps >= s.FromMbps && mbps < s.ToMbps {
			return i
		}
	}
	return -1
}

// stepTrace is a Mahimahi trace of a 24 Mbps uplink (two packets a
// millisecond) for wifiMS, then 1 Mbps (a packet every 12 ms) for a
// minute, longer than any test runs.
func stepTrace(t *testing.T, wifiMS int) *linkemu.Trace {
	t.Helper()
	var b strings.Builder
	for ms := 1; ms <= wifiMS; ms++ {
		fmt.Fprintf(&b, "%d\n%d\n", ms, ms)
	}
	for ms := wifiMS + 12; ms <= wifiMS+60000; ms += 12 {
		fmt.Fprintf(&b, "%d\n", ms)
	}
	tr, err := linkemu.ParseTrace(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func count(v []int, x int) int {
	n := 0
	for _, y := range v {
		if y == x {
			n++
		}
	}
	return n
}

// TestAdaptiveFollowsUplinkDrop is the adaptive runtime end to end: an
// edge on a trace-driven uplink that drops from WiFi-like 24 Mbps to
// 3G-like 1 Mbps two seconds in, following the plan's switch table with
// the default settings (adapt.DefaultSettings), one server serving every
// cut. Before the drop the edge splits (features.4 in fp32); within
// maxAfter requests after it, it runs everything on the device; every
// answer, before and after, is bit for bit the local run of the whole
// network.
//
// Why maxAfter is 3: the first two requests after the drop still run the
// old row, and their transfers (5760 bytes, 1 Mbps) are the samples at
// which, two slow against two fast in the window of 4, the local row is
// cheaper even with the samples taken the hysteresis faster; the third
// runs on the device. The requests are
// counted from the drop, or from the end of the dwell when the edge
// switched less than the dwell before it (on a starved CPU the real-time
// link can deliver a burst that looks fast): within the dwell the policy
// holds its row by design.
func TestAdaptiveFollowsUplinkDrop(t *testing.T) {
	const (
		seed     = 5
		wifiMS   = 2000
		maxAfter = 3
	)
	pl := dropPlan(t)
	wifi, slow := rowAt(pl, 24), rowAt(pl, 1)
	if wifi < 0 || slow < 0 || wifi == slow || !pl.SwitchTable[wifi].Feasible || !pl.SwitchTable[slow].Feasible {
		t.Fatalf("the plan's switch table has no two distinct feasible rows at 24 and 1 Mbps: %+v", pl.SwitchTable)
	}
	m, err := splitrun.Open(pl, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if local, err := m.PrepareRow(slow); err != nil || local.Sends() {
		t.Fatalf("the 1 Mbps row sends (%v): the test wants the device alone there", err)
	}
	// Exact in the 8-bit codes the image travels in, should the edge try
	// the row that sends it: then every row is lossless.
	in := make([]float32, d.Graph.Input.Elems())
	for i := range in {
		in[i] = float32(i*7%256) / 256
	}
	_, whole, err := compiled(t, d, seed).RunAll(in)
	if err != nil {
		t.Fatal(err)
	}
	srv := &splitrun.Server{Model: m, Workers: 1, Seed: seed}
	addr := serve(t, srv)
	ad, err := splitrun.NewAdaptive(m, adapt.DefaultSettings)
	if err != nil {
		t.Fatal(err)
	}
	ad.Log = t.Logf
	// The propagation delay shifts the first and the last byte alike: it
	// does not enter recv_ms.
	e := &splitrun.Edge{D: d, Prog: compiled(t, d, seed), Uplink: &linkemu.Link{Trace: stepTrace(t, wifiMS), DelayMS: 5}, Adapt: ad}
	if err := e.Dial(addr, seed); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// The link's clock started when Dial connected: by dropAt the drop
	// has come.
	dropAt := time.Now().Add(wifiMS * time.Millisecond)
	var before, after []int // rows run
	moved := false
	counted := 0   // requests after the drop and the dwell, up to the move
	from := dropAt // where counting starts
	for !moved && counted < maxAfter+20 && len(after) < 200 {
		start := time.Now()
		tm, err := e.Infer(in)
		if err != nil {
			t.Fatal(err)
		}
		for task := range whole {
			if !slices.Equal(tm.Logits[task], whole[task]) {
				t.Fatalf("request %d (row %d): task %d's logits differ from the whole network's", len(before)+len(after)+1, tm.Choice.Row, task)
			}
		}
		if start.Before(dropAt) {
			before = append(before, tm.Choice.Row)
		} else {
			after = append(after, tm.Choice.Row)
			if !start.Before(from) {
				counted++
			}
			moved = tm.Choice.Row == slow
		}
		if tm.Choice.Switched && !moved {
			from = later(from, start.Add(adapt.DefaultSettings.Dwell))
		}
	}
	t.Logf("rows before the drop %v, after %v", before, after)
	if count(before, slow) == len(before) {
		t.Fatalf("the edge ran rows %v before the drop: want it to split (row %d at 24 Mbps)", before, wifi)
	}
	if n := len(before) - count(before, wifi); n > 0 {
		// The link is emulated in real time: on a starved CPU its
		// packets leave late, or late and then at once, and the edge
		// measures the link it really had.
		t.Logf("note: %d of %d requests before the drop ran another row than %d", n, len(before), wifi)
	}
	if !moved || counted > maxAfter {
		t.Fatalf("the edge ran rows %v after the drop: want row %d (the device alone) within %d requests of the drop (%d of them after its dwell)", after, slow, maxAfter, counted)
	}
	t.Logf("moved to row %d: %d requests after the drop, %d counted (from the drop or the end of a dwell)", slow, len(after), counted)
	// The server counts the requests by the cut they sent: the split
	// rows' requests are all there, under their tensors' names.
	sent := map[int]int{}
	for _, r := range append(before, after...) {
		if r != slow {
			sent[r]++
		}
	}
	text := scrape(t, "http://"+addr)
	for r, n := range sent {
		rd, err := m.PrepareRow(r)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tn := range rd.Hops[0] {
			names = append(names, m.TensorName(tn.Node))
		}
		if want := fmt.Sprintf("mtlsplit_cut_requests_total{cut=%q} %d\n", strings.Join(names, "+"), n); !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, "mtlsplit_probe_requests_total ") || strings.Contains(text, "mtlsplit_probe_requests_total 0\n") {
		t.Errorf("/metrics counts no probe (the edge probes first, for its first estimate)")
	}
}

// TestProbe: a request with parameters.probe is a bandwidth probe: the
// server reads and times its body, runs nothing, and answers with no
// outputs, recv_ms and the bytes read; /metrics counts it apart from
// inferences. A probe parameter that is not a boolean is refused.
func TestProbe(t *testing.T) {
	m := zooModel(t)
	srv := &splitrun.Server{Model: m, Workers: 1}
	base := startServer(t, srv)
	url := base + "/v2/models/" + m.Plan.Model.Name + "/infer"
	probe := func(param any) ([]byte, int) {
		pad := make([]byte, 8004)
		pad[0], pad[1] = 0x40, 0x1f // the one element's length, 8000
		body, n, err := oip.EncodeRequest(&oip.Request{ID: "p", Parameters: oip.Parameters{"probe": param},
			Inputs: []oip.Tensor{{Name: "padding", Datatype: oip.Bytes, Shape: []int64{1}, Raw: pad}}}, true)
		if err != nil {
			t.Fatal(err)
		}
		return body, n
	}
	body, n := probe(true)
	probeBytes := len(body)
	code, hdr, out := post(t, nil, url, body, n, nil)
	if code != http.StatusOK {
		t.Fatalf("probe: %d %s", code, out)
	}
	n2, err := oip.HeaderLength(hdr.Get(oip.HeaderContentLength), len(out))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := oip.DecodeResponse(out, n2)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := resp.Parameters.Int64("probe_bytes")
	if _, has, _ := resp.Parameters.Float64("recv_ms"); !has || len(resp.Outputs) != 0 || got != int64(len(body)) || resp.ID != "p" {
		t.Errorf("probe answer: %d outputs, recv_ms given %v, probe_bytes %d (sent %d), id %q", len(resp.Outputs), has, got, len(body), resp.ID)
	}
	if srv.Runs() != 0 {
		t.Errorf("a probe ran the engine %d times", srv.Runs())
	}
	body, n = probe("yes")
	if code, _, out := post(t, nil, url, body, n, nil); code != http.StatusBadRequest || !strings.Contains(string(out), "parameters.probe: want true or false") {
		t.Errorf("probe \"yes\": %d %s; want 400 naming parameters.probe", code, out)
	}
	text := scrape(t, base)
	for _, want := range []string{"mtlsplit_probe_requests_total 1\n", fmt.Sprintf("mtlsplit_probe_bytes_total %d\n", probeBytes)} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
