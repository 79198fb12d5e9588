package cli

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/profile"
)

// calibrateRuntimeOutput is what calibrate --runtime prints.
type calibrateRuntimeOutput struct {
	Log            string  `json:"log"`
	Used           int     `json:"used"`
	Skipped        int     `json:"skipped"`
	OverheadMS     float64 `json:"overhead_ms"`
	TensorEncodeMS float64 `json:"tensor_encode_ms"`
	TensorDecodeMS float64 `json:"tensor_decode_ms"`
	// EdgeScale and ServerScale are the compute scales (1: none).
	EdgeScale   float64 `json:"edge_compute_scale"`
	ServerScale float64 `json:"server_compute_scale"`
	PerMBMS     float64 `json:"network_residual_ms_per_mb"`
	// EdgeIdle and ServerIdle are the idle-gap terms (cold_frac 0: not
	// fitted, note says why).
	EdgeIdle   idleTerm            `json:"edge_idle"`
	ServerIdle idleTerm            `json:"server_idle"`
	Clamped    []string            `json:"clamped,omitempty"`
	Before     profile.StageErrors `json:"median_error_before"`
	After      profile.StageErrors `json:"median_error_after"`
}

// idleTerm is one side's fitted idle-gap term.
type idleTerm struct {
	ColdFrac float64 `json:"cold_frac"`
	TauMS    float64 `json:"tau_ms"`
	Records  int     `json:"records"`
	MinGapMS float64 `json:"min_gap_ms"`
	MaxGapMS float64 `json:"max_gap_ms"`
	Note     string  `json:"note,omitempty"`
}

func newIdleTerm(f profile.IdleFit) idleTerm {
	return idleTerm{ColdFrac: f.ColdFrac, TauMS: f.TauMS, Records: f.Used, MinGapMS: f.MinGapMS, MaxGapMS: f.MaxGapMS, Note: f.Note}
}

// idleRows are the table rows of one side's idle term.
func idleRows(side string, f profile.IdleFit) [][]string {
	if f.ColdFrac == 0 {
		return [][]string{{"idle_cold_frac", "0", side + ": not fitted"}}
	}
	span := fmt.Sprintf("%s: warm·(1+c·(1−exp(−gap/tau))), gaps %s–%s ms in the log", side, sig4(f.MinGapMS), sig4(f.MaxGapMS))
	return [][]string{{"idle_cold_frac", sig4(f.ColdFrac), span}, {"idle_tau_ms", sig4(f.TauMS), side + ": time constant of the slowdown"}}
}

func runCalibrateRuntime(opts *CalibrateOptions) error {
	if opts.Out != "" && opts.Network == "" && opts.Device == "" && opts.Server == "" {
		return fmt.Errorf("--out needs the catalog entries to write the terms into: give --network, --device and/or --server (the ones the run used)")
	}
	if err := checkOutputs(opts.Force, output{"--out", opts.Out}); err != nil {
		return err
	}
	recs, err := profile.LoadRuntimeLog(opts.Runtime)
	if err != nil {
		return err
	}
	fit, err := profile.FitRuntime(recs)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.Runtime, err)
	}
	if opts.Out != "" {
		if err := writeRuntimeCatalog(opts, fit); err != nil {
			return err
		}
	}
	out := calibrateRuntimeOutput{Log: opts.Runtime, Used: fit.Used, Skipped: fit.Skipped, OverheadMS: fit.OverheadMS,
		TensorEncodeMS: fit.TensorEncodeMS, TensorDecodeMS: fit.TensorDecodeMS, PerMBMS: fit.PerMBMS, Clamped: fit.Clamped,
		EdgeScale: fit.EdgeScale, ServerScale: fit.ServerScale,
		Before: fit.Before, After: fit.After, EdgeIdle: newIdleTerm(fit.Edge), ServerIdle: newIdleTerm(fit.Server)}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, out)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s: fitted to %d inputs that sent as planned (%d skipped: fallbacks and local runs)\n\n", opts.Runtime, fit.Used, fit.Skipped)
	rows := [][]string{
		{"overhead_ms", sig4(fit.OverheadMS), "network: once per request that sends"},
		{"tensor_encode_ms", sig4(fit.TensorEncodeMS), "device: per tensor sent"},
		{"tensor_decode_ms", sig4(fit.TensorDecodeMS), "server: per tensor received"},
		{"compute_scale", sig4(fit.EdgeScale), "device: times its profiled compute (below 1: the profile over-predicts)"},
		{"compute_scale", sig4(fit.ServerScale), "server: times its profiled compute"},
	}
	rows = append(rows, idleRows("device", fit.Edge)...)
	rows = append(rows, idleRows("server", fit.Server)...)
	rows = append(rows, []string{"network residual slope", sig4(fit.PerMBMS) + " ms/MB", "reported only: the bandwidth is the link's"})
	if err := writeTable(w, []string{"TERM", "VALUE", "APPLIES TO"}, rows); err != nil {
		return err
	}
	for _, s := range []struct {
		side string
		f    profile.IdleFit
	}{{"device", fit.Edge}, {"server", fit.Server}} {
		if s.f.Note != "" {
			fmt.Fprintf(w, "note: %s idle term: %s\n", s.side, s.f.Note)
		}
	}
	for _, c := range fit.Clamped {
		fmt.Fprintf(w, "note: %s came out negative (the model over-predicts): set to 0\n", c)
	}
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%+.1f%%", 100*v)
	}
	fmt.Fprintf(w, "\nMedian error (predicted - measured) / measured:\n")
	return writeTable(w, []string{"STAGE", "BEFORE", "AFTER"}, [][]string{
		{"total", pct(fit.Before.Total), pct(fit.After.Total)},
		{"edge", pct(fit.Before.Edge), pct(fit.After.Edge)},
		{"network", pct(fit.Before.Network), pct(fit.After.Network)},
		{"server", pct(fit.Before.Server), pct(fit.After.Server)},
	})
}

