package cli

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/profile"
)

// CalibrateOptions are the options of "mtlsplit calibrate".
type CalibrateOptions struct {
	IO      *IO
	Profile string
	Device  string
	Format  string
	Out     string
	Force   bool
}

// NewCmdCalibrate fits a device's cost model to measured latencies.
func NewCmdCalibrate(io *IO) *cobra.Command {
	opts := &CalibrateOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "calibrate --profile FILE",
		Short: "Fit a device's cost model (per-op efficiency and overhead) to measured latencies",
		Long: "calibrate fits per-op-class throughput and per-layer overhead, the memory bandwidth and the\n" +
			"cost of one timed call to a measured profile (this project's, or a reference JSON such as\n" +
			"../shared/reference/measured/h100_fp16_b1_224.json) and reports the prediction error (MAPE).",
		Example: "  mtlsplit calibrate --profile ../shared/reference/measured/h100_fp16_b1_224.json --device h100 -o json\n" +
			"  mtlsplit calibrate --profile profile.yaml --out mydevice.yaml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCalibrate(opts) },
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "measured profile (YAML or JSON, the reference format)")
	cmd.Flags().StringVar(&opts.Device, "device", "", "catalog device or server whose peak and bandwidth bound the fit (default: guessed from the profile)")
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
	if opts.Profile == "" {
		return fmt.Errorf("calibrate needs --profile FILE (a measured profile)")
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
	base := profile.CostModel{Device: "fitted"}
	if dev != nil {
		base = dev.CostModel()
	}
	fit, err := profile.Calibrate(tab, base)
	if err != nil {
		return err
	}
	out := calibrateOutput{Profile: opts.Profile, MAPEBlock: fit.MAPEBlock, MAPEEndToEnd: fit.MAPEEndToEnd, SyncMS: fit.SyncMS,
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
	for _, p := range fit.Points {
		out.Points = append(out.Points, calibrateOutputItem{Model: p.Model, Name: p.Name, EndToEnd: p.EndToEnd, MeasuredMS: p.MeasuredMS, PredictedMS: p.PredictMS})
	}
	if opts.Out != "" {
		if err := writeFittedDevice(opts, dev, tab, fit); err != nil {
			return err
		}
	}
	if opts.Format == "json" {
		return writeJSON(opts.IO.Out, out)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s (%s, %s, batch %d, %d px): fitted to %d blocks and heads\n\n", opts.Profile, tab.Meta.DeviceName, tab.Meta.Dtype,
		tab.Meta.Batch, tab.Meta.Size, len(fit.Points))
	var rows [][]string
	for _, p := range fit.Points {
		if p.EndToEnd {
			rows = append(rows, []string{p.Model, fmt.Sprintf("%.3f", p.MeasuredMS), fmt.Sprintf("%.3f", p.PredictMS),
				fmt.Sprintf("%+.1f%%", 100*(p.PredictMS-p.MeasuredMS)/p.MeasuredMS)})
		}
	}
	if err := writeTable(w, []string{"MODEL (end to end)", "MEASURED ms", "PREDICTED ms", "ERROR"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nMAPE: blocks and heads %.1f%%, end to end %.1f%%\n", 100*fit.MAPEBlock, 100*fit.MAPEEndToEnd)
	var classes []string
	for c := range out.Model.Efficiency {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		fmt.Fprintf(w, "  %-12s efficiency %.4f  overhead %.4f ms\n", c, out.Model.Efficiency[c], out.Model.OverheadMS[c])
	}
	fmt.Fprintf(w, "  memory %.1f GB/s beyond a %.2f MB cache at %.1f GB/s; per-call cost %.4f ms\n",
		fit.Model.MemBandwidthGBps, fit.Model.CacheBytes/1e6, fit.Model.CacheGBps, fit.SyncMS)
	return nil
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
// citing the fit.
func writeFittedDevice(opts *CalibrateOptions, dev *hwprofiles.Device, tab *profile.Table, fit *profile.Fit) error {
	src := fmt.Sprintf("fitted: mtlsplit calibrate %s on %s (block MAPE %.1f%%)", filepath.Base(opts.Profile),
		opts.IO.Now().UTC().Format(time.DateOnly), 100*fit.MAPEBlock)
	d := hwprofiles.Device{ID: "fitted", Name: "fitted to " + filepath.Base(opts.Profile), Dtype: tab.Meta.Dtype}
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
	num := func(v float64) hwprofiles.Number {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
		return hwprofiles.Number{Value: r, Source: src}
	}
	if dev == nil || fit.Model.PeakGFLOPS > dev.PeakGFLOPS.Value {
		d.PeakGFLOPS = num(fit.Model.PeakGFLOPS) // measured faster than the datasheet
	}
	d.MemBandwidthGBps = num(fit.Model.MemBandwidthGBps)
	d.CacheMB, d.CacheBandwidthGBps = num(fit.Model.CacheBytes/1e6), num(fit.Model.CacheGBps)
	d.LayerOverheadMS = num(fit.Model.LayerOverheadMS)
	d.Efficiency, d.OverheadMS = map[string]hwprofiles.Number{}, map[string]hwprofiles.Number{}
	for c, v := range fit.Model.Efficiency {
		d.Efficiency[string(c)] = num(v)
	}
	for c, v := range fit.Model.OverheadMS {
		d.OverheadMS[string(c)] = num(v)
	}
	d.Measured = ""
	return saveYAML(opts.IO, opts.Out, map[string]any{"version": 1, list: []hwprofiles.Device{d}}, opts.Force)
}
