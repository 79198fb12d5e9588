package optimizer

// candidate reads a solution back as a placement and costs it with the
// shared cost model.
func (f *formulation) candidate(x []float64) candidate {
	u, nk := f.u, f.p.numTiers()
	pl := newPlacement(len(u.name), nk)
	for i := range u.name {
		for k := 1; k < nk; k++ {
			if v := f.z[i][k]; v >= 0 && x[v] > 0.5 {
				pl.Tier[i]++
			}
		}
	}
	for i := range u.name {
		for h := 1; h < nk; h++ {
			if !u.crosses(pl, i, h) {
				continue
			}
			for _, ev := range f.c[i][h-1] {
				if x[ev.v] > 0.5 {
					pl.Encoding[i][h-1] = ev.enc
				}
			}
		}
	}
	return f.p.candidateOf(u, pl, 0)
}

// start is the MILP point of a candidate placed on f's units (nil if the
// placement does not fit them): a warm start for the solver.
func (f *formulation) start(cd *candidate, x float64) []float64 {
	u := f.u
	pl := u.fromPlacement(cd.placement(f.p), f.p.numTiers())
	v := make([]float64, len(f.model.Vars))
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for i := range u.name {
		for k := 1; k < len(f.z[i]); k++ {
			if f.z[i][k] >= 0 {
				v[f.z[i][k]] = b2f(pl.Tier[i] >= k)
			}
		}
		for h, evs := range f.c[i] {
			for _, ev := range evs {
				if pl.Encoding[i][h] == ev.enc {
					v[ev.v], v[f.y[h]] = 1, 1
				}
			}
		}
	}
	for t := range u.heads {
		for _, i := range u.heads[t] {
			for k := range f.y {
				if q, ok := f.q[[2]int{i, k}]; ok {
					v[q] = b2f(pl.Tier[i] == k && pl.Tier[u.last(t)] == k)
				}
			}
		}
	}
	const slack = 1 + 1e-9
	if f.t >= 0 {
		v[f.t] = maxAt(cd.tasks, x) * slack
	}
	for t, tv := range f.tt {
		v[tv] = cd.tasks[t].at(x) * slack
	}
	return v
}

// layerStart is the exhaustive block-level optimum, placed on the layer
// units, to warm-start the layer-level MILP (nil when there is none, or
// more tiers).
func (p *Problem) layerStart(f *formulation, x float64) []float64 {
	if p.numTiers() != 2 {
		return nil
	}
	feasible, _ := p.candidates()
	best := p.bestAt(feasible, x)
	if best == nil {
		return nil
	}
	cd := p.candidateOf(f.u, f.u.fromPlacement(best.placement(p), 2), 0)
	return f.start(&cd, x)
}
