package cli

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/profile"
)

// CalibrateOptions are the options of "mtlsplit calibrate".
type CalibrateOptions struct {
	IO            *IO
	Profile       string
	Device        string
	Format        string
	Out           string
	Force         bool
	Holdout       bool
	PeakGFLOPS    float64
	BandwidthGBps float64
	// Runtime is a run log to fit the fixed runtime terms to, with the
	// catalog network and server whose entries --out rewrites (the device
	// is --device).
	Runtime, Network, Server string
}

// NewCmdCalibrate fits a device's cost model to measured latencies.
func NewCmdCalibrate(io *IO) *cobra.Command {
	opts := &CalibrateOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "calibrate --profile FILE | --runtime LOG.jsonl",
		Short: "Fit a device's cost model (per-op efficiency and overhead) to measured latencies",
		Long: "calibrate fits per-op-class throughput and per-layer overhead, the memory bandwidth and the\n" +
			"cost of one timed call to a measured profile (this project's, or a reference JSON such as\n" +
			"../shared/reference/measured/h100_fp16_b1_224.json) and reports the prediction error (MAPE)\n" +
			"in sample and held out: every backbone predicted by a fit to the others (leave one backbone\n" +
			"out; --holdout=false skips these fits). It says which fitted numbers the profile cannot pin\n" +
			"down (on the fit's bound, or a 10× change leaves the error as it is); --out marks them\n" +
			"identified: false. Only the peak and memory bandwidth of --device (or --peak-gflops and\n" +
			"--bandwidth-gbps, the datasheet figures) enter the fit: they bound and start it.\n\n" +
			"With --runtime, calibrate fits instead what a run log ('mtlsplit run --out') shows the cost\n" +
			"model misses: a fixed cost per request on the uplink and fixed costs per tensor encoded on\n" +
			"the device and decoded on the server (medians of the residuals; a Theil-Sen line of the\n" +
			"network residual against bytes), prints them with the median error per stage before and\n" +
			"after, and with --out writes the --network, --device and --server entries of the catalog\n" +
			"with the terms added (overhead_ms, tensor_encode_ms, tensor_decode_ms): plan with --hw FILE.\n" +
			"Where a side's per-tensor residual is negative (its profile over-predicts its compute), it\n" +
			"fits instead that device's compute_scale, below 1, times the entry's own.\n" +
			"From logs that record idle gaps (edge_idle_ms, server_idle_ms, as run writes them) it also\n" +
			"fits each side's idle-gap term: a stage takes warm·(1+c·(1−exp(−gap/tau))) after the device\n" +
			"idled gap ms (a cold cache); idle_cold_frac and idle_tau_ms replace the entries' terms. It\n" +
			"needs gaps from a few ms to hundreds (logs at high and low bandwidth) and is kept only when\n" +
			"it cuts the mean error by 10%.",
		Example: "  mtlsplit calibrate --profile ../shared/reference/measured/h100_fp16_b1_224.json --device h100 --bandwidth-gbps 3350 -o json\n" +
			"  mtlsplit calibrate --profile profile.yaml --out mydevice.yaml\n" +
			"  mtlsplit calibrate --runtime results.jsonl --device rpi4 --server h100 --network 4g --out runtime.yaml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCalibrate(opts) },
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "measured profile (YAML or JSON, the reference format)")
	cmd.Flags().StringVar(&opts.Runtime, "runtime", "", "run log (JSON lines of 'mtlsplit run --out') to fit the per-request and per-tensor terms to")
	cmd.Flags().StringVar(&opts.Network, "network", "", "with --runtime: catalog network the run used, written to --out with its overhead_ms")
	cmd.Flags().StringVar(&opts.Server, "server", "", "with --runtime: catalog server the run used, written to --out with its tensor_decode_ms")
	cmd.Flags().StringVar(&opts.Device, "device", "", "catalog device or server whose peak and bandwidth bound the fit (default: guessed from the profile)")
	cmd.Flags().Float64Var(&opts.PeakGFLOPS, "peak-gflops", 0, "datasheet peak that bounds the fit, in GFLOP/s (default: the device's)")
	cmd.Flags().Float64Var(&opts.BandwidthGBps, "bandwidth-gbps", 0, "datasheet memory bandwidth that bounds the fit (1/20 to 20×), in GB/s (default: the device's)")
	cmd.Flags().BoolVar(&opts.Holdout, "holdout", true, "also predict every backbone from a fit to the others (one more fit per backbone)")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|json")
	cmd.Flags().StringVar(&opts.Out, "out", "", "write the fitted device as a hardware catalog file (use it with --hw)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace --out if it exists")
	return cmd
}

