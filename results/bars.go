package results

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// BarSeries is one named set of bars, one value per category, with an
// optional error (± half-length of a whisker; NaN or none: no whisker).
type BarSeries struct {
	Name   string
	Values []float64
	Errors []float64
}

// BarChart is grouped bars: one group per category, one bar per series.
type BarChart struct {
	Title, YLabel string
	Categories    []string
	Series        []BarSeries
	// HLine, if not NaN or zero, draws a dashed horizontal reference line
	// (e.g. 1× for a speed-up).
	HLine float64
}

// Save renders the chart to path (.png, .svg or .pdf), atomically; an
// existing file is kept unless overwrite is set.
func (b BarChart) Save(path string, overwrite bool) error {
	if _, err := format(path); err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = b.Title
	p.Y.Label.Text = b.YLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	n := len(b.Series)
	// Bars sit at data x = category + offset, so whiskers line up exactly;
	// their drawn width (in points) is sized for an 8-inch figure.
	step := 0.8 / float64(max(1, n))
	width := vg.Points(min(40, 420/float64(max(1, n*len(b.Categories)))))
	for i, s := range b.Series {
		if len(s.Values) != len(b.Categories) {
			return fmt.Errorf("plot %s: %d values for %d categories", s.Name, len(s.Values), len(b.Categories))
		}
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			if !math.IsNaN(v) {
				vals[j] = v
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		bars.XMin = step * (float64(i) - float64(n-1)/2)
		p.Add(bars)
		p.Legend.Add(s.Name, bars)
		if len(s.Errors) == len(s.Values) {
			var pts []struct{ X, Y, Low, High float64 }
			for j, e := range s.Errors {
				if !math.IsNaN(e) && e > 0 {
					pts = append(pts, struct{ X, Y, Low, High float64 }{float64(j) + bars.XMin, vals[j], e, e})
				}
			}
			if len(pts) > 0 {
				xys := make(plotter.XYs, len(pts))
				errs := make(plotter.YErrors, len(pts))
				for k, q := range pts {
					xys[k] = plotter.XY{X: q.X, Y: q.Y}
					errs[k] = struct{ Low, High float64 }{q.Low, q.High}
				}
				eb, err := plotter.NewYErrorBars(struct {
					plotter.XYs
					plotter.YErrors
				}{xys, errs})
				if err != nil {
					return fmt.Errorf("plot %s: %w", s.Name, err)
				}
				p.Add(eb)
			}
		}
	}
	if b.HLine != 0 && !math.IsNaN(b.HLine) {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: b.HLine}, {X: float64(len(b.Categories)) - 0.5, Y: b.HLine}})
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
	}
	p.NominalX(b.Categories...)
	// The offset bars of the outer groups stay inside the axes.
	p.X.Min, p.X.Max = -0.5, float64(len(b.Categories))-0.5
	// Head room above the tallest bar for the legend.
	top := 0.0
	for _, s := range b.Series {
		for j, v := range s.Values {
			if j < len(s.Errors) && !math.IsNaN(s.Errors[j]) {
				v += s.Errors[j]
			}
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	if top > 0 {
		p.Y.Max = max(p.Y.Max, 1.1*top+0.08*float64(len(b.Series))*top)
	}
	return save(p, path, overwrite)
}
