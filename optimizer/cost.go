package optimizer

import (
	"math"

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

// msPerMbps is the transfer time of one byte at 1 Mbps, in ms.
const msPerMbps = 8.0 / 1e3

// resultBytes is the size of a task's output (fp32 logits).
func resultBytes(classes int) int64 { return 4 * int64(classes) }

// newCandidate precomputes the affine costs of a block-level choice.
func (p *Problem) newCandidate(u *units, c Choice, order int) candidate {
	pl := u.placementOf(c)
	if c.Sends() && c.Tensors == nil {
		c.Tensors = []CutTensor{{Name: u.name[c.Cut], Encoding: c.Encoding, Bytes: c.Encoding.Bytes(u.elems[c.Cut])}}
	}
	return p.candidateOf(u, pl, c, order)
}

// candidateOf precomputes the affine costs of a placement. The edge runs its
// backbone units, encodes what crosses, runs the edge parts of heads whose
// results come from the server, sends, and then runs the heads of edge
// tasks in task order. The server decodes, runs its units, and sends all
// results back together.
func (p *Problem) candidateOf(u *units, pl Placement, c Choice, order int) candidate {
	cd := candidate{Choice: c, order: order, placement: pl}
	var edgeBackbone, serverUnits, encMS, decMS float64
	sends := false
	for i := range u.name {
		if pl.OnServer[i] {
			serverUnits += u.serverMS[i]
		} else if u.task[i] < 0 {
			edgeBackbone += u.edgeMS[i]
		}
		if e := pl.Encoding[i]; e != "" {
			sends = true
			cd.bytes += e.Bytes(u.elems[i])
			if e != profile.FP32 && e != profile.Raw {
				encMS += p.Edge.Cost.ElementwiseMS(u.elems[i])
				decMS += p.Server.Cost.ElementwiseMS(u.elems[i])
			}
		}
	}
	// Per task: the time its head spends on the edge, split into what must
	// run before sending (the edge part of a head finished on the server)
	// and what runs after (the head of an edge task).
	nt := len(u.heads)
	beforeSend, edgeTask := 0.0, make([]float64, nt)
	var results int64
	for t, hu := range u.heads {
		onServer := pl.OnServer[u.last(t)]
		for _, i := range hu {
			if pl.OnServer[i] {
				continue
			}
			if onServer {
				beforeSend += u.edgeMS[i]
			} else {
				edgeTask[t] += u.edgeMS[i]
			}
		}
		if onServer {
			results += resultBytes(p.Graph.Heads[t].Classes)
		}
	}
	edgeStart := edgeBackbone + encMS + beforeSend
	cd.edgeMS = edgeStart
	for _, e := range edgeTask {
		cd.edgeMS += e
	}
	if sends {
		cd.serverMS = decMS + serverUnits
		cd.fixedNetMS = p.Network.RTTMS + float64(results)*msPerMbps/p.Network.DownlinkMbps
		cd.txPerX = float64(cd.bytes) * msPerMbps
	}
	done := edgeStart
	serverDone := line{edgeStart + cd.fixedNetMS + cd.serverMS, cd.txPerX}
	cd.tasks = make([]line, nt)
	for t := range u.heads {
		if pl.OnServer[u.last(t)] {
			cd.tasks[t] = serverDone
		} else {
			done += edgeTask[t]
			cd.tasks[t] = line{done, 0}
		}
	}
	cd.energy = line{p.Edge.ActivePowerW * cd.edgeMS, p.Network.TxPowerW * cd.txPerX}
	cd.accuracy = p.taskAccuracy(u, pl)
	on := make([]bool, len(p.Graph.Nodes))
	for i, nodes := range u.nodes {
		for _, n := range nodes {
			on[n] = !pl.OnServer[i]
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
		if !pl.OnServer[u.last(t)] {
			if hasNative {
				acc[t] = native
			}
			continue
		}
		worst := math.Inf(1)
		for i, e := range pl.Encoding {
			if e == "" {
				continue
			}
			a, ok := p.Accuracy.Accuracy(h.Task, u.cut[i], e)
			if !ok && (e == profile.FP32 || e == profile.Raw) && hasNative {
				a, ok = native, true
			}
			if !ok {
				worst = math.NaN()
				break
			}
			worst = min(worst, a)
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
