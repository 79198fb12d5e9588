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
	Log            string              `json:"log"`
	Used           int                 `json:"used"`
	Skipped        int                 `json:"skipped"`
	OverheadMS     float64             `json:"overhead_ms"`
	TensorEncodeMS float64             `json:"tensor_encode_ms"`
	TensorDecodeMS float64             `json:"tensor_decode_ms"`
	PerMBMS        float64             `json:"network_residual_ms_per_mb"`
	Clamped        []string            `json:"clamped,omitempty"`
	Before         profile.StageErrors `json:"median_error_before"`
	After          profile.StageErrors `json:"median_error_after"`
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
		Before: fit.Before, After: fit.After}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, out)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s: fitted to %d inputs that sent as planned (%d skipped: fallbacks and local runs)\n\n", opts.Runtime, fit.Used, fit.Skipped)
	if err := writeTable(w, []string{"TERM", "VALUE", "APPLIES TO"}, [][]string{
		{"overhead_ms", sig4(fit.OverheadMS), "network: once per request that sends"},
		{"tensor_encode_ms", sig4(fit.TensorEncodeMS), "device: per tensor sent"},
		{"tensor_decode_ms", sig4(fit.TensorDecodeMS), "server: per tensor received"},
		{"network residual slope", sig4(fit.PerMBMS) + " ms/MB", "reported only: the bandwidth is the link's"},
	}); err != nil {
		return err
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
		v, _ := strconv.ParseFloat(strconv.FormatFloat(old.Value+add, 'g', 4, 64), 64)
		return hwprofiles.Number{Value: v, Source: src}
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
		doc["devices"] = []hwprofiles.Device{d}
	}
	if opts.Server != "" {
		s, err := cat.Server(opts.Server)
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		s.TensorDecodeMS = num(s.TensorDecodeMS, fit.TensorDecodeMS)
		doc["servers"] = []hwprofiles.Device{s}
	}
	return saveYAML(opts.IO, opts.Out, doc, opts.Force)
}
