package optimizer

import (
	"math"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/placement"
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
	TaskAccuracy []float64
	// TaskAccuracyFrom says which accuracy-table entry gave each known
	// task accuracy (the worst of the tensors the task's result depends on).
	TaskAccuracyFrom []AccuracyFrom
	EdgeMemoryBytes  int64
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
	// pl is the placement costed; for a block choice it is built on first
	// use (placement), since the block space costs thousands of choices
	// without placing every node of each.
	pl         placement.Placement
	block      blockChoice
	u          *units
	label      Label
	sendsAny   bool // anything leaves the device
	order      int
	tasks      []line // completion time of each task
	energy     line
	edgeMS     float64
	serverMS   float64
	fixedNetMS float64 // RTT + results downlink, when sending
	txPerX     float64 // uplink transfer ms = txPerX · x
	bytes      int64
	accuracy   []float64
	// accuracyFrom is the table entry behind each accuracy (nil: no table).
	accuracyFrom []AccuracyFrom
	memory       int64
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
	k := u.cutAt[i]
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

// codecMS is the time to encode (or decode) elems values in e on a side:
// the side's fixed cost per tensor, a pass over the tensor unless it stays
// fp32 (compute, so at the side's compute scale), plus the zstd stage.
func codecMS(s Side, e codec.Encoding, elems int64, decode bool) float64 {
	ms := s.Cost.TensorEncodeMS
	if decode {
		ms = s.Cost.TensorDecodeMS
	}
	if b := e.Base(); b != codec.FP32 && b != codec.Raw {
		ms += s.Cost.Scale() * s.Cost.ElementwiseMS(elems)
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

// newCandidate precomputes the affine costs of a block-level choice by
// placing every unit: the reference the block space's O(tasks) candidates
// are tested against, and what the baselines use.
func (p *Problem) newCandidate(u *units, b blockChoice, order int) candidate {
	return p.candidateOf(u, u.placementOf(b, p.numTiers()), order)
}

// candidateOf precomputes the affine costs of a placement.
func (p *Problem) candidateOf(u *units, upl unitPlacement, order int) candidate {
	cd := p.timed(u, p.loadOf(u, upl), order)
	cd.setPlacement(p, p.nodePlacement(u, upl))
	cd.memory = p.memoryOf(u, upl)
	return cd
}

// setPlacement records the placement a candidate costs and its label.
func (cd *candidate) setPlacement(p *Problem, pl placement.Placement) {
	cd.pl, cd.label = pl, p.label(pl)
}

// sends reports whether anything leaves the device.
func (cd *candidate) sends() bool { return cd.sendsAny }

// placement is the candidate's placement.
func (cd *candidate) placement(p *Problem) placement.Placement {
	if cd.pl.NodeTier == nil {
		cd.pl = p.nodePlacement(cd.u, cd.u.placementOf(cd.block, p.numTiers()))
	}
	return cd.pl
}

// memoryOf is the edge memory of a placement: weights and peak
// activations of what runs on the device.
func (p *Problem) memoryOf(u *units, pl unitPlacement) int64 {
	on := make([]bool, len(p.Graph.Nodes))
	for i, nodes := range u.nodes {
		for _, n := range nodes {
			on[n] = pl.Tier[i] == 0
		}
	}
	return profile.MemoryBytes(p.Graph, on, p.Tiers[0].Cost.BytesPerElem)
}

// timed turns a load into a candidate's times, energy, bytes and accuracy
// (everything but its edge memory). Each tier runs its units, decodes what
// arrives and encodes what it sends on; it sends on once all but the heads
// of its own tasks are done, and returns its tasks' results once everything
// it runs is done. The device runs the heads of its tasks one after
// another, in task order, after sending. A hop costs half its RTT each way
// plus bytes over its uplink (results over its downlink); only the
// device's uplink is a variable of the sweep.
func (p *Problem) timed(u *units, ld load, order int) candidate {
	cd := candidate{order: order}
	for _, s := range ld.sent {
		cd.sendsAny = cd.sendsAny || s.hop == 1
	}
	nk, nt := p.numTiers(), len(u.heads)
	work, own := ld.work, ld.own
	cd.bytes = ld.upBytes[1]
	cd.txPerX = float64(ld.upBytes[1]) * msPerMbps
	cd.edgeMS = work[0]
	// start is when tier k has all it needs (a + b·x), back the way home.
	start := make([]line, nk)
	back := make([]float64, nk)
	for h := 1; h < nk; h++ {
		if ld.upBytes[h] == 0 {
			break
		}
		n := p.hop(h)
		up := line{n.RTTMS/2 + n.OverheadMS, 0}
		if h == 1 {
			up.b = cd.txPerX
		} else {
			up.a += float64(ld.upBytes[h]) * msPerMbps / n.UplinkMbps
		}
		start[h] = line{start[h-1].a + work[h-1] - own[h-1] + up.a, start[h-1].b + up.b}
		back[h] = back[h-1] + n.RTTMS/2 + float64(ld.resBytes[h])*msPerMbps/n.DownlinkMbps
		cd.serverMS += work[h]
		cd.fixedNetMS += up.a + back[h] - back[h-1]
	}
	done := work[0] - own[0]
	cd.tasks = make([]line, nt)
	for t := range u.heads {
		k := ld.headTier[t]
		if k == 0 {
			done += ld.edgeTask[t]
			cd.tasks[t] = line{done, 0}
			continue
		}
		cd.tasks[t] = line{start[k].a + work[k] + back[k], start[k].b}
	}
	cd.energy = line{p.Tiers[0].ActivePowerW * cd.edgeMS, p.Links[0].TxPowerW * cd.txPerX}
	cd.accuracy, cd.accuracyFrom = p.taskAccuracy(u, ld.headTier, ld.sent)
	return cd
}

// taskAccuracy looks each task up in the accuracy table. A task whose head
// runs on the edge sees the network's native accuracy; a task finished on
// the server sees the worst of the tensors that crossed. A tensor in fp32
// (or the raw image) is lossless: native accuracy unless the table says
// otherwise; a lossy tensor off the block boundaries has no measured
// accuracy.
func (p *Problem) taskAccuracy(u *units, headTier []int, crossed []sent) ([]float64, []AccuracyFrom) {
	acc := make([]float64, len(u.heads))
	for t := range acc {
		acc[t] = math.NaN()
	}
	if p.Accuracy == nil {
		return acc, nil
	}
	from := make([]AccuracyFrom, len(u.heads))
	for t, h := range p.Graph.Heads {
		native, hasNative := p.Accuracy.Native(h.Task)
		if headTier[t] == 0 {
			if hasNative {
				acc[t], from[t] = native, AccuracyFrom{Native: true}
			}
			continue
		}
		worst := math.Inf(1)
		for _, s := range crossed {
			if math.IsNaN(worst) {
				break
			}
			e := s.enc.Base() // the lossless stage changes nothing
			a, ok := p.Accuracy.Accuracy(h.Task, u.cut[s.unit], e)
			src := AccuracyFrom{Cut: u.cut[s.unit], Encoding: e}
			if !ok && (e == codec.FP32 || e == codec.Raw) && hasNative {
				a, ok, src = native, true, AccuracyFrom{Native: true}
			}
			if !ok {
				worst = math.NaN()
				continue
			}
			if a < worst {
				worst, from[t] = a, src
			}
		}
		if !math.IsInf(worst, 1) {
			acc[t] = worst
		}
	}
	return acc, from
}

// AccuracyFrom names the accuracy-table entry a task's accuracy comes
// from: a cut and encoding, or the task's native (lossless) accuracy.
type AccuracyFrom struct {
	Cut      string
	Encoding codec.Encoding
	Native   bool
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
		EdgeMS:           cd.edgeMS,
		ServerMS:         cd.serverMS,
		Bytes:            cd.bytes,
		EdgeEnergyMJ:     cd.energy.at(x),
		TaskAccuracy:     cd.accuracy,
		TaskAccuracyFrom: cd.accuracyFrom,
		EdgeMemoryBytes:  cd.memory,
		TaskMS:           make([]float64, len(cd.tasks)),
		Objective:        maxAt(p.objective(cd), x),
	}
	if cd.sends() {
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
