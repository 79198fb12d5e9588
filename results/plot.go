package results

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
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
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	switch ext {
	case "png", "svg", "pdf":
	default:
		return fmt.Errorf("plot %s: unknown image format %q (valid: .png, .svg, .pdf)", path, ext)
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

// LogSpace returns n points from lo to hi evenly spaced in log scale.
func LogSpace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo * math.Pow(hi/lo, float64(i)/float64(n-1))
	}
	out[n-1] = hi
	return out
}
