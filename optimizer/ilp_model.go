package optimizer

import (
	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/milp"
)

// formulation is the MILP of a problem and the map back to a placement.
//
// Variables: z[i][k] = 1 when unit i runs on tier k or beyond (k ≥ 1; the
// input is on the device); c (unit i's output crosses into tier h in
// encoding e); y[h] (hop h carries anything); q (tier k runs a head part of
// a task whose result tier k gives: it may run after sending on); T (the
// makespan) and T_t (each task's completion time, for the weighted
// objective). Times are affine in the variables; rows compare them.
type formulation struct {
	p     *Problem
	u     *units
	model milp.Model
	z     [][]int           // z[i][k], k ≥ 1 (index 0 unused); −1 for the input
	c     [][][]encodingVar // c[i][h−1]: encodings unit i may cross hop h in
	y     []int             // y[h−1]
	q     map[[2]int]int    // (unit, tier) → q variable
	t     int               // makespan, −1 if absent
	tt    []int             // task completion times (weighted objective)
	has   map[string]bool   // constraint groups present
}

type encodingVar struct {
	enc codec.Encoding
	v   int
}

// expr is an affine expression Σ terms + k.
type expr struct {
	t []milp.Term
	k float64
}

func (e *expr) add(v int, coef float64) {
	if v >= 0 && coef != 0 {
		e.t = append(e.t, milp.Term{Var: v, Coef: coef})
	}
}

// plus adds coef·o to e.
func (e *expr) plus(o expr, coef float64) {
	for _, t := range o.t {
		e.t = append(e.t, milp.Term{Var: t.Var, Coef: t.Coef * coef})
	}
	e.k += o.k * coef
}

func sum(es ...expr) expr {
	var out expr
	for _, e := range es {
		out.plus(e, 1)
	}
	return out
}

// ge adds the row a ≥ b.
func (f *formulation) ge(name string, a, b expr) {
	var d expr
	d.plus(a, 1)
	d.plus(b, -1)
	f.model.AddRow(name, d.t, milp.GE, -d.k)
}

// zAt is z[i][k] as an expression: 1 on the device side (k = 0), 0 past
// the last tier and for the input beyond the device.
func (f *formulation) zAt(i, k int) expr {
	switch {
	case k <= 0:
		return expr{k: 1}
	case k >= len(f.z[i]) || f.z[i][k] < 0:
		return expr{}
	}
	return expr{t: []milp.Term{{Var: f.z[i][k], Coef: 1}}}
}

// at is 1 when unit i runs on exactly tier k.
func (f *formulation) at(i, k int) expr {
	e := f.zAt(i, k)
	e.plus(f.zAt(i, k+1), -1)
	return e
}

// formulate builds the MILP at x = 1/uplink, leaving out the constraint
// groups in drop, step by step: where units run, what crosses each hop,
// the times that follow, the objective, and the limits.
func (p *Problem) formulate(gr Granularity, x float64, drop map[string]bool) *formulation {
	u := p.units(gr)
	n := len(u.name)
	f := &formulation{p: p, u: u, z: make([][]int, n), c: make([][][]encodingVar, n), q: map[[2]int]int{}, t: -1, has: map[string]bool{}}
	f.model.Name = safeName(p.Graph.Name + "_" + string(gr))
	f.addPlacement()
	f.addCrossings(len(p.Constraints.MinAccuracy) > 0 && !drop[ConstraintAccuracy])
	tm := f.times(x)
	f.addObjective(tm, drop)
	f.addLimits(drop)
	return f
}
