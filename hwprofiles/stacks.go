package hwprofiles

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// StackNames are the inference stacks a catalog entry may name.
var StackNames = []string{"tensorrt", "ncnn", "ncnn-vulkan", "tflite", "onnxruntime", "opencv", "opencv-cuda", "pytorch", "tensorflow"}

// DtypeInt8 is the precision of quantized stacks (PyTorch's QNNPACK).
const DtypeInt8 = "int8"

// Stack is an edge device run by one inference stack: the unit, precision,
// threads and clock it runs at, the peak and bandwidth that go with them,
// and the stack's efficiencies and per-layer cost, fitted across devices to
// published latencies. A Device with these numbers comes from
// Catalog.DeviceStack.
type Stack struct {
	Device    string `yaml:"device"` // id of an edge device
	Stack     string `yaml:"stack"`  // one of StackNames
	Name      string `yaml:"name"`
	Unit      string `yaml:"unit"`      // "cpu" or "gpu"
	Precision string `yaml:"precision"` // arithmetic: fp32, fp16, int8
	// BytesPerElem of stored tensors when not the precision's (fp16
	// storage with fp32 arithmetic).
	StorageDtype string `yaml:"storage_dtype,omitempty"`
	Threads      int    `yaml:"threads,omitempty"` // CPU stacks
	ClockGHz     Number `yaml:"clock_ghz,omitempty"`
	// FoldNormAct: the stack folds batch norm and activations into the conv
	// before them, which then cost nothing.
	FoldNormAct      bool   `yaml:"fold_norm_act"`
	PeakGFLOPS       Number `yaml:"peak_gflops"`
	MemBandwidthGBps Number `yaml:"mem_bandwidth_gbps"` // effective: what a layer's bytes move at
	LayerOverheadMS  Number `yaml:"layer_overhead_ms"`  // per layer run as its own kernel or call
	CallOverheadMS   Number `yaml:"call_overhead_ms"`   // per inference call
	// Efficiency is the fraction of PeakGFLOPS per op class: the
	// EfficiencyKeys plus conv3x3 (above 1 with Winograd kernels) and
	// conv1x1.
	Efficiency map[string]Number `yaml:"efficiency"`
	// ExpectedErrorPct is the mean absolute leave-one-out error of the
	// predicted latency over the published rows of this device and stack
	// (of the stack on every device when this one has none).
	ExpectedErrorPct Number `yaml:"expected_error_pct"`
	PublishedRows    int    `yaml:"published_rows"` // of this device and stack

	Line int    `yaml:"-"`
	File string `yaml:"-"`

	lines map[string]int
}

// DeviceStack returns the edge device deviceID as run by stack: its memory,
// power and id are the device's, its dtype, peak, bandwidth, overheads and
// efficiencies the stack entry's. Without a measured table: the device's
// table was timed with another stack.
func (c *Catalog) DeviceStack(deviceID, stack string) (Device, error) {
	d, err := c.Device(deviceID)
	if err != nil {
		return Device{}, err
	}
	s, err := c.stack(deviceID, stack)
	if err != nil {
		return Device{}, err
	}
	d.Name = fmt.Sprintf("%s, %s", d.Name, s.Name)
	d.Stack = s.Stack
	d.Dtype = s.Precision
	d.StorageDtype = s.StorageDtype
	d.PeakGFLOPS, d.MemBandwidthGBps, d.LayerOverheadMS = s.PeakGFLOPS, s.MemBandwidthGBps, s.LayerOverheadMS
	d.CallOverheadMS, d.ExpectedErrorPct = s.CallOverheadMS, s.ExpectedErrorPct
	d.FoldNormAct = s.FoldNormAct
	d.CacheMB, d.CacheBandwidthGBps = Number{}, Number{}
	d.Efficiency = maps.Clone(s.Efficiency)
	// The stack fit gives pooling and batch norm the elementwise numbers.
	for _, k := range []string{"pool", "norm"} {
		if _, ok := d.Efficiency[k]; !ok {
			d.Efficiency[k] = s.Efficiency["elementwise"]
		}
	}
	d.OverheadMS = nil
	d.Measured = ""
	return d, nil
}

func (c *Catalog) stack(deviceID, stack string) (Stack, error) {
	var have []string
	for _, s := range c.Stacks {
		if s.Device != deviceID {
			continue
		}
		if s.Stack == stack {
			return s, nil
		}
		have = append(have, s.Stack)
	}
	return Stack{}, &UnknownError{Kind: fmt.Sprintf("stack for device %s", deviceID), Name: stack, Known: have}
}

// StacksOf lists the stacks the catalog has for a device, sorted.
func (c *Catalog) StacksOf(deviceID string) []string {
	var out []string
	if c == nil {
		return nil
	}
	for _, s := range c.Stacks {
		if s.Device == deviceID {
			out = append(out, s.Stack)
		}
	}
	sort.Strings(out)
	return out
}

func stackProblems(ss []Stack, devices []Device) []Problem {
	var probs []Problem
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.ID
	}
	first := map[string]Stack{}
	for _, s := range ss {
		e := newEntry(s.File, s.Line, "stack", s.Device+"/"+s.Stack, s.lines)
		switch {
		case s.Device == "":
			e.add("device", "device is missing")
		case len(ids) > 0 && !slices.Contains(ids, s.Device): // a stacks-only file adds to another catalog
			e.add("device", "device %q is not an edge device of the catalog%s", s.Device, suggest.Hint(s.Device, ids))
		}
		if !slices.Contains(StackNames, s.Stack) {
			e.add("stack", "stack %q is unknown%s", s.Stack, suggest.Hint(s.Stack, StackNames))
		}
		key := s.Device + "/" + s.Stack
		if prev, dup := first[key]; dup {
			e.add("stack", "defined twice (first at %s)", loc(prev.File, prev.Line))
		} else {
			first[key] = s
		}
		e.name(s.Name)
		if s.Unit != "cpu" && s.Unit != "gpu" {
			e.add("unit", "unit %q is not \"cpu\" or \"gpu\"", s.Unit)
		}
		for _, p := range []struct{ key, v string }{{"precision", s.Precision}, {"storage_dtype", s.StorageDtype}} {
			if p.v == "" && p.key == "storage_dtype" {
				continue
			}
			if p.v != DtypeFP32 && p.v != DtypeFP16 && p.v != DtypeInt8 {
				e.add(p.key, "%s %q is not fp32, fp16 or int8", p.key, p.v)
			}
		}
		if s.Unit == "cpu" && s.Threads < 1 {
			e.add("threads", "a CPU stack needs threads ≥ 1")
		}
		e.number("clock_ghz", s.ClockGHz, s.Unit == "cpu", strictyaml.Positive)
		e.number("peak_gflops", s.PeakGFLOPS, true, strictyaml.Positive)
		e.number("mem_bandwidth_gbps", s.MemBandwidthGBps, true, strictyaml.Positive)
		e.number("layer_overhead_ms", s.LayerOverheadMS, true, strictyaml.Positive)
		e.number("call_overhead_ms", s.CallOverheadMS, true, strictyaml.NonNegative)
		e.number("expected_error_pct", s.ExpectedErrorPct, true, strictyaml.NonNegative)
		for _, k := range EfficiencyKeys {
			if k == "pool" {
				continue // falls back to elementwise
			}
			e.number("efficiency."+k, s.Efficiency[k], true, strictyaml.PositiveFraction)
		}
		e.optional("efficiency", s.Efficiency, strictyaml.PositiveFraction)
		probs = append(probs, e.probs...)
	}
	return probs
}
