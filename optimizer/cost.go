package optimizer

import (
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/profile"
)

// Cost is the predicted cost of a choice at one uplink bandwidth.
type Cost struct {
	TotalMS      float64 // makespan: every task's output on the edge
	EdgeMS       float64 // edge compute: backbone prefix, encoding, edge heads
	NetworkMS    float64 // RTT, uplink transfer and results downlink
	ServerMS     float64 // decoding, backbone suffix, server heads
	Bytes        int64   // sent on the uplink per inference
	EdgeEnergyMJ float64
	// TaskMS is each task's completion time.
	TaskMS []float64
	// TaskAccuracy is each task's accuracy; NaN when unknown.
	TaskAccuracy    []float64
	EdgeMemoryBytes int64
	// Objective is the value minimized (ms for latency and weighted, mJ for
	// energy).
	Objective float64
}

// MinAccuracy is the lowest known task accuracy, NaN if none is known.
func (c Cost) MinAccuracy() float64 {
	m := math.NaN()
	for _, a := range c.TaskAccuracy {
		if !math.IsNaN(a) && (math.IsNaN(m) || a < m) {
			m = a
		}
	}
	return m
}

// line is a + b·x with x = 1/uplink in 1/Mbps: every cost here is affine in
// x for a fixed choice.
type line struct{ a, b float64 }

func (l line) at(x float64) float64 { return l.a + l.b*x }

// candidate is a choice with everything that does not depend on the uplink
// precomputed.
type candidate struct {
	Choice
	placement  Placement
	order      int
	tasks      []line // completion time of each task
	energy     line
	edgeMS     float64
	serverMS   float64
	fixedNetMS float64 // RTT + results downlink, when sending
	txPerX     float64 // uplink transfer ms = txPerX · x
	bytes      int64
	accuracy   []float64
	memory     int64
}

// The zstd stage's speed (klauspost/compress, fastest level, one core),
// measured on the 2-core EPYC development VM over int8 and float tensors:
// about 250 MB/s compressing and 1000 MB/s decompressing.
const (
	zstdCompressMBps   = 250
	zstdDecompressMBps = 1000
)

// tensorBytes is what unit i's output costs on the wire in encoding e: the
// encoding's size, or for a compressed encoding the size measured at that
// cut (ok is false when there is none: the option does not exist).
func (p *Problem) tensorBytes(u *units, i int, e codec.Encoding) (int64, bool) {
	if !e.Compressed() {
		return e.Bytes(u.elems[i]), true
	}
	k := p.cutIndex(u.cut[i])
	for t := range p.numTiers() {
		l := p.side(t).Latency
		if k > 0 && k < len(l.CutBytes) && l.CutBytes[k] != nil {
			if n, ok := l.CutBytes[k][e]; ok {
				return n, true
			}
		}
	}
	return 0, false
}

// cutIndex is the index of a block-boundary cut by name (0: none).
func (p *Problem) cutIndex(name string) int {
	for i, b := range p.Graph.Blocks {
		if b.Name == name {
			return i + 1
		}
	}
	return 0
}

// codecMS is the time to encode (or decode) elems values in e on a side:
// a pass over the tensor unless it stays fp32, plus the zstd stage.
func codecMS(s Side, e codec.Encoding, elems int64, decode bool) float64 {
	var ms float64
	if b := e.Base(); b != codec.FP32 && b != codec.Raw {
		ms = s.Cost.ElementwiseMS(elems)
	}
	if e.Compressed() {
		rate := float64(zstdCompressMBps)
		if decode {
			rate = zstdDecompressMBps
		}
		ms += float64(e.Base().Bytes(elems)) / (rate * 1e3)
	}
	return ms
}

// msPerMbps is the transfer time of one byte at 1 Mbps, in ms.
const msPerMbps = 8.0 / 1e3

// resultBytes is the size of a task's output (fp32 logits).
func resultBytes(classes int) int64 { return 4 * int64(classes) }

