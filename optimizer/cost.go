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

// newCandidate precomputes the affine costs of a choice.
func (p *Problem) newCandidate(c Choice, order int) candidate {
	g := p.Graph
	cd := candidate{Choice: c, order: order}
	var prefix, suffix float64
	for i := range g.Blocks {
		if i < c.Cut {
			prefix += p.Edge.Latency.BlockMS[i]
		} else {
			suffix += p.Server.Latency.BlockMS[i]
		}
	}
	var encMS, decMS float64
	cut := profile.Cuts(g)[c.Cut]
	if c.Sends() {
		cd.bytes = cut.Bytes(c.Encoding)
		if c.Cut > 0 && c.Encoding != profile.FP32 {
			elems := cut.Shape.Elems()
			encMS = p.Edge.Cost.ElementwiseMS(elems)
			decMS = p.Server.Cost.ElementwiseMS(elems)
		}
	}
	edgeStart := prefix + encMS
	edgeT, serverT := edgeStart, decMS+suffix
	var results int64
	for i, h := range g.Heads {
		if c.HeadsOnEdge[i] {
			edgeT += p.Edge.Latency.HeadMS[i]
		} else {
			serverT += p.Server.Latency.HeadMS[i]
			results += resultBytes(h.Classes)
		}
	}
	cd.edgeMS, cd.serverMS = edgeT, serverT
	if c.Sends() {
		cd.fixedNetMS = p.Network.RTTMS + float64(results)*msPerMbps/p.Network.DownlinkMbps
		cd.txPerX = float64(cd.bytes) * msPerMbps
	} else {
		cd.serverMS = 0
	}
	// A task on the edge is done when its head finishes there (heads run in
	// task order after the encoding); a task on the server when all results
	// come back together.
	done := edgeStart
	serverDone := line{edgeStart + cd.fixedNetMS + serverT, cd.txPerX}
	cd.tasks = make([]line, len(g.Heads))
	for i := range g.Heads {
		if c.HeadsOnEdge[i] {
			done += p.Edge.Latency.HeadMS[i]
			cd.tasks[i] = line{done, 0}
		} else {
			cd.tasks[i] = serverDone
		}
	}
	cd.energy = line{p.Edge.ActivePowerW * edgeT, p.Network.TxPowerW * cd.txPerX}
	cd.accuracy = p.taskAccuracy(c, cut.Name)
	cd.memory = profile.MemoryBytes(g, profile.OnEdge(g, c.Cut, c.HeadsOnEdge), p.Edge.Cost.BytesPerElem)
	return cd
}

// taskAccuracy looks each task up in the accuracy table. A task whose head
// runs on the edge, or whose features travel in fp32, sees the network's
// native accuracy (any fp32 entry of that task).
func (p *Problem) taskAccuracy(c Choice, cut string) []float64 {
	acc := make([]float64, len(p.Graph.Heads))
	for i, h := range p.Graph.Heads {
		acc[i] = math.NaN()
		if p.Accuracy == nil {
			continue
		}
		lossless := c.HeadsOnEdge[i] || c.Encoding == profile.FP32 || c.Encoding == profile.Raw
		enc := c.Encoding
		if c.HeadsOnEdge[i] {
			enc = profile.FP32
		}
		if a, ok := p.Accuracy.Accuracy(h.Task, cut, enc); ok {
			acc[i] = a
		} else if lossless {
			if a, ok := p.Accuracy.Native(h.Task); ok {
				acc[i] = a
			}
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
