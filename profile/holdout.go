package profile

import (
	"fmt"
	"sync"

	"github.com/mtlsplit/mtlsplit/internal/cores"
)

// Holdout is leave-one-backbone-out validation of a calibration: for every
// backbone of a table, the cost model is fitted to the others and predicts
// it — what the planner does for a network it has no measurements of.
type Holdout struct {
	Folds []HoldoutFold
	// MAPEBlock is the mean absolute percentage error over every held-out
	// block and head, as a fraction; MAPEEndToEnd the mean of the absolute
	// end-to-end errors of the held-out backbones.
	MAPEBlock, MAPEEndToEnd float64
}

// HoldoutFold is one backbone predicted by a fit to the others.
type HoldoutFold struct {
	Backbone string
	// MAPEBlock is over the backbone's blocks and heads; EndToEndErr is
	// the signed relative error of its whole-backbone prediction (0 when
	// the table has no end-to-end time for it).
	MAPEBlock, EndToEndErr float64
	Points                 []FitPoint
}

// CalibrateHoldout fits the table once per backbone, leaving that backbone
// out, with the same settings as Calibrate, and predicts the one left out.
// It needs at least two backbones. The fits run in parallel.
func CalibrateHoldout(t *Table, base CostModel) (*Holdout, error) {
	return calibrateHoldout(t, base, defaultStarts)
}

func calibrateHoldout(t *Table, base CostModel, starts int) (*Holdout, error) {
	items, err := fitItems(t)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, it := range items {
		if len(names) == 0 || names[len(names)-1] != it.model {
			names = append(names, it.model) // fitItems groups by backbone
		}
	}
	if len(names) < 2 {
		return nil, fmt.Errorf("calibrate: leave-one-backbone-out needs two backbones or more, the table has %d", len(names))
	}
	all := newFitProblem(items, base, t.Meta.Dtype)
	h := &Holdout{Folds: make([]HoldoutFold, len(names))}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, cores.N())
	for k, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			train := all.subset(func(it fitItem) bool { return it.model != name })
			v, err := train.solve(starts)
			if err != nil {
				errs[k] = err
				return
			}
			v, _, _ = train.settle(v)
			test := all.subset(func(it fitItem) bool { return it.model == name })
			f := HoldoutFold{Backbone: name, Points: train.points(test.items, v)}
			f.MAPEBlock, _ = PointsMAPE(f.Points)
			for _, pt := range f.Points {
				if pt.EndToEnd {
					f.EndToEndErr = (pt.PredictMS - pt.MeasuredMS) / pt.MeasuredMS
				}
			}
			h.Folds[k] = f
		})
	}
	wg.Wait()
	var pooled []FitPoint
	for k, f := range h.Folds {
		if errs[k] != nil {
			return nil, errs[k]
		}
		pooled = append(pooled, f.Points...)
	}
	h.MAPEBlock, h.MAPEEndToEnd = PointsMAPE(pooled)
	return h, nil
}

// BackboneErrors are the in-sample errors of one backbone in a fit: the
// MAPE of its blocks and heads and the signed relative error of its whole
// run, for comparison with a HoldoutFold.
func (f *Fit) BackboneErrors(backbone string) (mapeBlock, endToEndErr float64) {
	var pts []FitPoint
	for _, pt := range f.Points {
		if pt.Model == backbone {
			pts = append(pts, pt)
			if pt.EndToEnd {
				endToEndErr = (pt.PredictMS - pt.MeasuredMS) / pt.MeasuredMS
			}
		}
	}
	mapeBlock, _ = PointsMAPE(pts)
	return mapeBlock, endToEndErr
}
