package experiments

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
)

// AdaptiveCSV is the comparison as CSV, one row per trace, combo and
// strategy.
func AdaptiveCSV(rows []AdaptiveRow) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"trace", "trace_mean_mbps", "model", "device", "server", "strategy", "plan", "requests", "mean_ms", "p95_ms", "p99_ms",
		"switches_per_min", "table_rows"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for _, r := range rows {
		w.Write([]string{r.Trace, strconv.FormatFloat(r.TraceMeanMbps, 'f', 3, 64), r.Combo.Model, r.Combo.Device, r.Combo.Server, r.Strategy,
			r.Plan, strconv.Itoa(r.Requests), f(r.MeanMS), f(r.P95MS), f(r.P99MS), strconv.FormatFloat(r.SwitchesPerMin, 'f', 2, 64),
			strconv.Itoa(r.FixedPlansSimulate)})
	}
	w.Flush()
	return buf.Bytes()
}

// figureName is the file stem of a trace's figure.
func figureName(trace string) string {
	return "timeline_" + strings.TrimSuffix(trace, filepath.Ext(trace))
}

// AdaptiveFiles lists what WriteAdaptive writes for traces, so that a
// caller can refuse to overwrite before simulating.
func AdaptiveFiles(traces []string) []string {
	out := []string{"adaptive.csv", "README.md"}
	for _, t := range traces {
		out = append(out, figureName(t)+".png", figureName(t)+".svg")
	}
	return out
}

// WriteAdaptive writes adaptive.csv, a timeline figure per trace and
// README.md into dir, returning the paths written. A trace's figure shows
// the combo whose adaptive edge switched most there (the first on a tie):
// the one where adapting is at stake.
func WriteAdaptive(dir string, a Adaptive, rows []AdaptiveRow, lines []Timeline, overwrite bool) ([]string, error) {
	var written []string
	save := func(name string, data []byte) error {
		path := filepath.Join(dir, name)
		written = append(written, path)
		return atomicfile.Write(path, data, overwrite)
	}
	if err := save("adaptive.csv", AdaptiveCSV(rows)); err != nil {
		return nil, err
	}
	for _, tl := range figureTimelines(lines) {
		for _, ext := range []string{".png", ".svg"} {
			path := filepath.Join(dir, figureName(tl.Trace)+ext)
			if err := SaveTimeline(tl, path, overwrite); err != nil {
				return nil, err
			}
			written = append(written, path)
		}
	}
	if err := save("README.md", AdaptiveSummary(a, rows, lines)); err != nil {
		return nil, err
	}
	return written, nil
}

// figureTimelines picks one timeline per trace, in trace order.
func figureTimelines(lines []Timeline) []Timeline {
	var out []Timeline
	best := map[string]int{}
	for _, tl := range lines {
		i, ok := best[tl.Trace]
		if !ok {
			best[tl.Trace] = len(out)
			out = append(out, tl)
			continue
		}
		if tl.Switches() > out[i].Switches() {
			out[i] = tl
		}
	}
	return out
}

