// Command fidelityreport summarizes the logs of scripts/runtime-fidelity.sh:
// per phase (before, after calibration) and uplink, the median measured time
// of every stage against the plan's prediction, as a CSV, a markdown table
// (table.md, for the READMEs) and a figure per phase (PNG and SVG) with the
// predicted ±10% shaded around each measured stage.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mtlsplit/mtlsplit/profile"
	"github.com/mtlsplit/mtlsplit/results"
)

var stages = []string{"edge", "network", "server", "total"}

// row is one log's medians.
type row struct {
	phase     string
	mbps      float64
	n         int
	load      string // the 1-minute load average as its rounds started, mean ("": not recorded)
	measured  map[string]float64
	predicted map[string]float64
}

func (r row) err(stage string) float64 {
	return (r.predicted[stage] - r.measured[stage]) / r.measured[stage]
}

func main() {
	logs := flag.String("logs", "results/runtime-fidelity/logs", "directory of PHASE_BWmbps.jsonl run logs")
	out := flag.String("out", "results/runtime-fidelity", "where the CSV, table and figures go")
	flag.Parse()
	if err := report(*logs, *out); err != nil {
		fmt.Fprintln(os.Stderr, "fidelityreport:", err)
		os.Exit(1)
	}
}

func report(logs, out string) error {
	paths, err := filepath.Glob(filepath.Join(logs, "*mbps.jsonl"))
	if err != nil {
		return err
	}
	name := regexp.MustCompile(`^(\w+)_([0-9.]+)mbps\.jsonl$`)
	var rows []row
	before := map[float64][]profile.RuntimeRecord{}
	for _, p := range paths {
		m := name.FindStringSubmatch(filepath.Base(p))
		if m == nil {
			continue
		}
		mbps, _ := strconv.ParseFloat(m[2], 64)
		recs, err := profile.LoadRuntimeLog(p)
		if err != nil {
			return err
		}
		rows = append(rows, medians(m[1], mbps, recs))
		if m[1] == "before" {
			before[mbps] = recs
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("no PHASE_BWmbps.jsonl logs in %s", logs)
	}
	if b, err := os.ReadFile(filepath.Join(logs, "load.csv")); err == nil {
		recs, _ := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		for i := range rows {
			// The mean over the rounds of this phase and uplink.
			sum, n := 0.0, 0
			for _, l := range recs {
				if len(l) == 3 && l[0] == rows[i].phase && l[1] == strconv.FormatFloat(rows[i].mbps, 'g', -1, 64) {
					if v, err := strconv.ParseFloat(l[2], 64); err == nil {
						sum, n = sum+v, n+1
					}
				}
			}
			if n > 0 {
				rows[i].load = strconv.FormatFloat(sum/float64(n), 'f', 1, 64)
			}
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.phase != b.phase {
			return strings.Compare(b.phase, a.phase) // before, then after
		}
		return int(a.mbps - b.mbps)
	})
	if err := writeCSV(filepath.Join(out, "fidelity.csv"), rows); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "table.md"), []byte(table(rows)), 0o644); err != nil {
		return err
	}
	fmt.Print(table(rows))
	if fit, ok := inSample(before); ok {
		if err := os.WriteFile(filepath.Join(out, "insample.md"), []byte(fit), 0o644); err != nil {
			return err
		}
		fmt.Print(fit)
	}
	for _, phase := range []string{"before", "after"} {
		var sel []row
		for _, r := range rows {
			if r.phase == phase {
				sel = append(sel, r)
			}
		}
		if len(sel) == 0 {
			continue
		}
		f := results.Figure{Title: "Measured median per stage (lines) against predicted ±10% (bands), " + phase + " calibration",
			XLabel: "emulated uplink (Mbps, constant-rate Mahimahi trace)", YLabel: "ms", LogX: true, LogY: true}
		for _, st := range stages {
			s := results.Series{Name: st}
			for _, r := range sel {
				s.X = append(s.X, r.mbps)
				s.Y = append(s.Y, r.measured[st])
				s.Lower = append(s.Lower, 0.9*r.predicted[st])
				s.Upper = append(s.Upper, 1.1*r.predicted[st])
			}
			f.Series = append(f.Series, s)
		}
		for _, ext := range []string{"png", "svg"} {
			if err := f.Save(filepath.Join(out, "fidelity_"+phase+"."+ext), true); err != nil {
				return err
			}
		}
	}
	return nil
}