type calibrateOutput struct {
	Profile      string                `json:"profile"`
	Device       string                `json:"device"`
	MAPEBlock    float64               `json:"mape_block"`
	MAPEEndToEnd float64               `json:"mape_end_to_end"`
	SyncMS       float64               `json:"sync_ms"`
	Model        calibratedModel       `json:"model"`
	Params       []calibratedParam     `json:"params"`
	Holdout      *calibrateHoldout     `json:"holdout,omitempty"`
	Points       []calibrateOutputItem `json:"points"`
}

type calibratedModel struct {
	PeakGFLOPS       float64            `json:"peak_gflops"`
	MemBandwidthGBps float64            `json:"mem_bandwidth_gbps"`
	CacheMB          float64            `json:"cache_mb"`
	CacheGBps        float64            `json:"cache_bandwidth_gbps"`
	LayerOverheadMS  float64            `json:"layer_overhead_ms"`
	Efficiency       map[string]float64 `json:"efficiency"`
	OverheadMS       map[string]float64 `json:"overhead_ms"`
}

// calibratedParam is one fitted number and what the profile says of it:
// lo..hi fit as well as value (every other number kept).
type calibratedParam struct {
	Name       string  `json:"name"`
	Value      float64 `json:"value"`
	Identified bool    `json:"identified"`
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	OnBound    string  `json:"on_bound,omitempty"`
	Why        string  `json:"why,omitempty"`
}

type calibrateHoldout struct {
	MAPEBlock    float64                    `json:"mape_block"`
	MAPEEndToEnd float64                    `json:"mape_end_to_end"`
	Backbones    []calibrateHoldoutBackbone `json:"backbones"`
}

// calibrateHoldoutBackbone is one backbone held out, beside its in-sample
// errors; end-to-end errors are signed.
type calibrateHoldoutBackbone struct {
	Backbone            string  `json:"backbone"`
	MAPEBlock           float64 `json:"mape_block"`
	EndToEndError       float64 `json:"end_to_end_error"`
	InSampleMAPEBlock   float64 `json:"in_sample_mape_block"`
	InSampleEndToEndErr float64 `json:"in_sample_end_to_end_error"`
}

type calibrateOutputItem struct {
	Model       string  `json:"model"`
	Name        string  `json:"name"`
	EndToEnd    bool    `json:"end_to_end"`
	MeasuredMS  float64 `json:"measured_ms"`
	PredictedMS float64 `json:"predicted_ms"`
}

