package stackfit

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LOOFile is where the leave-one-out predictions live in the source tree,
// beside the published table.
const LOOFile = "hwprofiles/published/loo.csv"

// GoalModels are the networks the catalog must predict within GoalErr,
// left out, on every device–stack pair with published rows.
var GoalModels = []string{"resnet18", "vgg16", "mobilenet_v3_small", "efficientnet_b0"}

// GoalErr is the largest acceptable leave-one-out error.
const GoalErr = 0.30

// Prediction is one published row against the fit's predictions.
type Prediction struct {
	Row, Device, Stack, Model, Precision   string
	PublishedMS, InSampleMS, LeaveOneOutMS float64
}

// LOOErr is the signed relative leave-one-out error.
func (p Prediction) LOOErr() float64 { return (p.LeaveOneOutMS - p.PublishedMS) / p.PublishedMS }

var looColumns = []string{"row", "device", "stack", "model", "precision", "published_ms", "in_sample_ms", "leave_one_out_ms"}

// Predictions pairs every fitted row with its predictions.
func (r *Result) Predictions() []Prediction {
	var out []Prediction
	k := 0
	for _, row := range r.Rows {
		if row.Excluded != "" {
			continue
		}
		p := Prediction{Row: row.Row, Device: boards[row.Setup.board].device, Stack: row.Setup.group(), Model: row.Model,
			Precision: row.Setup.precision, PublishedMS: row.LatencyMS, InSampleMS: r.Fit.InSample[k].PredictMS}
		if r.Fit.LeaveOneOut != nil {
			p.LeaveOneOutMS = r.Fit.LeaveOneOut[k].PredictMS
		}
		out = append(out, p)
		k++
	}
	return out
}

// WriteLOO writes predictions as CSV (4 significant digits).
func WriteLOO(w io.Writer, preds []Prediction) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(looColumns); err != nil {
		return err
	}
	for _, p := range preds {
		if err := cw.Write([]string{p.Row, p.Device, p.Stack, p.Model, p.Precision, g4(p.PublishedMS), g4(p.InSampleMS), g4(p.LeaveOneOutMS)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadLOO reads what WriteLOO wrote.
func ReadLOO(r io.Reader) ([]Prediction, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", LOOFile, err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], looColumns) {
		return nil, fmt.Errorf("%s: header must be %s", LOOFile, strings.Join(looColumns, ","))
	}
	var out []Prediction
	for i, rec := range recs[1:] {
		p := Prediction{Row: rec[0], Device: rec[1], Stack: rec[2], Model: rec[3], Precision: rec[4]}
		for j, dst := range []*float64{&p.PublishedMS, &p.InSampleMS, &p.LeaveOneOutMS} {
			if *dst, err = strconv.ParseFloat(rec[5+j], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", LOOFile, i+2, looColumns[5+j], err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// stackGroups lists the fit groups of preds in first-seen order, sorted.
func stackGroups(preds []Prediction) []string {
	var gs []string
	for _, p := range preds {
		if !slices.Contains(gs, p.Stack) {
			gs = append(gs, p.Stack)
		}
	}
	slices.Sort(gs)
	return gs
}

// Markdown renders the README's tables from predictions: the error per
// stack, in sample and left out, then every row of the goal models.
func Markdown(preds []Prediction) string {
	var b strings.Builder
	b.WriteString("| stack (fit group) | rows | in-sample MAPE | leave-one-out MAPE | rows within ±30% left out |\n|---|---:|---:|---:|---:|\n")
	var all, allIn []float64
	for _, g := range stackGroups(preds) {
		var loo, in []float64
		ok := 0
		for _, p := range preds {
			if p.Stack != g {
				continue
			}
			e := math.Abs(p.LOOErr())
			loo = append(loo, e)
			in = append(in, math.Abs(p.InSampleMS-p.PublishedMS)/p.PublishedMS)
			if e <= GoalErr {
				ok++
			}
		}
		all, allIn = append(all, loo...), append(allIn, in...)
		fmt.Fprintf(&b, "| %s | %d | %.0f%% | %.0f%% | %d/%d |\n", g, len(loo), 100*mean(in), 100*mean(loo), ok, len(loo))
	}
	fmt.Fprintf(&b, "| **all** | %d | %.0f%% | %.0f%% | |\n", len(all), 100*mean(allIn), 100*mean(all))
	b.WriteString("\nResNet-18, VGG-16, MobileNetV3-Small and EfficientNet-B0, every published row, predicted by a fit without it:\n\n")
	b.WriteString("| row | device | stack | model | published ms | predicted ms | error | |\n|---|---|---|---|---:|---:|---:|---|\n")
	ok, n := 0, 0
	for _, p := range preds {
		if !slices.Contains(GoalModels, p.Model) {
			continue
		}
		n++
		mark := "ok"
		if math.Abs(p.LOOErr()) > GoalErr {
			mark = "**miss**"
		} else {
			ok++
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s %s | %s | %s | %+.0f%% | %s |\n", p.Row, p.Device, p.Stack, p.Model, p.Precision,
			g4(p.PublishedMS), g4(p.LeaveOneOutMS), 100*p.LOOErr(), mark)
	}
	fmt.Fprintf(&b, "\nWithin ±%.0f%% left out: %d of %d rows.\n", 100*GoalErr, ok, n)
	return b.String()
}