// newCandidate precomputes the affine costs of a block-level choice.
func (p *Problem) newCandidate(u *units, c Choice, order int) candidate {
	pl := u.placementOf(c, p.numTiers())
	if c.Sends() && c.Tensors == nil {
		nodes := u.nodes[c.Cut]
		n, _ := p.tensorBytes(u, c.Cut, c.Encoding)
		c.Tensors = []CutTensor{{Name: u.name[c.Cut], Node: nodes[len(nodes)-1], Hop: 1, Encoding: c.Encoding, Bytes: n}}
	}
	return p.candidateOf(u, pl, c, order)
}

// candidateOf precomputes the affine costs of a placement. Each tier runs
// its units, decodes what arrives and encodes what it sends on; it sends on
// once all but the heads of its own tasks are done, and returns its tasks'
// results once everything it runs is done. The device runs the heads of its
// tasks one after another, in task order, after sending. A hop costs half
// its RTT each way plus bytes over its uplink (results over its downlink);
// only the device's uplink is a variable of the sweep.
func (p *Problem) candidateOf(u *units, pl Placement, c Choice, order int) candidate {
	cd := candidate{Choice: c, order: order, placement: pl}
	nk, nt := p.numTiers(), len(u.heads)
	work := make([]float64, nk)     // everything tier k runs
	own := make([]float64, nk)      // tier k's part of heads whose result it gives
	upBytes := make([]int64, nk)    // bytes over hop h (into tier h)
	resBytes := make([]int64, nk)   // results back over hop h
	edgeTask := make([]float64, nt) // device time of the device's tasks
	for i := range u.name {
		k := pl.Tier[i]
		work[k] += u.ms[k][i]
		for h := 1; h < nk; h++ {
			e := pl.Encoding[i][h-1]
			if e == "" {
				continue
			}
			n, _ := p.tensorBytes(u, i, e)
			upBytes[h] += n
			work[h-1] += codecMS(p.side(h-1), e, u.elems[i], false)
			work[h] += codecMS(p.side(h), e, u.elems[i], true)
		}
	}
	for t, hu := range u.heads {
		k := pl.Tier[u.last(t)]
		for _, i := range hu {
			if pl.Tier[i] == k {
				own[k] += u.ms[k][i]
				if k == 0 {
					edgeTask[t] += u.ms[0][i]
				}
			}
		}
		for h := 1; h <= k; h++ {
			resBytes[h] += resultBytes(p.Graph.Heads[t].Classes)
		}
	}
	cd.bytes = upBytes[1]
	cd.txPerX = float64(upBytes[1]) * msPerMbps
	cd.edgeMS = work[0]
	// start is when tier k has all it needs (a + b·x), back the way home.
	start := make([]line, nk)
	back := make([]float64, nk)
	for h := 1; h < nk; h++ {
		if upBytes[h] == 0 {
			break
		}
		n := p.hop(h)
		up := line{n.RTTMS / 2, 0}
		if h == 1 {
			up.b = cd.txPerX
		} else {
			up.a += float64(upBytes[h]) * msPerMbps / n.UplinkMbps
		}
		start[h] = line{start[h-1].a + work[h-1] - own[h-1] + up.a, start[h-1].b + up.b}
		back[h] = back[h-1] + n.RTTMS/2 + float64(resBytes[h])*msPerMbps/n.DownlinkMbps
		cd.serverMS += work[h]
		cd.fixedNetMS += up.a + back[h] - back[h-1]
	}
	done := work[0] - own[0]
	cd.tasks = make([]line, nt)
	for t := range u.heads {
		k := pl.Tier[u.last(t)]
		if k == 0 {
			done += edgeTask[t]
			cd.tasks[t] = line{done, 0}
			continue
		}
		cd.tasks[t] = line{start[k].a + work[k] + back[k], start[k].b}
	}
	cd.energy = line{p.Edge.ActivePowerW * cd.edgeMS, p.Network.TxPowerW * cd.txPerX}
	cd.accuracy = p.taskAccuracy(u, pl)
	on := make([]bool, len(p.Graph.Nodes))
	for i, nodes := range u.nodes {
		for _, n := range nodes {
			on[n] = pl.Tier[i] == 0
		}
	}
	cd.memory = profile.MemoryBytes(p.Graph, on, p.Edge.Cost.BytesPerElem)
	return cd
}

