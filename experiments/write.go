package experiments

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/results"
)

// WriteScenarios writes scenarios.csv, one speed-up figure per device
// (PNG and SVG) and summary.md into dir, returning the paths written.
func WriteScenarios(dir string, rows []ScenarioRow, overwrite bool) ([]string, error) {
	var written []string
	save := func(name string, data []byte) error {
		path := filepath.Join(dir, name)
		written = append(written, path)
		return atomicfile.Write(path, data, overwrite)
	}
	if err := save("scenarios.csv", ScenarioCSV(rows)); err != nil {
		return nil, err
	}
	for _, dev := range unique(rows, func(r ScenarioRow) string { return r.Device }) {
		fig := results.Figure{
			Title:  fmt.Sprintf("searched split vs MTL-Split's fixed split on %s", dev),
			XLabel: "uplink bandwidth of the catalog network (Mbps)", YLabel: "speed-up over MTL-Split (×)", LogX: true, LogY: true,
		}
		for _, m := range unique(rows, func(r ScenarioRow) string { return r.Model }) {
			s := results.Series{Name: m}
			for _, r := range sorted(rows, dev, m) {
				s.X, s.Y = append(s.X, r.UplinkMbps), append(s.Y, r.SpeedupVsMTLSplit())
			}
			fig.Series = append(fig.Series, s)
		}
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, "speedup_"+dev+"."+ext)
			if err := fig.Save(path, overwrite); err != nil {
				return nil, err
			}
			written = append(written, path)
		}
	}
	if err := save("summary.md", Summary(rows)); err != nil {
		return nil, err
	}
	return written, nil
}

// ScenarioCSV is the grid as CSV, one row per cell; with a stack, each
// row also carries its expected error and the optimum's latency band.
func ScenarioCSV(rows []ScenarioRow) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	band := hasBand(rows)
	head := []string{"model", "device", "server", "network", "uplink_mbps", "choice", "optimum_ms", "local_only_ms",
		"remote_only_ms", "mtl_split_ms", "speedup_vs_mtl_split", "bytes", "edge_energy_mj"}
	if band {
		head = append(head, "stack", "expected_error_pct", "optimum_edge_ms", "optimum_plus_minus_ms")
	}
	w.Write(head)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range rows {
		rec := []string{r.Model, r.Device, r.Server, r.Network, f(r.UplinkMbps), r.Choice, f(r.OptimumMS), f(r.LocalMS),
			f(r.RemoteMS), f(r.MTLSplitMS), f(r.SpeedupVsMTLSplit()), strconv.FormatInt(r.Bytes, 10), f(r.EnergyMJ)}
		if band {
			rec = append(rec, r.Stack, f(r.ExpectedErrorPct), f(r.EdgeMS), f(r.BandMS()))
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// Summary states the headline numbers in a few lines.
func Summary(rows []ScenarioRow) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Scenario grid: searched split vs fixed splits\n\n%d cells (model × edge device × network).\n\n", len(rows))
	var beatsMTL, split, local, remote int
	geo := 0.0
	best := rows[0]
	for _, r := range rows {
		s := r.SpeedupVsMTLSplit()
		geo += math.Log(s)
		if s > 1+1e-9 {
			beatsMTL++
		}
		if s > best.SpeedupVsMTLSplit() {
			best = r
		}
		switch {
		case r.OptimumMS == r.LocalMS && r.Bytes == 0:
			local++
		case r.OptimumMS == r.RemoteMS:
			remote++
		default:
			split++
		}
	}
	fmt.Fprintf(&b, "- The searched optimum is faster than MTL-Split's fixed split in %d of %d cells; geometric-mean speed-up %.2f×.\n",
		beatsMTL, len(rows), math.Exp(geo/float64(len(rows))))
	fmt.Fprintf(&b, "- Optimum kind: %d local-only, %d remote-only, %d a real split (cut inside the backbone or heads split).\n", local, remote, split)
	fmt.Fprintf(&b, "- Largest gain: %s on %s over %s, %s: %.1f ms vs %.1f ms (%.1f×).\n", best.Model, best.Device, best.Network,
		best.Choice, best.OptimumMS, best.MTLSplitMS, best.SpeedupVsMTLSplit())
	if hasBand(rows) {
		// A gain smaller than the band could be the prediction's error.
		robust := 0
		for _, r := range rows {
			if r.MTLSplitMS-r.OptimumMS > r.BandMS() {
				robust++
			}
		}
		fmt.Fprintf(&b, "- Edge latency from the %s stack's fit (expected error ±%.0f%% on the largest gain's device): "+
			"the optimum beats MTL-Split by more than its own band in %d of %d cells; largest gain %.1f ± %.1f ms.\n",
			best.Stack, best.ExpectedErrorPct, robust, len(rows), best.OptimumMS, best.BandMS())
	}
	return b.Bytes()
}

// hasBand reports whether the rows carry a stack's expected error.
func hasBand(rows []ScenarioRow) bool {
	for _, r := range rows {
		if r.ExpectedErrorPct > 0 {
			return true
		}
	}
	return false
}

func unique(rows []ScenarioRow, key func(ScenarioRow) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if k := key(r); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func sorted(rows []ScenarioRow, dev, m string) []ScenarioRow {
	var out []ScenarioRow
	for _, r := range rows {
		if r.Device == dev && r.Model == m {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UplinkMbps < out[j].UplinkMbps })
	return out
}