// medians of the records that sent as planned.
func medians(phase string, mbps float64, recs []profile.RuntimeRecord) row {
	r := row{phase: phase, mbps: mbps, measured: map[string]float64{}, predicted: map[string]float64{}}
	vals := map[string][]float64{}
	for _, rec := range recs {
		if rec.Fallback || *rec.Bytes == 0 {
			continue
		}
		r.n++
		m, p := rec.Measured, rec.Predicted
		for i, v := range []*float64{m.EdgeMS, m.NetworkMS, m.ServerMS, m.TotalMS} {
			vals[stages[i]] = append(vals[stages[i]], *v)
		}
		for i, v := range []*float64{p.EdgeMS, p.NetworkMS, p.ServerMS, p.TotalMS} {
			r.predicted[stages[i]] = *v // one plan per log: the same on every line
		}
	}
	for _, st := range stages {
		v := vals[st]
		slices.Sort(v)
		switch {
		case len(v) == 0:
			r.measured[st] = math.NaN()
		case len(v)%2 == 1:
			r.measured[st] = v[len(v)/2]
		default:
			r.measured[st] = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
	}
	return r
}

func writeCSV(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"phase", "uplink_mbps", "n", "stage", "measured_median_ms", "predicted_ms", "error_pct", "load_avg_1min"})
	for _, r := range rows {
		for _, st := range stages {
			w.Write([]string{r.phase, strconv.FormatFloat(r.mbps, 'g', -1, 64), strconv.Itoa(r.n), st,
				strconv.FormatFloat(r.measured[st], 'f', 3, 64), strconv.FormatFloat(r.predicted[st], 'f', 3, 64),
				strconv.FormatFloat(100*r.err(st), 'f', 1, 64), r.load})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// table is the markdown table: per uplink, each stage's median error,
// (predicted − measured) / measured, before → after calibration.
func table(rows []row) string {
	var b strings.Builder
	b.WriteString("| uplink Mbps | edge | network | server | total | load avg |\n|---:|---:|---:|---:|---:|---:|\n")
	after := map[float64]row{}
	for _, r := range rows {
		if r.phase == "after" {
			after[r.mbps] = r
		}
	}
	for _, r := range rows {
		if r.phase != "before" {
			continue
		}
		fmt.Fprintf(&b, "| %g |", r.mbps)
		for _, st := range stages {
			cell := fmt.Sprintf(" %+.0f%%", 100*r.err(st))
			if a, ok := after[r.mbps]; ok {
				cell += fmt.Sprintf(" → **%+.0f%%**", 100*a.err(st))
			}
			b.WriteString(cell + " |")
		}
		load := r.load
		if a, ok := after[r.mbps]; ok && a.load != "" {
			load += " → " + a.load
		}
		b.WriteString(" " + load + " |\n")
	}
	return b.String()
}

// inSample is a markdown table of the terms fitted to every before-log,
// applied to those same records at the idle gaps each measured: per
// uplink, the median of (predicted − measured) / measured per stage. It
// tells the model's fit apart from the load changing between the before
// and after runs (ok is false without before-logs or a fit).
func inSample(before map[float64][]profile.RuntimeRecord) (string, bool) {
	var all []profile.RuntimeRecord
	var bws []float64
	for bw, recs := range before {
		all = append(all, recs...)
		bws = append(bws, bw)
	}
	slices.Sort(bws)
	fit, err := profile.FitRuntime(all)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.WriteString("| uplink Mbps | edge | network | server | total |\n|---:|---:|---:|---:|---:|\n")
	for _, bw := range bws {
		errs := make([][]float64, 4)
		for _, r := range before[bw] {
			if r.Fallback || r.Unpredicted || *r.Bytes == 0 {
				continue
			}
			t, e, n, sv := fit.Apply(r)
			for i, v := range [][2]float64{{e, *r.Measured.EdgeMS}, {n, *r.Measured.NetworkMS}, {sv, *r.Measured.ServerMS}, {t, *r.Measured.TotalMS}} {
				if v[1] > 0 {
					errs[i] = append(errs[i], (v[0]-v[1])/v[1])
				}
			}
		}
		fmt.Fprintf(&b, "| %g |", bw)
		for _, e := range errs {
			slices.Sort(e)
			if len(e) == 0 {
				b.WriteString(" - |")
				continue
			}
			fmt.Fprintf(&b, " %+.0f%% |", 100*(e[(len(e)-1)/2]+e[len(e)/2])/2)
		}
		b.WriteString("\n")
	}
	return b.String(), true
}
