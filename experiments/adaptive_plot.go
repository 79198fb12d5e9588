package experiments

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// One figure per trace is three panels over the same time axis, which
// results.Figure (one panel) cannot draw: the uplink and the estimate, the
// plan run, and the latency of each request.

var (
	red   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	blue  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	grey  = color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
	green = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
)

// SaveTimeline draws tl to path (.png or .svg). Per-request series are
// reduced to at most one point per second of the run (its mean), so a
// 1000-second trace makes a figure of bounded size.
func SaveTimeline(tl Timeline, path string, overwrite bool) error {
	ext := strings.TrimPrefix(filepath.Ext(path), ".")
	if ext != "png" && ext != "svg" {
		return fmt.Errorf("plot %s: unknown image format %q (valid: .png, .svg)", path, ext)
	}
	end := tl.Trace0.Period().Seconds()
	if n := len(tl.StartS); n > 0 {
		end = min(end, tl.StartS[n-1]+tl.LatencyMS[n-1]/1e3)
	}
	bw, err := bandwidthPanel(tl, end)
	if err != nil {
		return err
	}
	cut, err := cutPanel(tl)
	if err != nil {
		return err
	}
	lat, err := latencyPanel(tl)
	if err != nil {
		return err
	}
	bw.Title.Text = fmt.Sprintf("adaptive split over %s: %s", tl.Trace, tl.Combo)
	for _, p := range []*plot.Plot{bw, cut, lat} {
		p.X.Min, p.X.Max = 0, end
	}
	lat.X.Label.Text = "time (s)"
	w, h := 10*vg.Inch, 9*vg.Inch
	var buf bytes.Buffer
	var dc draw.Canvas
	var writeTo func(io.Writer) (int64, error)
	if ext == "png" {
		img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
		dc = draw.New(img)
		writeTo = vgimg.PngCanvas{Canvas: img}.WriteTo
	} else {
		svg := vgsvg.New(w, h)
		dc = draw.New(svg)
		writeTo = svg.WriteTo
	}
	plots := [][]*plot.Plot{{bw}, {cut}, {lat}}
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8),
		PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, tiles, dc)
	for i, row := range plots {
		row[0].Draw(canvases[i][0])
	}
	if _, err := writeTo(&buf); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes(), overwrite)
}

// perSecond averages ys over the whole seconds of xs (s).
func perSecond(xs, ys []float64) plotter.XYs {
	var out plotter.XYs
	sum, n, sec := 0.0, 0, -1.0
	flush := func() {
		if n > 0 {
			out = append(out, plotter.XY{X: sec + 0.5, Y: sum / float64(n)})
		}
	}
	for i, x := range xs {
		s := math.Floor(x)
		if s != sec {
			flush()
			sum, n, sec = 0, 0, s
		}
		if !math.IsNaN(ys[i]) {
			sum, n = sum+ys[i], n+1
		}
	}
	flush()
	return out
}

func line(p *plot.Plot, name string, pts plotter.XYs, c color.Color, width float64, dashed bool) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color, l.Width = c, vg.Points(width)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// bandwidthPanel: the trace's capacity per second and the edge's estimate.
func bandwidthPanel(tl Timeline, end float64) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = "uplink (Mbps)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	var capacity plotter.XYs
	floor := 0.01 // a second with no opportunity, drawn at the axis' floor
	for s := 0.0; s < end; s++ {
		from, to := time.Duration(s*float64(time.Second)), time.Duration((s+1)*float64(time.Second))
		mbps := float64(tl.Trace0.Opportunities(from, to)) * 1500 * 8 / 1e6
		capacity = append(capacity, plotter.XY{X: s + 0.5, Y: max(mbps, floor)})
	}
	if err := line(p, "trace capacity (1 s)", capacity, grey, 1, false); err != nil {
		return nil, err
	}
	est := perSecond(tl.StartS, tl.EstMbps)
	for i := range est {
		est[i].Y = max(est[i].Y, floor)
	}
	if err := line(p, "edge's estimate", est, red, 1.6, false); err != nil {
		return nil, err
	}
	return p, nil
}

// cutPanel: the switch-table row each request ran, labelled by its plan.
func cutPanel(tl Timeline) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = "plan run"
	p.Add(plotter.NewGrid())
	var pts plotter.XYs
	for i, s := range tl.StartS {
		y := float64(tl.Row[i])
		if len(pts) > 0 {
			pts = append(pts, plotter.XY{X: s, Y: pts[len(pts)-1].Y})
		}
		pts = append(pts, plotter.XY{X: s, Y: y})
	}
	if err := line(p, "adaptive", pts, blue, 1.2, false); err != nil {
		return nil, err
	}
	var ticks []plot.Tick
	used := map[int]bool{}
	for _, r := range tl.Row {
		used[r] = true
	}
	for i, l := range tl.Labels {
		if used[i] {
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: l})
		}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.5, float64(len(tl.Labels))-0.5
	return p, nil
}

// latencyPanel: each request's latency (mean per second), adaptive and the
// best fixed plan.
func latencyPanel(tl Timeline) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = "latency (ms, mean per s)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	if err := line(p, "adaptive", perSecond(tl.StartS, tl.LatencyMS), red, 1.4, false); err != nil {
		return nil, err
	}
	if err := line(p, "best fixed plan", perSecond(tl.BestStartS, tl.BestFixedMS), green, 1, true); err != nil {
		return nil, err
	}
	return p, nil
}
