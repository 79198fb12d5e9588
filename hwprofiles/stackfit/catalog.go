package stackfit

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/profile"
)

// CatalogFile is where the stack entries live in the source tree.
const CatalogFile = "hwprofiles/catalog/stacks.yaml"

// entries are the catalog's device × stack pairs: every pair with
// published rows, at the stack's usual precision on that device (TensorRT
// in fp16 on the tensor cores where there are any, ncnn in fp16 where the
// cores have it, QNNPACK in int8, OpenCV's CUDA backend in its default
// fp32), on all the cores at the clock the rows were published at.
var entries = []setup{
	{board: "nano", stack: "tensorrt", unit: "gpu", precision: "fp16"},
	{board: "nano", stack: "ncnn", unit: "cpu", precision: "fp32", threads: 4, clockGHz: 1.43, clockSrc: clkNano},
	{board: "nano", stack: "ncnn-vulkan", unit: "gpu", precision: "fp16"},
	{board: "nano", stack: "opencv", unit: "cpu", precision: "fp32", threads: 4, clockGHz: 1.43, clockSrc: clkNano},
	{board: "nano", stack: "opencv-cuda", unit: "gpu", precision: "fp32"},
	{board: "tx2", stack: "tensorrt", unit: "gpu", precision: "fp16"},
	{board: "tx2", stack: "ncnn", unit: "cpu", precision: "fp32", threads: 6, clockGHz: 2.0, clockSrc: clkTX2},
	{board: "tx2", stack: "ncnn-vulkan", unit: "gpu", precision: "fp16"},
	{board: "tx2", stack: "tensorflow", unit: "gpu", precision: "fp32"},
	{board: "xnx", stack: "tensorrt", unit: "gpu", precision: "fp16", tensor: true},
	{board: "xnx", stack: "pytorch", unit: "gpu", precision: "fp32"},
	{board: "orin", stack: "ncnn", unit: "cpu", precision: "fp16", threads: 6, clockGHz: 1.5, clockSrc: clkOrin},
	{board: "orin", stack: "ncnn-vulkan", unit: "gpu", precision: "fp16"},
	{board: "orin", stack: "opencv", unit: "cpu", precision: "fp32", threads: 6, clockGHz: 1.5, clockSrc: clkOrin},
	{board: "orin", stack: "opencv-cuda", unit: "gpu", precision: "fp32"},
	{board: "rpi4", stack: "ncnn", unit: "cpu", precision: "fp32", threads: 4, clockGHz: 1.8, clockSrc: clkRPi418},
	{board: "rpi4", stack: "opencv", unit: "cpu", precision: "fp32", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	{board: "rpi4", stack: "pytorch", unit: "cpu", precision: "int8", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	{board: "rpi4", stack: "tflite", unit: "cpu", precision: "fp32", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	{board: "rpi5", stack: "ncnn", unit: "cpu", precision: "fp16", threads: 4, clockGHz: 2.4, clockSrc: clkRPi5},
	{board: "rpi5", stack: "ncnn-vulkan", unit: "gpu", precision: "fp32", storage: "fp16"},
	{board: "rpi5", stack: "pytorch", unit: "cpu", precision: "int8", threads: 4, clockGHz: 2.4, clockSrc: clkRPi5},
}

// stackTitles name the stacks for people.
var stackTitles = map[string]string{
	"tensorrt": "TensorRT", "ncnn": "ncnn", "ncnn-vulkan": "ncnn Vulkan", "opencv": "OpenCV DNN",
	"opencv-cuda": "OpenCV DNN CUDA", "tflite": "TFLite", "pytorch": "PyTorch", "tensorflow": "TensorFlow 1.8",
}

// Stacks is the catalog form of the fit: one entry per device × stack pair.
// It needs the leave-one-out predictions (Fit with loo).
func (r *Result) Stacks() ([]hwprofiles.Stack, error) {
	if r.Fit.LeaveOneOut == nil {
		return nil, fmt.Errorf("stack catalog: the fit has no leave-one-out predictions")
	}
	out := make([]hwprofiles.Stack, 0, len(entries))
	for _, s := range entries {
		st, err := r.entry(s)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (r *Result) entry(s setup) (hwprofiles.Stack, error) {
	g := s.group()
	p, ok := r.Fit.Params[g]
	if !ok {
		return hwprofiles.Stack{}, fmt.Errorf("stack catalog: %s on %s: no published rows of %s", s.stack, s.board, g)
	}
	b := boards[s.board]
	peak, peakSrc, err := s.peak()
	if err != nil {
		return hwprofiles.Stack{}, err
	}
	prior := Specs[g].Prior.WithDefaults()
	n := len(r.groupRuns(g))
	fitted := fmt.Sprintf("fitted: to the %d published rows of %s on every device (%s)", n, g, hwprofiles.PublishedLatencyFile)
	if fam := Specs[g].Family; fam != "" {
		// The group's numbers are its base group's, efficiencies and
		// memory efficiency scaled by one fitted factor.
		prior = r.Fit.Params[fam]
		fitted = fmt.Sprintf("fitted: %s's number (%d published rows) x this GPU family's factor (one on the efficiencies and memory efficiency, one on the per-layer cost), both fitted to the %d published rows of %s (%s)",
			fam, len(r.groupRuns(fam)), n, g, hwprofiles.PublishedLatencyFile)
	}
	num := func(v, prior float64, src string) hwprofiles.Number {
		if math.Abs(math.Log10(v/prior)) < 0.01 {
			f := false
			return hwprofiles.Number{Value: round4(v), Source: fmt.Sprintf("%s; held at the prior %s: the rows do not pin it down", src, g4(prior)), Identified: &f}
		}
		return hwprofiles.Number{Value: round4(v), Source: src}
	}
	scale := 1.0 // a CPU entry's efficiencies include how its threads scale
	var threadExp float64
	var scaleSrc string
	title := fmt.Sprintf("%s on the %s", stackTitles[s.stack], strings.ToUpper(s.unit))
	st := hwprofiles.Stack{Device: b.device, Stack: s.stack, Unit: s.unit, Precision: s.precision, StorageDtype: s.storage,
		FoldNormAct: Specs[g].FoldNormAct}
	if s.unit == "cpu" {
		st.Threads = s.threads
		st.ClockGHz = hwprofiles.Number{Value: s.clockGHz, Source: s.clockSrc}
		threadExp = p.DeviceThreads(b.device)
		scale = math.Pow(float64(s.threads), threadExp-1)
		if _, own := p.DeviceThreadScaling[b.device]; own {
			scaleSrc = fmt.Sprintf("%d threads scale as n^%s on this device, fitted to its rows of one network on one and on n threads", s.threads, g4(threadExp))
		} else {
			scaleSrc = fmt.Sprintf("%d threads scale as n^%s, the stack's: this device has no rows of one network on one and on n threads", s.threads, g4(threadExp))
		}
		peak *= float64(s.threads)
		peakSrc = fmt.Sprintf("derived: %s x %d threads; %s", g4(peak/float64(s.threads)), s.threads, peakSrc)
		title = fmt.Sprintf("%s, %s, %d threads at %s GHz", stackTitles[s.stack], s.precision, s.threads, g4(s.clockGHz))
	} else {
		title = fmt.Sprintf("%s, %s on the GPU", stackTitles[s.stack], s.precision)
	}
	int8 := 1.0
	if s.precision == "int8" {
		int8 = p.Int8Speed
	}
	st.Name = title
	st.PeakGFLOPS = hwprofiles.Number{Value: round4(peak), Source: peakSrc}
	st.MemBandwidthGBps = num(b.bwGBps*p.MemEfficiency, b.bwGBps*prior.MemEfficiency,
		fmt.Sprintf("%s: %s GB/s datasheet (%s) x %s fitted memory efficiency", fitted, g4(b.bwGBps), b.bwSource, g4(p.MemEfficiency)))
	layer, layerPrior, layerSrc := p.LayerOverheadMS, prior.LayerOverheadMS, fitted
	if s.unit == "cpu" {
		// Every layer forks and joins the entry's threads.
		layer += p.ThreadSyncMS * float64(s.threads-1)
		layerPrior += prior.ThreadSyncMS * float64(s.threads-1)
		layerSrc = fmt.Sprintf("%s: %s ms per layer + %s ms per extra thread x %d", fitted, g4(p.LayerOverheadMS), g4(p.ThreadSyncMS), s.threads-1)
	}
	st.LayerOverheadMS = num(layer, layerPrior, layerSrc)
	st.CallOverheadMS = num(p.CallOverheadMS, prior.CallOverheadMS, fitted)
	st.Efficiency = map[string]hwprofiles.Number{}
	for _, c := range profile.StackClasses {
		src := fitted
		if scale != 1 {
			src = fmt.Sprintf("%s: %s x %s (%s)", fitted, g4(p.Efficiency[c]), g4(scale), scaleSrc)
		}
		if int8 != 1 {
			src = fmt.Sprintf("%s x %s (int8 kernels against float ones)", src, g4(int8))
		}
		st.Efficiency[string(c)] = num(p.Efficiency[c]*scale*int8, prior.Efficiency[c]*scale, src)
	}
	var errs []float64
	for i, run := range r.Runs {
		if run.Stack == g && boards[r.setupOf(i).board].device == b.device {
			errs = append(errs, math.Abs(r.Fit.LeaveOneOut[i].RelativeErr))
		}
	}
	st.PublishedRows = len(errs)
	if len(errs) > 0 {
		st.ExpectedErrorPct = hwprofiles.Number{Value: round4(100 * mean(errs)),
			Source: fmt.Sprintf("leave-one-out: mean |error| of the %d published rows of %s on this device, each predicted by a fit without it", len(errs), g)}
	} else {
		st.ExpectedErrorPct = hwprofiles.Number{Value: round4(100 * r.groupLOO(g)),
			Source: fmt.Sprintf("leave-one-out: this device has no published rows of %s; mean |error| of the stack's %d rows on other devices", g, n)}
	}
	return st, nil
}

// setupOf is the setup of the i-th run.
func (r *Result) setupOf(i int) setup {
	k := 0
	for _, row := range r.Rows {
		if row.Excluded != "" {
			continue
		}
		if k == i {
			return row.Setup
		}
		k++
	}
	return setup{}
}

func (r *Result) groupRuns(g string) []int {
	var out []int
	for i, run := range r.Runs {
		if run.Stack == g {
			out = append(out, i)
		}
	}
	return out
}

// groupLOO is the mean absolute leave-one-out error of a group's runs.
func (r *Result) groupLOO(g string) float64 {
	var errs []float64
	for _, i := range r.groupRuns(g) {
		errs = append(errs, math.Abs(r.Fit.LeaveOneOut[i].RelativeErr))
	}
	return mean(errs)
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

// round4 keeps 4 significant digits, what the catalog prints.
func round4(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	return f
}

// WriteCatalog writes the stack entries as a catalog file.
func (r *Result) WriteCatalog(w io.Writer) error {
	st, err := r.Stacks()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(`# Edge devices run by named inference stacks (mtlsplit plan --stack NAME).
# Written by "make calibrate-stacks" from published/edge_latency.csv: do not
# edit; a test fails when this file and the fit disagree. Each stack's
# efficiencies, memory efficiency and per-layer and per-call costs are
# fitted once across every device it was published on; a device brings only
# its datasheet peak and bandwidth at the entry's precision, threads and clock.
`)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"version": hwprofiles.FileVersion, "stacks": st}); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}