// AdaptiveSummary is the README section: the setup, a table per trace and
// the verdict against the goal, as the numbers say.
func AdaptiveSummary(a Adaptive, rows []AdaptiveRow, lines []Timeline) []byte {
	shown := map[string]Combo{}
	for _, tl := range figureTimelines(lines) {
		shown[tl.Trace] = tl.Combo
	}
	var b bytes.Buffer
	ps := a.Policy
	fmt.Fprintf(&b, "# Adaptive split over real cellular uplinks\n\n")
	fmt.Fprintf(&b, "Made by `mtlsplit experiment adaptive` (trace-driven, virtual time, deterministic). Requests go back to back "+
		"for each trace's length; a request's compute times are the cost model's for its plan (tasks %s, %d px, encodings %s); "+
		"its uplink transfer crosses the trace's packet schedule (`linkemu`), after the RTT/2 and downlink of the trace's network "+
		"(`4g` for the LTE traces, `3g` for the others). The adaptive edge estimates the uplink from its own transfers "+
		"(`adapt.Estimator`: the throughputs of its last %d transfer(s), each over the transfer's last half, `adapt.Tail`, the link as it "+
		"is when the transfer ends rather than averaged over an outage the transfer sat through; a %d KiB probe after %v without one) and picks the row of "+
		"the plan's switch table with the lowest expected latency over those samples: the mean of the row's cost-model latency at "+
		"each sample, not the latency at one point estimate (`adapt.Policy`). It leaves its row only for one expected to be faster "+
		"than the current one with every sample divided by %g for a row that sends more, by %g for one that sends less (a %g%% hysteresis), "+
		"%s, and not within %v of its last switch.\n\n",
		joinInts(a.Tasks), a.Input, joinEncs(a), ps.Window, ps.ProbeBytes/1024, ps.ProbeAfter, 1+ps.HysteresisPct/100, 1-ps.HysteresisPct/100, ps.HysteresisPct,
		riskText(ps.RiskQuantile), ps.Dwell)
	g := TuneGrid
	fmt.Fprintf(&b, "The policy is one setting for every trace and choice, tuned by `mtlsplit experiment adaptive --tune` "+
		"(tuning.csv): windows %s, hysteresis %s %%, dwell %s, risk quantile %s (0: no risk check), probe after %s, probe %s KiB. "+
		"The rule follows the goal (no worse than the "+
		"best fixed plan on every trace): the setting with the lowest worst-case ratio of adaptive's mean latency to the best "+
		"fixed plan's over all traces and choices (ties: the lower geometric mean ratio, then the longer dwell, then the larger "+
		"window). It is tuned on the traces it is judged on: an in-sample choice.\n\n",
		joinInts(g.Windows), joinFloats(g.Hysteresis), joinDurations(g.Dwells), joinFloats(g.Risk), joinDurations(g.ProbeAfter), joinKiB(g.ProbeBytes))
	fmt.Fprintf(&b, "Strategies: **adaptive**; **best-fixed**, the best single row of the switch table run over the whole trace "+
		"(in hindsight); **mean-bandwidth-plan**, the row for the trace's mean uplink; **local-only**; **remote-only** (the image "+
		"to the server). Latencies in ms; switches per minute of the adaptive edge.\n\n")
	var traces []string
	for _, r := range rows {
		if len(traces) == 0 || traces[len(traces)-1] != r.Trace {
			traces = append(traces, r.Trace)
		}
	}
	for _, t := range traces {
		var mean float64
		for _, r := range rows {
			if r.Trace == t {
				mean = r.TraceMeanMbps
			}
		}
		fmt.Fprintf(&b, "## %s (mean %.2f Mbps)\n\n![timeline of %s](%s.png)\n\n", t, mean, shown[t], figureName(t))
		fmt.Fprintf(&b, "The figure shows %s, the choice whose adaptive edge switched most on this trace: the trace's capacity per "+
			"second with the edge's estimate, the plan each request ran, and latency (mean per second) against the best fixed plan.\n\n", shown[t])
		fmt.Fprintf(&b, "| model, device → server | strategy | plan | mean | p95 | p99 | switches/min |\n|---|---|---|---:|---:|---:|---:|\n")
		for _, r := range rows {
			if r.Trace != t {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %.1f | %.1f | %.2f |\n", r.Combo, r.Strategy, r.Plan, r.MeanMS, r.P95MS, r.P99MS, r.SwitchesPerMin)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Against the goal\n\n")
	b.WriteString("Goal (issue 11): adaptive's mean latency no worse than the best fixed plan's on every trace, better on the driving traces.\n\n")
	b.WriteString("| trace | model, device → server | adaptive / best fixed (mean) | adaptive / best fixed (p95) | verdict |\n|---|---|---:|---:|---|\n")
	worse, better, n := 0, 0, 0
	for i := 0; i+1 < len(rows); i++ {
		ad, bf := rows[i], rows[i+1]
		if ad.Strategy != StratAdaptive || bf.Strategy != StratBestFixed {
			continue
		}
		n++
		ratio := ad.MeanMS / bf.MeanMS
		verdict := "equal"
		switch {
		case ratio > 1+1e-9:
			verdict, worse = "**worse**", worse+1
		case ratio < 1-1e-9:
			verdict, better = "better", better+1
		}
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %s |\n", ad.Trace, ad.Combo, ratio, ad.P95MS/bf.P95MS, verdict)
	}
	fmt.Fprintf(&b, "\nAdaptive is better than the best fixed plan in %d of %d cases, equal in %d, worse in %d.\n", better, n, n-better-worse, worse)
	return b.Bytes()
}

func joinInts(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ",")
}

func joinFloats(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'g', -1, 64))
	}
	return strings.Join(s, ",")
}

// riskText says what the risk check of quantile q does.
func riskText(q float64) string {
	if q == 0 {
		return "with no risk check"
	}
	return fmt.Sprintf("and only when that row is also faster at the %g quantile of each row's latency over the samples (a risk check: a row "+
		"that is fast on average but slow on some samples is not taken)", q)
}

func joinKiB(v []int64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatInt(x>>10, 10))
	}
	return strings.Join(s, ",")
}

