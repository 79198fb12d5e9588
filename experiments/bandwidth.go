package experiments

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/profile"
	"github.com/mtlsplit/mtlsplit/results"
)

// Bandwidth is the sweep study: each trained MTL model on catalog devices
// to one server across uplink bandwidths, the planner held to per-task
// accuracy floors taken from the model's measured accuracy table.
type Bandwidth struct {
	Devices []string
	Server  string
	// Mbps are the uplinks swept (the network's RTT and powers are Network's).
	Mbps    []float64
	Network string
	// FloorSlack is how far below its plain-pass accuracy each task may
	// fall: floor = measured native accuracy − FloorSlack.
	FloorSlack float64
}

// DefaultBandwidth sweeps 0.1–1000 Mbps (25 points) on a Raspberry Pi 4
// and a Jetson Orin Nano to an H100 over 4G's RTT, one point of accuracy
// allowed per task.
func DefaultBandwidth() Bandwidth {
	return Bandwidth{Devices: []string{"rpi4", "jetson-orin-nano"}, Server: "h100", Network: "4g",
		Mbps: results.LogSpace(0.1, 1000, 25), FloorSlack: 0.01}
}

// BandwidthRow is one model × device × uplink.
type BandwidthRow struct {
	Backbone string
	Seed     uint64
	Device   string
	Mbps     float64
	Choice   string
	// PlanMS is the planner's optimum; the others are the fixed strategies.
	PlanMS, LocalMS, RemoteMS, MTLSplitMS float64
	Bytes                                 int64
	// Accuracy is each task's measured accuracy under the plan; Floors the
	// floors it was held to.
	Accuracy, Floors map[string]float64
}

