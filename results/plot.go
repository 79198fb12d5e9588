package results

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// Series is one named curve.
type Series struct {
	Name string
	X, Y []float64
	// Dashed draws the curve dashed (for baselines).
	Dashed bool
	// Points draws the values as unconnected markers (a scatter) instead
	// of a curve.
	Points bool
	// Lower and Upper, when set (one value per X), shade the band the curve
	// is expected to lie in, e.g. a latency prediction's error; NaN leaves
	// a gap.
	Lower, Upper []float64
}

// Figure is a line chart, optionally with a logarithmic x axis and vertical
// markers (e.g. bandwidth breakpoints).
type Figure struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	Markers               []float64
}

var palette = []color.Color{
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // optimum: red
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// Save renders the figure to path; the extension (.png, .svg, .pdf) picks
// the format. The file is written atomically and an existing one is kept
// unless overwrite is set.
func (f Figure) Save(path string, overwrite bool) error {
	if _, err := format(path); err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = f.Title
	p.X.Label.Text = f.XLabel
	p.Y.Label.Text = f.YLabel
	if f.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if f.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, s := range f.Series {
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if j < len(s.Y) && !math.IsNaN(s.Y[j]) && !math.IsInf(s.Y[j], 0) {
				pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
				ymin, ymax = min(ymin, s.Y[j]), max(ymax, s.Y[j])
			}
		}
		if len(pts) == 0 {
			continue
		}
		bands, lo, hi, err := bandPolygons(s, f.LogY, palette[i%len(palette)])
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		for _, b := range bands {
			p.Add(b)
		}
		if len(bands) > 0 {
			ymin, ymax = min(ymin, lo), max(ymax, hi)
			p.Legend.Add(s.Name+": expected range", bands[0])
		}
		if s.Points {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", s.Name, err)
			}
			sc.Color = palette[i%len(palette)]
			sc.Radius = vg.Points(2.5)
			p.Add(sc)
			p.Legend.Add(s.Name, sc)
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.2)
		if i == 0 {
			l.Width = vg.Points(2.4)
		}
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	for _, m := range f.Markers {
		if math.IsInf(ymin, 0) {
			break
		}
		v, err := plotter.NewLine(plotter.XYs{{X: m, Y: ymin}, {X: m, Y: ymax}})
		if err != nil {
			return err
		}
		v.Color = color.Gray{Y: 0x80}
		v.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(v)
	}
	return save(p, path, overwrite)
}

// format is path's image format, from its extension.
func format(path string) (string, error) {
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	switch ext {
	case "png", "svg", "pdf":
		return ext, nil
	}
	return "", fmt.Errorf("plot %s: unknown image format %q (valid: .png, .svg, .pdf)", path, ext)
}

// save renders p at 8×5 inches in path's format, atomically.
func save(p *plot.Plot, path string, overwrite bool) error {
	ext, err := format(path)
	if err != nil {
		return err
	}
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, ext)
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes(), overwrite)
}

// bandPolygons shades a series' band: one translucent polygon per run of
// points where both bounds are drawable (positive on a log axis, so a gap
// in the curve is a gap in the band), with the extent of what it drew.
func bandPolygons(s Series, logY bool, c color.Color) ([]*plotter.Polygon, float64, float64, error) {
	if len(s.Lower) == 0 {
		return nil, 0, 0, nil
	}
	if len(s.Lower) != len(s.X) || len(s.Upper) != len(s.X) {
		return nil, 0, 0, fmt.Errorf("band of %d lower and %d upper values for %d points", len(s.Lower), len(s.Upper), len(s.X))
	}
	drawable := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && (!logY || v > 0) }
	r, g, b, _ := c.RGBA()
	fill := color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x40}
	var out []*plotter.Polygon
	lo, hi := math.Inf(1), math.Inf(-1)
	flush := func(upper, lower plotter.XYs) error {
		if len(upper) < 2 {
			return nil
		}
		slices.Reverse(lower)
		poly, err := plotter.NewPolygon(append(upper, lower...))
		if err != nil {
			return err
		}
		poly.Color, poly.LineStyle.Width = fill, 0
		out = append(out, poly)
		return nil
	}
	var upper, lower plotter.XYs
	for j, x := range s.X {
		if drawable(s.Lower[j]) && drawable(s.Upper[j]) {
			upper, lower = append(upper, plotter.XY{X: x, Y: s.Upper[j]}), append(lower, plotter.XY{X: x, Y: s.Lower[j]})
			lo, hi = min(lo, s.Lower[j]), max(hi, s.Upper[j])
			continue
		}
		if err := flush(upper, lower); err != nil {
			return nil, 0, 0, err
		}
		upper, lower = nil, nil
	}
	if err := flush(upper, lower); err != nil {
		return nil, 0, 0, err
	}
	return out, lo, hi, nil
}

// LogSpace returns n points from lo to hi evenly spaced in log scale.
func LogSpace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo * math.Pow(hi/lo, float64(i)/float64(n-1))
	}
	out[n-1] = hi
	return out
}