func joinDurations(v []time.Duration) string {
	var s []string
	for _, x := range v {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func joinEncs(a Adaptive) string {
	var s []string
	for _, e := range a.Encodings {
		s = append(s, string(e))
	}
	return strings.Join(s, ",")
}

// TuneRow is one policy setting of the tuning grid.
type TuneRow struct {
	Policy PolicySettings
	// GeoMeanRatio is the geometric mean over traces and combos of
	// adaptive's mean latency over the best fixed plan's; WorstRatio the
	// largest.
	GeoMeanRatio, WorstRatio float64
}

// TuneGrid is the grid TunePolicy searches.
var TuneGrid = struct {
	Windows    []int
	Hysteresis []float64
	Dwells     []time.Duration
	Risk       []float64
	ProbeAfter []time.Duration
	ProbeBytes []int64
}{[]int{1, 2, 4, 8}, []float64{0, 25, 50, 75, 90}, []time.Duration{0, time.Second}, []float64{0, 1},
	[]time.Duration{time.Second}, []int64{16 << 10, 32 << 10, 64 << 10}}

// tuneSettings is every setting of TuneGrid.
func tuneSettings() []PolicySettings {
	g := TuneGrid
	var out []PolicySettings
	for _, w := range g.Windows {
		for _, h := range g.Hysteresis {
			for _, d := range g.Dwells {
				for _, q := range g.Risk {
					for _, pa := range g.ProbeAfter {
						for _, pb := range g.ProbeBytes {
							out = append(out, PolicySettings{Window: w, HysteresisPct: h, Dwell: d, RiskQuantile: q, ProbeBytes: pb, ProbeAfter: pa})
						}
					}
				}
			}
		}
	}
	return out
}

// TunePolicy runs a over every setting of TuneGrid. The rule, after the
// issue's goal (no worse than the best fixed plan on every trace): the one
// setting (for every trace and combo alike) with the lowest worst-case
// ratio of adaptive's mean latency to the best fixed plan's; ties (to 4
// digits) go to the lower geometric mean ratio, then the longer dwell,
// then the larger window (fewer switches for the same latency).
func TunePolicy(a Adaptive, cat *hwprofiles.Catalog, progress func(done, total int)) ([]TuneRow, PolicySettings, error) {
	settings := tuneSettings()
	var out []TuneRow
	best := TuneRow{GeoMeanRatio: math.Inf(1), WorstRatio: math.Inf(1)}
	for _, ps := range settings {
		a.Policy = ps
		rows, _, err := a.Run(cat, nil)
		if err != nil {
			return nil, PolicySettings{}, err
		}
		tr := TuneRow{Policy: ps}
		n := 0
		for i := 0; i+1 < len(rows); i++ {
			if rows[i].Strategy == StratAdaptive && rows[i+1].Strategy == StratBestFixed {
				r := rows[i].MeanMS / rows[i+1].MeanMS
				tr.GeoMeanRatio += math.Log(r)
				tr.WorstRatio = max(tr.WorstRatio, r)
				n++
			}
		}
		tr.GeoMeanRatio = math.Exp(tr.GeoMeanRatio / float64(n))
		out = append(out, tr)
		if better(tr, best) {
			best = tr
		}
		if progress != nil {
			progress(len(out), len(settings))
		}
	}
	return out, best.Policy, nil
}

// better orders tuning rows by TunePolicy's rule; values closer than 4
// digits are a tie.
func better(a, b TuneRow) bool {
	r := func(v float64) float64 { return math.Round(v * 1e4) }
	switch {
	case r(a.WorstRatio) != r(b.WorstRatio):
		return r(a.WorstRatio) < r(b.WorstRatio)
	case r(a.GeoMeanRatio) != r(b.GeoMeanRatio):
		return r(a.GeoMeanRatio) < r(b.GeoMeanRatio)
	case a.Policy.Dwell != b.Policy.Dwell:
		return a.Policy.Dwell > b.Policy.Dwell
	}
	return a.Policy.Window > b.Policy.Window
}

// TuneCSV is the tuning grid as CSV.
func TuneCSV(rows []TuneRow) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"window", "hysteresis_pct", "dwell_s", "risk_quantile", "probe_bytes", "probe_after_s", "geomean_adaptive_over_best_fixed", "worst_adaptive_over_best_fixed"})
	for _, r := range rows {
		p := r.Policy
		w.Write([]string{strconv.Itoa(p.Window), strconv.FormatFloat(p.HysteresisPct, 'g', -1, 64), strconv.FormatFloat(p.Dwell.Seconds(), 'g', -1, 64), strconv.FormatFloat(p.RiskQuantile, 'g', -1, 64),
			strconv.FormatInt(p.ProbeBytes, 10), strconv.FormatFloat(p.ProbeAfter.Seconds(), 'g', -1, 64), strconv.FormatFloat(r.GeoMeanRatio, 'f', 4, 64), strconv.FormatFloat(r.WorstRatio, 'f', 4, 64)})
	}
	w.Flush()
	return buf.Bytes()
}