func runCalibrate(opts *CalibrateOptions) error {
	if err := checkFormat(opts.Format, "table", "json"); err != nil {
		return err
	}
	if opts.Runtime != "" {
		if opts.Profile != "" {
			return fmt.Errorf("calibrate takes --profile FILE (a device's cost model) or --runtime LOG (the runtime's fixed costs), not both")
		}
		return runCalibrateRuntime(opts)
	}
	if opts.Network != "" || opts.Server != "" {
		return fmt.Errorf("--network and --server go with --runtime LOG")
	}
	if opts.Profile == "" {
		return fmt.Errorf("calibrate needs --profile FILE (a measured profile) or --runtime LOG (a run log)")
	}
	if bad := func(v float64) bool { return !(v >= 0) || math.IsInf(v, 0) }; bad(opts.PeakGFLOPS) || bad(opts.BandwidthGBps) {
		return fmt.Errorf("--peak-gflops %g, --bandwidth-gbps %g: want positive numbers (or 0 for the device's)", opts.PeakGFLOPS, opts.BandwidthGBps)
	}
	if err := checkOutputs(opts.Force, output{"--out", opts.Out}); err != nil {
		return err
	}
	tab, err := profile.LoadTable(opts.Profile)
	if err != nil {
		return err
	}
	dev, err := baseDevice(opts.Device, tab)
	if err != nil {
		return err
	}
	// Only the datasheet-like figures of the device enter the fit: its
	// earlier fitted efficiencies would make every fit depend on the last.
	base := profile.CostModel{Device: "fitted"}
	if dev != nil {
		base = profile.CostModel{Device: dev.ID, PeakGFLOPS: dev.PeakGFLOPS.Value, MemBandwidthGBps: dev.MemBandwidthGBps.Value}
	}
	if opts.PeakGFLOPS > 0 {
		base.PeakGFLOPS = opts.PeakGFLOPS
	} else if dev != nil {
		noteFitted(opts.IO, dev.ID, dev.PeakGFLOPS, "--peak-gflops")
	}
	if opts.BandwidthGBps > 0 {
		base.MemBandwidthGBps = opts.BandwidthGBps
	} else if dev != nil {
		noteFitted(opts.IO, dev.ID, dev.MemBandwidthGBps, "--bandwidth-gbps")
	}
	fit, err := profile.Calibrate(tab, base)
	if err != nil {
		return err
	}
	var hold *profile.Holdout
	if opts.Holdout && len(tab.Backbones) > 1 {
		if hold, err = profile.CalibrateHoldout(tab, base); err != nil {
			return err
		}
	}
	out := newCalibrateOutput(opts.Profile, dev, fit, hold)
	if opts.Out != "" {
		if err := writeFittedDevice(opts, dev, base, tab, fit, hold); err != nil {
			return err
		}
	}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, out)
	}
	return writeCalibrateTable(opts.IO.Out, opts.Profile, tab, fit, out)
}

// newCalibrateOutput gathers what calibrate prints.
func newCalibrateOutput(file string, dev *hwprofiles.Device, fit *profile.Fit, hold *profile.Holdout) calibrateOutput {
	out := calibrateOutput{Profile: file, MAPEBlock: fit.MAPEBlock, MAPEEndToEnd: fit.MAPEEndToEnd, SyncMS: fit.SyncMS,
		Model: calibratedModel{PeakGFLOPS: fit.Model.PeakGFLOPS, MemBandwidthGBps: fit.Model.MemBandwidthGBps,
			CacheMB: fit.Model.CacheBytes / 1e6, CacheGBps: fit.Model.CacheGBps,
			LayerOverheadMS: fit.Model.LayerOverheadMS, Efficiency: map[string]float64{}, OverheadMS: map[string]float64{}}}
	if dev != nil {
		out.Device = dev.ID
	}
	for c, v := range fit.Model.Efficiency {
		out.Model.Efficiency[string(c)] = v
	}
	for c, v := range fit.Model.OverheadMS {
		out.Model.OverheadMS[string(c)] = v
	}
	for _, p := range fit.Params {
		out.Params = append(out.Params, calibratedParam{Name: p.Name, Value: p.Value, Identified: p.Identified, Lo: p.Lo, Hi: p.Hi, OnBound: p.OnBound, Why: p.Why})
	}
	if hold != nil {
		out.Holdout = &calibrateHoldout{MAPEBlock: hold.MAPEBlock, MAPEEndToEnd: hold.MAPEEndToEnd}
		for _, f := range hold.Folds {
			b, e := fit.BackboneErrors(f.Backbone)
			out.Holdout.Backbones = append(out.Holdout.Backbones, calibrateHoldoutBackbone{Backbone: f.Backbone,
				MAPEBlock: f.MAPEBlock, EndToEndError: f.EndToEndErr, InSampleMAPEBlock: b, InSampleEndToEndErr: e})
		}
	}
	for _, p := range fit.Points {
		out.Points = append(out.Points, calibrateOutputItem{Model: p.Model, Name: p.Name, EndToEnd: p.EndToEnd, MeasuredMS: p.MeasuredMS, PredictedMS: p.PredictMS})
	}
	return out
}