// Run solves every model × device × uplink; tabs[i] is runs[i]'s table.
func (s Bandwidth) Run(cat *hwprofiles.Catalog, runs []*Run, tabs []*profile.AccuracyTable) ([]BandwidthRow, error) {
	server, err := cat.Server(s.Server)
	if err != nil {
		return nil, err
	}
	net, err := cat.Network(s.Network)
	if err != nil {
		return nil, err
	}
	var rows []BandwidthRow
	for i, run := range runs {
		floors := map[string]float64{}
		for _, h := range run.Graph.Heads {
			a, ok := tabs[i].Native(h.Task)
			if !ok {
				return nil, fmt.Errorf("accuracy table of %s seed %d has no plain-pass accuracy for %s", run.Backbone, run.Seed, h.Task)
			}
			floors[h.Task] = a - s.FloorSlack
		}
		for _, d := range s.Devices {
			dev, err := cat.Device(d)
			if err != nil {
				return nil, err
			}
			p, err := optimizer.NewProblem(run.Graph, dev, server, net)
			if err != nil {
				return nil, err
			}
			p.Encodings = accuracyEncodings
			p.Accuracy = tabs[i]
			p.Constraints.MinAccuracy = floors
			for _, mbps := range s.Mbps {
				p.Links[0].UplinkMbps = mbps
				r, err := optimizer.Solve(p, nil, nil)
				if err != nil {
					return nil, fmt.Errorf("%s on %s at %g Mbps: %w", run.Backbone, d, mbps, err)
				}
				row := BandwidthRow{Backbone: run.Backbone, Seed: run.Seed, Device: d, Mbps: mbps, Choice: r.Best.Label.String(),
					PlanMS: r.Best.Cost.TotalMS, LocalMS: r.Baselines.LocalOnly.Cost.TotalMS, RemoteMS: r.Baselines.RemoteOnly.Cost.TotalMS,
					MTLSplitMS: r.Baselines.MTLSplit.Cost.TotalMS, Bytes: r.Best.Cost.Bytes, Accuracy: map[string]float64{}, Floors: floors}
				for t, h := range run.Graph.Heads {
					if t < len(r.Best.Cost.TaskAccuracy) {
						row.Accuracy[h.Task] = r.Best.Cost.TaskAccuracy[t]
					}
				}
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

// WriteBandwidth writes bandwidth.csv, one figure per backbone × device
// (the first seed's model) and the README section into root/bandwidth/.
func WriteBandwidth(root string, s Bandwidth, rows []BandwidthRow, r Recipe, overwrite bool) ([]string, error) {
	var csvRows [][]string
	for _, x := range rows {
		var acc, fl []string
		for _, t := range r.Tasks {
			acc = append(acc, g6(x.Accuracy[t]))
			fl = append(fl, g6(x.Floors[t]))
		}
		csvRows = append(csvRows, []string{x.Backbone, strconv.FormatUint(x.Seed, 10), x.Device, s.Server, g6(x.Mbps), x.Choice,
			g6(x.PlanMS), g6(x.LocalMS), g6(x.RemoteMS), g6(x.MTLSplitMS), strconv.FormatInt(x.Bytes, 10),
			strings.Join(acc, ";"), strings.Join(fl, ";")})
	}
	o := output{
		csv: map[string][]byte{"bandwidth.csv": table([]string{"backbone", "seed", "device", "server", "uplink_mbps", "choice", "plan_ms",
			"local_only_ms", "remote_only_ms", "mtl_split_ms", "bytes", "accuracy(" + strings.Join(r.Tasks, ";") + ")",
			"floors(" + strings.Join(r.Tasks, ";") + ")"}, csvRows)},
		figures: map[string]saver{},
	}
	for _, b := range r.Backbones {
		for _, d := range s.Devices {
			sel := selectRows(rows, b, r.Seeds[0], d)
			if len(sel) == 0 {
				continue
			}
			fig := results.Figure{Title: fmt.Sprintf("%s on %s → %s (seed %d), accuracy floors = plain pass − %.0f point", b, d, s.Server, r.Seeds[0], 100*s.FloorSlack),
				XLabel: "uplink bandwidth (Mbps)", YLabel: "latency per image (ms)", LogX: true, LogY: true}
			series := []results.Series{{Name: "planner (accuracy-aware)"}, {Name: "local-only"}, {Name: "remote-only"}, {Name: "MTL-Split (backbone | heads, fp32)", Dashed: true}}
			for _, x := range sel {
				for k, v := range []float64{x.PlanMS, x.LocalMS, x.RemoteMS, x.MTLSplitMS} {
					series[k].X, series[k].Y = append(series[k].X, x.Mbps), append(series[k].Y, v)
				}
			}
			fig.Series = series
			o.figures["bandwidth_"+b+"_"+d] = fig
		}
	}
	o.section = bandwidthSection(s, rows, r)
	return o.write(root, "bandwidth", overwrite)
}

func selectRows(rows []BandwidthRow, backbone string, seed uint64, device string) []BandwidthRow {
	var out []BandwidthRow
	for _, x := range rows {
		if x.Backbone == backbone && x.Seed == seed && x.Device == device {
			out = append(out, x)
		}
	}
	return out
}

func bandwidthSection(s Bandwidth, rows []BandwidthRow, r Recipe) string {
	var b strings.Builder
	b.WriteString("## Planner vs fixed splits across bandwidth (`mtlsplit experiment bandwidth`)\n\n")
	fmt.Fprintf(&b, "Each trained MTL model (%d seeds) on %s → %s, uplink %g–%g Mbps (%d points, %s's RTT), encodings %s; the planner must\n"+
		"keep every task within %.0f point of its measured plain-pass accuracy (the model's accuracy-bytes table). Latencies are\n"+
		"the catalog's predictions (no training time involved). Files: `bandwidth/bandwidth.csv`, `bandwidth_<backbone>_<device>.png|svg`.\n\n",
		len(r.Seeds), strings.Join(s.Devices, ", "), s.Server, s.Mbps[0], s.Mbps[len(s.Mbps)-1], len(s.Mbps), s.Network,
		codecList(accuracyEncodings), 100*s.FloorSlack)
	var md [][]string
	for _, bk := range r.Backbones {
		for _, d := range s.Devices {
			var sel []BandwidthRow
			for _, seed := range r.Seeds {
				sel = append(sel, selectRows(rows, bk, seed, d)...)
			}
			if len(sel) == 0 {
				continue
			}
			beats, geo, best := 0, 0.0, 1.0
			choices := map[string]bool{}
			var order []string
			minMargin := math.Inf(1)
			for _, x := range sel {
				sp := x.MTLSplitMS / x.PlanMS
				geo += math.Log(sp)
				best = max(best, sp)
				if sp > 1.01 {
					beats++
				}
				if !choices[x.Choice] {
					choices[x.Choice] = true
					order = append(order, x.Choice)
				}
				for t, a := range x.Accuracy {
					minMargin = min(minMargin, a-x.Floors[t])
				}
			}
			md = append(md, []string{bk, d, fmt.Sprintf("%d / %d", beats, len(sel)), fmt.Sprintf("%.2f×", math.Exp(geo/float64(len(sel)))),
				fmt.Sprintf("%.1f×", best), strconv.Itoa(len(order)), fmt.Sprintf("%+.1f", 100*minMargin)})
		}
	}
	b.WriteString(mdTable([]string{"backbone", "device", "planner > 1% faster than MTL-Split", "geo-mean speed-up", "largest",
		"distinct plans", "lowest accuracy margin over the floor (points)"}, md))
	b.WriteString("\nThe planner never does worse than the best of local-only, remote-only and MTL-Split (they are among its candidates)," +
		" and every plan meets the accuracy floors — the accuracy comes from the measured table, not from an assumption.\n")
	return b.String()
}

func codecList(e []codec.Encoding) string {
	s := make([]string, len(e))
	for i, x := range e {
		s[i] = string(x)
	}
	return strings.Join(s, "/")
}