// writeRuntimeCatalog writes the named catalog entries with the fitted
// terms added to what they already carry (a log of plans made with terms
// shows only what those terms still miss), for plan --hw.
func writeRuntimeCatalog(opts *CalibrateOptions, fit profile.RuntimeFit) error {
	cat, err := hwprofiles.Default()
	if err != nil {
		return internal(err)
	}
	src := fmt.Sprintf("fitted: mtlsplit calibrate --runtime %s on %s (%d inputs; median of residuals)",
		filepath.Base(opts.Runtime), opts.IO.Now().UTC().Format(time.DateOnly), fit.Used)
	num := func(old hwprofiles.Number, add float64) hwprofiles.Number {
		return hwprofiles.Number{Value: round4(old.Value + add), Source: src}
	}
	doc := map[string]any{"version": 1}
	if opts.Network != "" {
		n, err := cat.Network(opts.Network)
		if err != nil {
			return fmt.Errorf("--network: %w", err)
		}
		n.OverheadMS = num(n.OverheadMS, fit.OverheadMS)
		doc["networks"] = []hwprofiles.Network{n}
	}
	if opts.Device != "" {
		d, err := cat.Device(opts.Device)
		if err != nil {
			return fmt.Errorf("--device: %w", err)
		}
		d.TensorEncodeMS = num(d.TensorEncodeMS, fit.TensorEncodeMS)
		setScale(&d, fit.EdgeScale, src)
		setIdle(&d, fit.Edge, src)
		doc["devices"] = []hwprofiles.Device{d}
	}
	if opts.Server != "" {
		s, err := cat.Server(opts.Server)
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		s.TensorDecodeMS = num(s.TensorDecodeMS, fit.TensorDecodeMS)
		setScale(&s, fit.ServerScale, src)
		setIdle(&s, fit.Server, src)
		doc["servers"] = []hwprofiles.Device{s}
	}
	return saveYAML(opts.IO, opts.Out, doc, opts.Force)
}

// setScale writes a fitted compute scale into a catalog entry, times the
// entry's own (the log's predictions were made with it, so the fit is what
// it still misses). A scale of 1 leaves the entry as it is.
func setScale(d *hwprofiles.Device, k float64, src string) {
	if k == 1 || k == 0 {
		return
	}
	if old := d.ComputeScale.Value; old > 0 {
		k *= old
	}
	d.ComputeScale = hwprofiles.Number{Value: round4(k), Source: src + "; measured over predicted compute"}
}

// round4 is v to 4 significant digits, as the catalog stores fitted terms.
func round4(v float64) float64 {
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	return v
}

// setIdle writes a fitted idle term into a catalog entry. It replaces the
// entry's term rather than adding to it (the term is a factor, not a sum):
// fit it on logs of plans made without one. A term not fitted leaves the
// entry's as it is.
func setIdle(d *hwprofiles.Device, f profile.IdleFit, src string) {
	if f.ColdFrac == 0 {
		return
	}
	s := fmt.Sprintf("%s; idle term warm·(1+c·(1−exp(−gap/tau))) over %d gaps of %.3g–%.3g ms", src, f.Used, f.MinGapMS, f.MaxGapMS)
	d.IdleColdFrac = hwprofiles.Number{Value: round4(f.ColdFrac), Source: s}
	d.IdleTauMS = hwprofiles.Number{Value: round4(f.TauMS), Source: s}
}