func writeCalibrateTable(w io.Writer, file string, tab *profile.Table, fit *profile.Fit, out calibrateOutput) error {
	fmt.Fprintf(w, "%s (%s, %s, batch %d, %d px): fitted to %d blocks and heads\n\n", file, tab.Meta.DeviceName, tab.Meta.Dtype,
		tab.Meta.Batch, tab.Meta.Size, len(fit.Points))
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
	spct := func(v float64) string { return fmt.Sprintf("%+.1f%%", 100*v) }
	header := []string{"BACKBONE", "MEASURED ms", "PREDICTED ms", "END-TO-END ERROR", "BLOCKS MAPE"}
	if out.Holdout != nil {
		header = append(header, "HELD OUT: END-TO-END ERROR", "BLOCKS MAPE")
	}
	var rows [][]string
	for _, p := range fit.Points {
		if !p.EndToEnd {
			continue
		}
		b, e := fit.BackboneErrors(p.Model)
		row := []string{p.Model, fmt.Sprintf("%.3f", p.MeasuredMS), fmt.Sprintf("%.3f", p.PredictMS), spct(e), pct(b)}
		if out.Holdout != nil {
			for _, hb := range out.Holdout.Backbones {
				if hb.Backbone == p.Model {
					row = append(row, spct(hb.EndToEndError), pct(hb.MAPEBlock))
				}
			}
		}
		rows = append(rows, row)
	}
	all := []string{"all (MAPE)", "", "", pct(fit.MAPEEndToEnd), pct(fit.MAPEBlock)}
	if out.Holdout != nil {
		all = append(all, pct(out.Holdout.MAPEEndToEnd), pct(out.Holdout.MAPEBlock))
	}
	rows = append(rows, all)
	if err := writeTable(w, header, rows); err != nil {
		return err
	}
	if out.Holdout != nil {
		fmt.Fprintf(w, "\nHeld out: each backbone predicted by a fit to the other %d.\n", len(out.Holdout.Backbones)-1)
	}
	fmt.Fprintf(w, "\nMAPE in sample: blocks and heads %s, end to end %s", pct(fit.MAPEBlock), pct(fit.MAPEEndToEnd))
	if out.Holdout != nil {
		fmt.Fprintf(w, "; held out: blocks and heads %s, end to end %s", pct(out.Holdout.MAPEBlock), pct(out.Holdout.MAPEEndToEnd))
	}
	fmt.Fprintf(w, "\n\n")
	rows = nil
	for _, p := range out.Params {
		ident, says := "yes", fmt.Sprintf("%s to %s fit as well", sig4(p.Lo), sig4(p.Hi))
		if !p.Identified {
			ident, says = "NO", p.Why
		}
		rows = append(rows, []string{p.Name, sig4(p.Value), ident, says})
	}
	return writeTable(w, []string{"PARAMETER", "VALUE", "IDENTIFIED", "WHAT THE PROFILE SAYS"}, rows)
}

// noteFitted warns when a base number is itself an earlier fit: it would
// move the fit's bounds with every refit.
func noteFitted(io *IO, id string, n hwprofiles.Number, flag string) {
	if strings.HasPrefix(n.Source, "fitted:") {
		fmt.Fprintf(io.Err, "note: %s's %g is an earlier fit; give the datasheet figure with %s to bound this fit by it\n", id, n.Value, flag)
	}
}

