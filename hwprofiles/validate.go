package hwprofiles

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// Problem is one thing wrong in a catalog, at a file and line when known.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) Error() string {
	if l := loc(p.File, p.Line); l != "" {
		return l + ": " + p.Msg
	}
	return p.Msg
}

// loc formats "file:line", "file" or "".
func loc(file string, line int) string {
	if file != "" && line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// ValidationError lists every problem found in a catalog, ordered by file
// and line. errors.Is(err, ErrInvalid) holds for it.
type ValidationError struct {
	Problems []Problem
}

func newValidationError(probs []Problem) *ValidationError {
	probs = slices.Clone(probs)
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].File != probs[j].File {
			return probs[i].File < probs[j].File
		}
		return probs[i].Line < probs[j].Line
	})
	return &ValidationError{Problems: probs}
}

// Error lists the problems on one line, separated by "; ".
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Validate checks the whole catalog and reports every problem, or nil.
// Catalogs returned by Default, Load and LoadFile are already valid; call it
// after building or merging a catalog in code.
func (c *Catalog) Validate() error {
	if probs := c.problems(); len(probs) > 0 {
		return newValidationError(probs)
	}
	return nil
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func label(kind string) string {
	if kind == KindServer {
		return "server"
	}
	return "device"
}

func (c *Catalog) problems() []Problem {
	if c == nil {
		return nil
	}
	var probs []Problem
	probs = append(probs, deviceProblems(c.Devices, KindEdge)...)
	probs = append(probs, deviceProblems(c.Servers, KindServer)...)
	probs = append(probs, networkProblems(c.Networks)...)
	probs = append(probs, stackProblems(c.Stacks, c.Devices)...)
	return probs
}

// entry collects the problems of one catalog entry.
type entry struct {
	file  string
	line  int
	what  string // `device "rpi4"`
	lines map[string]int
	probs []Problem
}

func (e *entry) at(key string) int {
	if l, ok := e.lines[key]; ok {
		return l
	}
	// The nearest enclosing key that has a line, else the entry.
	for k := key; strings.Contains(k, "."); {
		k = k[:strings.LastIndex(k, ".")]
		if l, ok := e.lines[k]; ok {
			return l
		}
	}
	return e.line
}

func (e *entry) add(key, format string, args ...any) {
	e.probs = append(e.probs, Problem{File: e.file, Line: e.at(key), Msg: e.what + ": " + fmt.Sprintf(format, args...)})
}

// number checks a Number: required ones must be present, present ones must
// have a value in rng and a source.
func (e *entry) number(key string, n Number, required bool, rng strictyaml.Range) {
	_, written := e.lines[key]
	if n == (Number{}) && !written {
		if required {
			e.add(key, "%s is missing", key)
		}
		return
	}
	if !rng.Contains(n.Value) {
		e.add(key+".value", "%s.value is %g (want %s)", key, n.Value, rng.Want())
	}
	if strings.TrimSpace(n.Source) == "" {
		e.add(key+".source", "%s.source is empty", key)
	}
}

func (e *entry) id(id string) {
	switch {
	case id == "":
		e.add("id", "id is missing")
	case !idRE.MatchString(id):
		e.add("id", "id must be lowercase letters, digits and '-'")
	}
}

func (e *entry) name(name string) {
	if strings.TrimSpace(name) == "" {
		e.add("name", "name is missing")
	}
}

func newEntry(file string, line int, kind, id string, lines map[string]int) *entry {
	what := fmt.Sprintf("%s %q", kind, id)
	if id == "" {
		what = kind + " without id"
	}
	return &entry{file: file, line: line, what: what, lines: lines}
}

func deviceProblems(ds []Device, kind string) []Problem {
	var probs []Problem
	first := map[string]Device{}
	for _, d := range ds {
		e := newEntry(d.File, d.Line, label(kind), d.ID, d.lines)
		e.id(d.ID)
		if prev, dup := first[d.ID]; dup && d.ID != "" {
			e.add("id", "defined twice (first at %s)", loc(prev.File, prev.Line))
		} else {
			first[d.ID] = d
		}
		e.name(d.Name)
		switch d.Kind {
		case kind:
		case "":
			e.add("kind", "kind is missing (want %q)", kind)
		default:
			e.add("kind", "kind %q does not match its list (want %q)", d.Kind, kind)
		}
		switch d.Dtype {
		case DtypeFP32, DtypeFP16, DtypeInt8:
		case "":
			e.add("dtype", "dtype is missing (want %q, %q or %q)", DtypeFP32, DtypeFP16, DtypeInt8)
		default:
			e.add("dtype", "dtype %q is not %q, %q or %q", d.Dtype, DtypeFP32, DtypeFP16, DtypeInt8)
		}
		e.number("peak_gflops", d.PeakGFLOPS, true, strictyaml.Positive)
		e.number("mem_bandwidth_gbps", d.MemBandwidthGBps, true, strictyaml.Positive)
		e.number("memory_mb", d.MemoryMB, true, strictyaml.Positive)
		e.number("layer_overhead_ms", d.LayerOverheadMS, true, strictyaml.Positive)
		if d.Efficiency == nil && e.lines["efficiency"] == 0 {
			e.add("efficiency", "efficiency is missing (want %s)", strings.Join(EfficiencyKeys, ", "))
		} else {
			for _, k := range EfficiencyKeys {
				e.number("efficiency."+k, d.Efficiency[k], true, strictyaml.PositiveFraction)
			}
			e.optional("efficiency", d.Efficiency, strictyaml.PositiveFraction)
		}
		e.optional("overhead_ms", d.OverheadMS, strictyaml.Positive)
		if (d.CacheMB != Number{}) || (d.CacheBandwidthGBps != Number{}) {
			e.number("cache_mb", d.CacheMB, true, strictyaml.Positive)
			e.number("cache_bandwidth_gbps", d.CacheBandwidthGBps, true, strictyaml.Positive)
		}
		e.number("active_power_w", d.ActivePowerW, true, strictyaml.Positive)
		e.number("idle_power_w", d.IdlePowerW, false, strictyaml.Positive)
		e.number("tensor_encode_ms", d.TensorEncodeMS, false, strictyaml.NonNegative)
		e.number("tensor_decode_ms", d.TensorDecodeMS, false, strictyaml.NonNegative)
		e.number("idle_cold_frac", d.IdleColdFrac, false, strictyaml.NonNegative)
		e.number("idle_tau_ms", d.IdleTauMS, false, strictyaml.Positive)
		// A scale above 1 is what the per-tensor terms fit (the fit makes
		// one or the other); 0 would make the device free.
		e.number("compute_scale", d.ComputeScale, false, strictyaml.PositiveFraction)
		if d.IdleColdFrac.Value > 0 && d.IdleTauMS == (Number{}) {
			e.add("idle_tau_ms", "idle_tau_ms is missing: idle_cold_frac needs its time constant")
		}
		// Numbers that contradict each other (a unit slip, MB for GB):
		// the cost and energy models would silently invert.
		if idle, active := d.IdlePowerW.Value, d.ActivePowerW.Value; idle > active && active > 0 {
			e.add("idle_power_w.value", "idle_power_w.value %g W exceeds active_power_w %g W", idle, active)
		}
		if c, m := d.CacheMB.Value, d.MemoryMB.Value; c > 0 && m > 0 && c >= m {
			e.add("cache_mb.value", "cache_mb.value %g is not below memory_mb %g", c, m)
		}
		if d.Measured != "" {
			if _, err := MeasuredTable(d.Measured); err != nil {
				e.add("measured", "measured table %q is not embedded%s", d.Measured, suggest.Hint(d.Measured, MeasuredTables()))
			}
		}
		probs = append(probs, e.probs...)
	}
	return probs
}

func networkProblems(ns []Network) []Problem {
	var probs []Problem
	first := map[string]Network{}
	for _, n := range ns {
		e := newEntry(n.File, n.Line, "network", n.ID, n.lines)
		e.id(n.ID)
		if prev, dup := first[n.ID]; dup && n.ID != "" {
			e.add("id", "defined twice (first at %s)", loc(prev.File, prev.Line))
		} else {
			first[n.ID] = n
		}
		e.name(n.Name)
		e.number("uplink_mbps", n.UplinkMbps, true, strictyaml.Positive)
		e.number("downlink_mbps", n.DownlinkMbps, true, strictyaml.Positive)
		e.number("rtt_ms", n.RTTMS, true, strictyaml.Positive)
		e.number("tx_power_w", n.TxPowerW, true, strictyaml.Positive)
		e.number("rx_power_w", n.RxPowerW, false, strictyaml.Positive)
		e.number("overhead_ms", n.OverheadMS, false, strictyaml.NonNegative)
		probs = append(probs, e.probs...)
	}
	return probs
}

// optional checks the keys of a per-op-class map beyond the required ones:
// each must be a known class (OptionalKeys adds norm) with a valid number.
func (e *entry) optional(field string, m map[string]Number, rng strictyaml.Range) {
	var keys []string
	for k := range m {
		if !slices.Contains(EfficiencyKeys, k) || field != "efficiency" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	valid := OpClassKeys
	if field == "efficiency" {
		valid = append(slices.Clone(OpClassKeys), Conv3x3Key, Conv1x1Key)
	}
	for _, k := range keys {
		if !slices.Contains(valid, k) {
			e.add(field+"."+k, "%s key %q is unknown%s", field, k, suggest.Hint(k, valid))
			continue
		}
		r := rng
		if k == Conv3x3Key {
			r = strictyaml.Positive // Winograd kernels beat the MAC count
		}
		e.number(field+"."+k, m[k], true, r)
	}
}
