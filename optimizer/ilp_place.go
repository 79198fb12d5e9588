package optimizer

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/milp"
)

// addPlacement adds z, the tier of every unit.
func (f *formulation) addPlacement() {
	p, u, m := f.p, f.u, &f.model
	nk, n := p.numTiers(), len(u.name)
	// Placement: z monotone over tiers, and no tensor goes back towards
	// the device.
	for i := range u.name {
		f.z[i] = make([]int, nk)
		for k := 1; k < nk; k++ {
			f.z[i][k] = -1
			if i > 0 {
				f.z[i][k] = m.AddBinary(fmt.Sprintf("z_%d_%d_%s", i, k, safeName(u.name[i])))
			}
		}
		for k := 1; k+1 < nk && i > 0; k++ {
			f.ge(fmt.Sprintf("mono_%d_%d", i, k), f.zAt(i, k), f.zAt(i, k+1))
		}
	}
	for i := 1; i < n; i++ {
		for _, c := range u.consumers[i] {
			for k := 1; k < nk; k++ {
				f.ge(fmt.Sprintf("prec_%d_%d_%d", i, c, k), f.zAt(c, k), f.zAt(i, k))
			}
		}
	}
}

// addCrossings adds c, the encoding of every tensor crossing a hop, and y,
// whether a hop carries anything; with floors, a lossy encoding whose
// accuracy is below a floor is fixed to 0.
func (f *formulation) addCrossings(floors bool) {
	p, u, m := f.p, f.u, &f.model
	nk, n := p.numTiers(), len(u.name)
	// Crossing tensors, one encoding each per hop.
	for h := 1; h < nk; h++ {
		f.y = append(f.y, m.AddBinary(fmt.Sprintf("y_hop%d", h)))
	}
	for i := range u.name {
		f.c[i] = make([][]encodingVar, nk-1)
		if len(u.consumers[i]) == 0 {
			continue
		}
		encs := p.Encodings
		if i == 0 {
			encs = []codec.Encoding{codec.Raw}
		}
		for h := 1; h < nk; h++ {
			var all expr
			for _, e := range encs {
				if _, ok := p.tensorBytes(u, i, e); !ok {
					continue // a lossless stage with no measured size here
				}
				hi := 1.0
				if floors && !p.meetsFloors(u, i, e) {
					hi = 0
					f.has[ConstraintAccuracy] = true
				}
				v := m.AddVar(fmt.Sprintf("c_%d_h%d_%s_%s", i, h, safeName(string(e)), safeName(u.name[i])), 0, hi, true)
				f.c[i][h-1] = append(f.c[i][h-1], encodingVar{e, v})
				all.add(v, 1)
			}
			// With only lossless-stage encodings most tensors have no
			// measured size: no variable, so no row, and the cross rows
			// below keep their consumers on this side.
			if len(all.t) > 0 {
				m.AddRow(fmt.Sprintf("one_enc_%d_h%d", i, h), all.t, milp.LE, 1)
			}
			for _, c := range u.consumers[i] {
				need := f.zAt(c, h)
				need.plus(f.zAt(i, h), -1)
				f.ge(fmt.Sprintf("cross_%d_%d_h%d", i, c, h), all, need)
			}
		}
	}
	// A hop carries something exactly when a sink (a result, or a unit
	// nobody reads) lies beyond it: every unit past a boundary has a sink
	// past it, since nothing comes back.
	for i := 1; i < n; i++ {
		if len(u.consumers[i]) == 0 {
			for h := 1; h < nk; h++ {
				f.ge(fmt.Sprintf("send_%d_h%d", i, h), expr{t: []milp.Term{{Var: f.y[h-1], Coef: 1}}}, f.zAt(i, h))
			}
		}
	}
}