// taskAccuracy looks each task up in the accuracy table. A task whose head
// runs on the edge sees the network's native accuracy; a task finished on
// the server sees the worst of the tensors that crossed. A tensor in fp32
// (or the raw image) is lossless: native accuracy unless the table says
// otherwise; a lossy tensor off the block boundaries has no measured
// accuracy.
func (p *Problem) taskAccuracy(u *units, pl Placement) []float64 {
	acc := make([]float64, len(u.heads))
	for t, h := range p.Graph.Heads {
		acc[t] = math.NaN()
		if p.Accuracy == nil {
			continue
		}
		native, hasNative := p.Accuracy.Native(h.Task)
		if pl.Tier[u.last(t)] == 0 {
			if hasNative {
				acc[t] = native
			}
			continue
		}
		worst := math.Inf(1)
		for i, encs := range pl.Encoding {
			for _, e := range encs {
				if e == "" || math.IsNaN(worst) {
					continue
				}
				e := e.Base() // the lossless stage changes nothing
				a, ok := p.Accuracy.Accuracy(h.Task, u.cut[i], e)
				if !ok && (e == codec.FP32 || e == codec.Raw) && hasNative {
					a, ok = native, true
				}
				if !ok {
					worst = math.NaN()
					continue
				}
				worst = min(worst, a)
			}
		}
		if !math.IsInf(worst, 1) {
			acc[t] = worst
		}
	}
	return acc
}

// objective is the objective as a convex piecewise-linear function of x:
// the maximum of the returned lines.
func (p *Problem) objective(cd *candidate) []line {
	switch p.Objective {
	case Energy:
		return []line{cd.energy}
	case Weighted:
		var l line
		for i, t := range cd.tasks {
			w := 1.0
			if p.TaskWeights != nil {
				w = p.TaskWeights[i]
			}
			l.a += w * t.a
			l.b += w * t.b
		}
		return []line{l}
	}
	return cd.tasks
}

func maxAt(lines []line, x float64) float64 {
	m := math.Inf(-1)
	for _, l := range lines {
		m = max(m, l.at(x))
	}
	return m
}

// cost evaluates a candidate at x = 1/uplink.
func (p *Problem) cost(cd *candidate, x float64) Cost {
	c := Cost{
		EdgeMS:          cd.edgeMS,
		ServerMS:        cd.serverMS,
		Bytes:           cd.bytes,
		EdgeEnergyMJ:    cd.energy.at(x),
		TaskAccuracy:    cd.accuracy,
		EdgeMemoryBytes: cd.memory,
		TaskMS:          make([]float64, len(cd.tasks)),
		Objective:       maxAt(p.objective(cd), x),
	}
	if cd.Sends() {
		c.NetworkMS = cd.fixedNetMS + cd.txPerX*x
	}
	for i, t := range cd.tasks {
		c.TaskMS[i] = t.at(x)
		c.TotalMS = max(c.TotalMS, c.TaskMS[i])
	}
	return c
}

// deadlineX is the largest x at which the candidate meets the deadline
// (+Inf when it always does, -Inf when it never does).
func (p *Problem) deadlineX(cd *candidate) float64 {
	d := p.Constraints.DeadlineMS
	if d <= 0 {
		return math.Inf(1)
	}
	limit := math.Inf(1)
	for _, t := range cd.tasks {
		switch {
		case t.b > 0:
			limit = min(limit, (d-t.a)/t.b)
		case t.a > d:
			return math.Inf(-1)
		}
	}
	return limit
}
