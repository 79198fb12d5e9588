package optimizer

import (
	"fmt"
	"math"

	"github.com/mtlsplit/mtlsplit/milp"
)

// times are the affine times of a formulation: work[k] everything tier k
// runs; own[k] its part of heads whose result it gives; up[h], back[h] hop
// h on the way out and the cumulative way home; start[k] when tier k has
// its inputs; done[k] when its tasks' results are home; transfer the
// device's uplink, the part the sweep varies.
type times struct {
	work, own, up, back, start, done []expr
	transfer                         expr
}

// times builds the times at x = 1/uplink (adding the q variables).
func (f *formulation) times(x float64) times {
	p, u, m := f.p, f.u, &f.model
	nk := p.numTiers()
	// Times. work[k]: everything tier k runs; own[k]: its part of heads
	// whose result it gives (q ≤ both "at" indicators); up[h], back[h]:
	// hop h on the way out and the cumulative way home.
	work, own := make([]expr, nk), make([]expr, nk)
	for i := range u.name {
		for k := range nk {
			work[k].plus(f.at(i, k), u.ms[k][i])
		}
		for h := 1; h < nk; h++ {
			for _, ev := range f.c[i][h-1] {
				work[h-1].add(ev.v, codecMS(p.side(h-1), ev.enc, u.elems[i], false))
				work[h].add(ev.v, codecMS(p.side(h), ev.enc, u.elems[i], true))
			}
		}
	}
	for t, hu := range u.heads {
		last := u.last(t)
		for _, i := range hu {
			for k := 0; k+1 < nk; k++ {
				if u.ms[k][i] == 0 {
					continue
				}
				v := m.AddVar(fmt.Sprintf("q_%d_%d", i, k), 0, 1, false)
				f.q[[2]int{i, k}] = v
				qv := expr{t: []milp.Term{{Var: v, Coef: 1}}}
				f.ge(fmt.Sprintf("own_%d_%d_a", i, k), f.at(i, k), qv)
				f.ge(fmt.Sprintf("own_%d_%d_b", i, k), f.at(last, k), qv)
				own[k].add(v, u.ms[k][i])
			}
		}
	}
	up, back := make([]expr, nk), make([]expr, nk)
	var transfer expr // the device's uplink, the part the sweep varies
	for h := 1; h < nk; h++ {
		net := p.hop(h)
		up[h].add(f.y[h-1], net.RTTMS/2+net.OverheadMS)
		for i := range u.name {
			for _, ev := range f.c[i][h-1] {
				n, _ := p.tensorBytes(u, i, ev.enc)
				ms := float64(n) * msPerMbps / net.UplinkMbps
				if h == 1 {
					ms = float64(n) * msPerMbps * x
					transfer.add(ev.v, ms)
				}
				up[h].add(ev.v, ms)
			}
		}
		back[h].plus(back[h-1], 1)
		back[h].add(f.y[h-1], net.RTTMS/2)
		for t, hd := range p.Graph.Heads {
			back[h].plus(f.zAt(u.last(t), h), float64(resultBytes(hd.Classes))*msPerMbps/net.DownlinkMbps)
		}
	}
	// start[k]: when tier k has its inputs; done[k]: when its tasks' results
	// are home.
	start, done := make([]expr, nk), make([]expr, nk)
	for k := 1; k < nk; k++ {
		start[k] = sum(start[k-1], work[k-1], up[k])
		start[k].plus(own[k-1], -1)
		done[k] = sum(start[k], work[k], back[k])
	}
	return times{work: work, own: own, up: up, back: back, start: start, done: done, transfer: transfer}
}

// addObjective adds the makespan (and the deadline on it) and the
// objective.
func (f *formulation) addObjective(tm times, drop map[string]bool) {
	p, m := f.p, &f.model
	nk := p.numTiers()
	work, done := tm.work, tm.done
	needT := p.Objective == Latency || (p.Constraints.DeadlineMS > 0 && !drop[ConstraintDeadline])
	if needT {
		f.t = m.AddVar("T_makespan", 0, math.Inf(1), false)
		tv := expr{t: []milp.Term{{Var: f.t, Coef: 1}}}
		f.ge("makespan_edge", tv, work[0])
		for k := 1; k < nk; k++ {
			f.ge(fmt.Sprintf("makespan_tier%d", k), tv, done[k])
		}
		if p.Constraints.DeadlineMS > 0 && !drop[ConstraintDeadline] {
			m.AddRow("deadline", tv.t, milp.LE, p.Constraints.DeadlineMS)
			f.has[ConstraintDeadline] = true
		}
		if p.Objective == Latency {
			m.Objective = tv.t
		}
	}
	switch p.Objective {
	case Energy:
		var e expr
		e.plus(work[0], p.Tiers[0].ActivePowerW)
		e.plus(tm.transfer, p.Links[0].TxPowerW)
		m.Objective, m.ObjConst = e.t, e.k
	case Weighted:
		f.addTaskTimes(tm)
	}
}

// addTaskTimes adds each task's completion time T_t, weighted in the
// objective.
func (f *formulation) addTaskTimes(tm times) {
	p, u, m := f.p, f.u, &f.model
	nk := p.numTiers()
	work, own, up, done := tm.work, tm.own, tm.up, tm.done
	// A task's time counts only on the tier its result comes from; big
	// enough to switch a row off: every time there is at most this.
	bigM := 0.0
	for _, e := range append(append([]expr{work[0]}, done...), up...) {
		bigM = max(bigM, math.Abs(e.k))
		for _, t := range e.t {
			bigM += math.Abs(t.Coef)
		}
	}
	edge := sum(work[0])
	edge.plus(own[0], -1)
	for t := range u.heads {
		w := 1.0
		if p.TaskWeights != nil {
			w = p.TaskWeights[t]
		}
		last := u.last(t)
		for _, i := range u.heads[t] {
			if v, ok := f.q[[2]int{i, 0}]; ok {
				edge.add(v, u.ms[0][i])
			}
		}
		tt := m.AddVar(fmt.Sprintf("T_task%d", t+1), 0, math.Inf(1), false)
		f.tt = append(f.tt, tt)
		tv := expr{t: []milp.Term{{Var: tt, Coef: 1}}}
		off := sum(edge)
		off.plus(f.zAt(last, 1), -bigM)
		f.ge(fmt.Sprintf("task%d_tier0", t+1), tv, off)
		for k := 1; k < nk; k++ {
			off := sum(done[k])
			off.plus(f.at(last, k), bigM)
			off.k -= bigM
			f.ge(fmt.Sprintf("task%d_tier%d", t+1, k), tv, off)
		}
		m.Objective = append(m.Objective, milp.Term{Var: tt, Coef: w})
	}
}