// baseDevice is the catalog device named by --device, or the one the
// profile's device name points at; nil when neither.
func baseDevice(id string, tab *profile.Table) (*hwprofiles.Device, error) {
	cat, err := hwprofiles.Default()
	if err != nil {
		return nil, internal(err)
	}
	if id == "" {
		name := strings.ToLower(tab.Meta.DeviceName)
		switch {
		case strings.Contains(name, "h100"):
			id = "h100"
		case strings.Contains(name, "epyc"):
			id = "epyc-2c"
		default:
			return nil, nil
		}
	}
	if d, err := cat.Server(id); err == nil {
		return &d, nil
	}
	d, err := cat.Device(id)
	if err != nil {
		return nil, fmt.Errorf("--device: %w", err)
	}
	return &d, nil
}

// writeFittedDevice writes the fitted model as a catalog file, every number
// citing the fit; a number the profile cannot pin down is marked
// identified: false and its source says what the profile does tell.
func writeFittedDevice(opts *CalibrateOptions, dev *hwprofiles.Device, base profile.CostModel, tab *profile.Table, fit *profile.Fit, hold *profile.Holdout) error {
	file := filepath.Base(opts.Profile)
	date := opts.IO.Now().UTC().Format(time.DateOnly)
	errs := fmt.Sprintf("block MAPE %.1f%%", 100*fit.MAPEBlock)
	if hold != nil {
		errs += fmt.Sprintf(", held out %.1f%%", 100*hold.MAPEBlock)
	}
	src := fmt.Sprintf("fitted: mtlsplit calibrate %s on %s (%s)", file, date, errs)
	d := hwprofiles.Device{ID: "fitted", Name: "fitted to " + file, Dtype: tab.Meta.Dtype}
	list := "devices"
	if dev != nil {
		d = *dev
		if d.Kind == "server" {
			list = "servers"
		}
	} else {
		d.MemoryMB = hwprofiles.Number{Value: 4096, Source: "estimate: not in the profile; set it"}
		d.ActivePowerW = hwprofiles.Number{Value: 10, Source: "estimate: not in the profile; set it"}
	}
	params := map[string]profile.Param{}
	for _, p := range fit.Params {
		params[p.Name] = p
	}
	no := false
	num := func(name string, v float64) hwprofiles.Number {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
		n := hwprofiles.Number{Value: r, Source: src}
		if p, ok := params[name]; ok && !p.Identified {
			n.Identified = &no
			n.Source = fmt.Sprintf("fitted: mtlsplit calibrate %s on %s; not identified by it (batch %d): %s; a value the model needs, not a measurement",
				file, date, tab.Meta.Batch, p.Why)
		}
		return n
	}
	if dev == nil || fit.Model.PeakGFLOPS > base.PeakGFLOPS {
		d.PeakGFLOPS = num("peak_gflops", fit.Model.PeakGFLOPS) // measured faster than the datasheet
	}
	d.MemBandwidthGBps = num("mem_bandwidth_gbps", fit.Model.MemBandwidthGBps)
	d.CacheMB, d.CacheBandwidthGBps = num("cache_mb", fit.Model.CacheBytes/1e6), num("cache_bandwidth_gbps", fit.Model.CacheGBps)
	d.LayerOverheadMS = num("overhead_ms.elementwise", fit.Model.LayerOverheadMS)
	d.Efficiency, d.OverheadMS = map[string]hwprofiles.Number{}, map[string]hwprofiles.Number{}
	for c, v := range fit.Model.Efficiency {
		d.Efficiency[string(c)] = num("efficiency."+string(c), v)
	}
	for c, v := range fit.Model.OverheadMS {
		d.OverheadMS[string(c)] = num("overhead_ms."+string(c), v)
	}
	d.Measured = ""
	return saveYAML(opts.IO, opts.Out, map[string]any{"version": 1, list: []hwprofiles.Device{d}}, opts.Force)
}

// sig4 prints 4 significant digits, without an exponent below 1e9.
func sig4(v float64) string {
	if a := math.Abs(v); a >= 1e4 && a < 1e9 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
