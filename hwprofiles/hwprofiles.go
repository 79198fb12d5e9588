package hwprofiles

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// Kinds of compute entries. A device's kind follows the list it is in.
const (
	KindEdge   = "edge"
	KindServer = "server"
)

// Precisions a device can run inference in.
const (
	DtypeFP32 = "fp32"
	DtypeFP16 = "fp16"
)

// Op classes of Device.Efficiency, in a fixed order.
var EfficiencyKeys = []string{"conv", "depthwise", "linear", "elementwise", "pool"}

// OpClassKeys are every op class a device may give numbers for: the
// required EfficiencyKeys plus norm (batch norm, which falls back to
// elementwise when absent).
var OpClassKeys = append(append([]string(nil), EfficiencyKeys...), "norm")

// Conv3x3Key is an efficiency (only) for dense 3×3 stride-1 convs, which
// falls back to conv's and may exceed 1: stacks with Winograd kernels do
// fewer multiplies than the MACs count.
const Conv3x3Key = "conv3x3"

// Conv1x1Key is an efficiency (only) for dense 1×1 convs, a GEMM without
// the unfolding other convs need; it falls back to conv's.
const Conv1x1Key = "conv1x1"

// ErrUnknown is wrapped by every lookup of a name that is not in the catalog.
var ErrUnknown = errors.New("unknown name")

// ErrInvalid is wrapped by every error about the content of a catalog file
// (syntax, unknown keys, failed validation), as opposed to I/O errors.
var ErrInvalid = errors.New("invalid hardware catalog")

// Number is a catalog value with the source it came from (URL, or
// "measured: FILE", or "fitted: ...").
type Number struct {
	Value  float64 `yaml:"value"`
	Source string  `yaml:"source"`
	// Identified is false for a fitted value the measurements cannot pin
	// down (it sits on the fit's bound, or moving it far changes nothing):
	// the model still needs a value, but it is not a measurement, and the
	// source says what the data does tell (often a bound). Unset elsewhere.
	Identified *bool `yaml:"identified,omitempty"`
}

// Device is an edge device or a server.
type Device struct {
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Kind  string `yaml:"kind"`  // "edge" or "server"
	Dtype string `yaml:"dtype"` // precision it runs inference in: "fp32" or "fp16"

	PeakGFLOPS       Number `yaml:"peak_gflops"` // dense peak at Dtype
	MemBandwidthGBps Number `yaml:"mem_bandwidth_gbps"`
	// CacheMB and CacheBandwidthGBps optionally make memory two-level: the
	// first CacheMB a layer moves go at cache speed (both or neither).
	CacheMB            Number `yaml:"cache_mb,omitempty"`
	CacheBandwidthGBps Number `yaml:"cache_bandwidth_gbps,omitempty"`
	MemoryMB           Number `yaml:"memory_mb"`
	LayerOverheadMS    Number `yaml:"layer_overhead_ms"` // fixed cost per layer (kernel launch / framework dispatch)

	// Efficiency maps an op class to the fraction of peak it reaches; the keys
	// are exactly EfficiencyKeys.
	Efficiency map[string]Number `yaml:"efficiency"`
	// OverheadMS optionally overrides LayerOverheadMS per op class
	// (OpClassKeys), as a calibration fits it.
	OverheadMS map[string]Number `yaml:"overhead_ms,omitempty"`

	ActivePowerW Number `yaml:"active_power_w"`
	IdlePowerW   Number `yaml:"idle_power_w"`

	// TensorEncodeMS and TensorDecodeMS are optional fixed costs per
	// tensor sent and received (serialization and framing a runtime pays
	// besides the pass over the values), as 'calibrate --runtime' fits
	// them from a run log; absent means 0.
	TensorEncodeMS Number `yaml:"tensor_encode_ms,omitempty"`
	TensorDecodeMS Number `yaml:"tensor_decode_ms,omitempty"`
	// IdleColdFrac and IdleTauMS are the optional idle-gap (cold-cache)
	// term, profile.IdleFactor: compute after an idle gap is
	// warm · (1 + idle_cold_frac · (1 − exp(−gap / idle_tau_ms))), as
	// 'calibrate --runtime' fits it from a run log; absent means none.
	IdleColdFrac Number `yaml:"idle_cold_frac,omitempty"`
	IdleTauMS    Number `yaml:"idle_tau_ms,omitempty"`
	// ComputeScale optionally multiplies the device's layer latencies,
	// measured or predicted, in (0, 1]: 'calibrate --runtime' fits it where
	// the profile over-predicts a run; absent means 1.
	ComputeScale Number `yaml:"compute_scale,omitempty"`

	// Measured optionally names an embedded measured latency table (see
	// MeasuredTable).
	Measured string `yaml:"measured,omitempty"`

	// Set by Catalog.DeviceStack (see Stack): the inference stack, the
	// stored precision when not Dtype, batch norm and activations folded
	// into convs, the cost of one call, and the expected error of a
	// latency predicted from these numbers.
	Stack            string `yaml:"stack,omitempty"`
	StorageDtype     string `yaml:"storage_dtype,omitempty"`
	FoldNormAct      bool   `yaml:"fold_norm_act,omitempty"`
	CallOverheadMS   Number `yaml:"call_overhead_ms,omitempty"`
	ExpectedErrorPct Number `yaml:"expected_error_pct,omitempty"`

	Line int    `yaml:"-"` // line in its file, for error messages
	File string `yaml:"-"`

	lines map[string]int // key path -> line, from the file it was read from
}

// Network is a link between an edge device and a server.
type Network struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`

	UplinkMbps   Number `yaml:"uplink_mbps"`
	DownlinkMbps Number `yaml:"downlink_mbps"`
	RTTMS        Number `yaml:"rtt_ms"`
	TxPowerW     Number `yaml:"tx_power_w"` // edge radio power while sending
	RxPowerW     Number `yaml:"rx_power_w"` // edge radio power while receiving
	// OverheadMS is an optional fixed cost of each request that crosses the
	// link (protocol round trips and framing beyond RTT/2 and the bytes),
	// as 'calibrate --runtime' fits it from a run log; absent means 0.
	OverheadMS Number `yaml:"overhead_ms,omitempty"`

	Line int    `yaml:"-"`
	File string `yaml:"-"`

	lines map[string]int
}

// Catalog is a set of devices, servers and networks. Treat it as read-only
// once loaded; Merge returns a new catalog.
type Catalog struct {
	Devices  []Device // kind edge
	Servers  []Device // kind server
	Networks []Network
	Stacks   []Stack // edge devices run by a named inference stack
}

//go:embed catalog/*.yaml
var catalogFS embed.FS

//go:embed measured/*.json
var measuredFS embed.FS

//go:embed published/edge_latency.csv
var publishedCSV []byte

// PublishedLatencyFile is the name of the embedded table of published
// batch-1 latencies that the stack entries are fitted to.
const PublishedLatencyFile = "published/edge_latency.csv"

// PublishedLatencies returns the embedded published latency table (CSV; see
// published/README.md).
func PublishedLatencies() []byte { return publishedCSV }

var defaultCatalog = sync.OnceValues(func() (*Catalog, error) {
	return loadFS(catalogFS, "catalog")
})

// Default returns the catalog embedded in the binary. It is parsed once; each
// call returns a deep copy, so callers may change what they get.
func Default() (*Catalog, error) {
	c, err := defaultCatalog()
	if err != nil {
		return nil, fmt.Errorf("embedded hardware catalog: %w", err)
	}
	return c.clone(), nil
}

// DefaultFiles lists the embedded catalog files, as "catalog/NAME.yaml".
func DefaultFiles() []string {
	names, _ := fs.Glob(catalogFS, "catalog/*.yaml")
	return names
}

// MeasuredTable returns the bytes of an embedded measured table referenced by
// Device.Measured.
func MeasuredTable(name string) ([]byte, error) {
	if name != "" && !strings.ContainsAny(name, `/\`) && fs.ValidPath(name) {
		if b, err := measuredFS.ReadFile("measured/" + name); err == nil {
			return b, nil
		}
	}
	return nil, &UnknownError{Kind: "measured table", Name: name, Known: MeasuredTables()}
}

// MeasuredTables lists the names of the embedded measured tables, sorted.
func MeasuredTables() []string {
	names, _ := fs.Glob(measuredFS, "measured/*.json")
	for i, n := range names {
		names[i] = path.Base(n)
	}
	sort.Strings(names)
	return names
}

// LoadFile reads one catalog file and validates it.
func LoadFile(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load hardware catalog: %w", err)
	}
	c, probs := parse(path, data)
	if c != nil {
		probs = append(probs, c.problems()...)
	}
	if len(probs) > 0 {
		return nil, newValidationError(probs)
	}
	return c, nil
}

// Load reads a catalog file, or every *.yaml and *.yml file in a directory
// (not its subdirectories) in name order, and validates the result as one
// catalog: an id defined in two files of one directory is an error (use Merge
// to override).
func Load(path string) (*Catalog, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load hardware catalog: %w", err)
	}
	if !st.IsDir() {
		return LoadFile(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("load hardware catalog: %w", err)
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if ext := strings.ToLower(filepath.Ext(e.Name())); ext == ".yaml" || ext == ".yml" {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load hardware catalog: %s: no *.yaml or *.yml files: %w", path, ErrInvalid)
	}
	return loadAll(files, os.ReadFile)
}

func loadFS(fsys fs.FS, dir string) (*Catalog, error) {
	files, err := fs.Glob(fsys, dir+"/*.yaml")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml files: %w", dir, ErrInvalid)
	}
	return loadAll(files, func(name string) ([]byte, error) { return fs.ReadFile(fsys, name) })
}

func loadAll(files []string, read func(string) ([]byte, error)) (*Catalog, error) {
	sort.Strings(files)
	all := &Catalog{}
	var probs []Problem
	for _, f := range files {
		data, err := read(f)
		if err != nil {
			return nil, fmt.Errorf("load hardware catalog: %w", err)
		}
		c, p := parse(f, data)
		probs = append(probs, p...)
		if c != nil {
			all.Devices = append(all.Devices, c.Devices...)
			all.Servers = append(all.Servers, c.Servers...)
			all.Networks = append(all.Networks, c.Networks...)
			all.Stacks = append(all.Stacks, c.Stacks...)
		}
	}
	probs = append(probs, all.problems()...)
	if len(probs) > 0 {
		return nil, newValidationError(probs)
	}
	return all, nil
}

// Merge returns a new catalog: c with o's entries added, an entry of o
// replacing the one of c with the same id and kind (in c's position). Neither
// c nor o is changed. A nil c or o counts as empty.
func (c *Catalog) Merge(o *Catalog) *Catalog {
	out := c.clone()
	if o == nil {
		return out
	}
	o = o.clone()
	out.Devices = mergeByID(out.Devices, o.Devices, func(d Device) string { return d.ID })
	out.Servers = mergeByID(out.Servers, o.Servers, func(d Device) string { return d.ID })
	out.Networks = mergeByID(out.Networks, o.Networks, func(n Network) string { return n.ID })
	out.Stacks = mergeByID(out.Stacks, o.Stacks, func(s Stack) string { return s.Device + "/" + s.Stack })
	return out
}

func mergeByID[T any](base, over []T, id func(T) string) []T {
	for _, e := range over {
		i := slices.IndexFunc(base, func(b T) bool { return id(b) == id(e) })
		if i >= 0 {
			base[i] = e
		} else {
			base = append(base, e)
		}
	}
	return base
}

// Device returns the edge device with the given id.
func (c *Catalog) Device(id string) (Device, error) {
	if c != nil {
		for _, d := range c.Devices {
			if d.ID == id {
				return d.clone(), nil
			}
		}
	}
	e := &UnknownError{Kind: "edge device", Name: id, Known: c.DeviceIDs()}
	if c != nil && slices.Contains(c.ServerIDs(), id) {
		e.Elsewhere = "a server"
	}
	return Device{}, e
}

// Server returns the server with the given id.
func (c *Catalog) Server(id string) (Device, error) {
	if c != nil {
		for _, d := range c.Servers {
			if d.ID == id {
				return d.clone(), nil
			}
		}
	}
	e := &UnknownError{Kind: "server", Name: id, Known: c.ServerIDs()}
	if c != nil && slices.Contains(c.DeviceIDs(), id) {
		e.Elsewhere = "an edge device"
	}
	return Device{}, e
}

// Network returns the network with the given id.
func (c *Catalog) Network(id string) (Network, error) {
	if c != nil {
		for _, n := range c.Networks {
			if n.ID == id {
				return n, nil
			}
		}
	}
	return Network{}, &UnknownError{Kind: "network", Name: id, Known: c.NetworkIDs()}
}

// DeviceIDs lists the edge device ids in catalog order.
func (c *Catalog) DeviceIDs() []string {
	if c == nil {
		return nil
	}
	return ids(c.Devices, func(d Device) string { return d.ID })
}

// ServerIDs lists the server ids in catalog order.
func (c *Catalog) ServerIDs() []string {
	if c == nil {
		return nil
	}
	return ids(c.Servers, func(d Device) string { return d.ID })
}

// NetworkIDs lists the network ids in catalog order.
func (c *Catalog) NetworkIDs() []string {
	if c == nil {
		return nil
	}
	return ids(c.Networks, func(n Network) string { return n.ID })
}

func ids[T any](s []T, id func(T) string) []string {
	out := make([]string, len(s))
	for i, e := range s {
		out[i] = id(e)
	}
	return out
}

// UnknownError is returned by the lookups for a name not in the catalog.
// errors.Is(err, ErrUnknown) holds for it.
type UnknownError struct {
	Kind      string   // "edge device", "server", "network", "measured table"
	Name      string   // what was asked for
	Known     []string // the valid names
	Elsewhere string   // set when Name exists as another kind, e.g. "a server"
}

func (e *UnknownError) Error() string {
	msg := fmt.Sprintf("unknown %s %q", e.Kind, e.Name)
	if len(e.Known) > 0 {
		msg += suggest.Hint(e.Name, e.Known)
	} else {
		msg += " (the catalog has none)"
	}
	if e.Elsewhere != "" {
		msg += fmt.Sprintf("; %q is %s", e.Name, e.Elsewhere)
	}
	return msg
}

// Is makes errors.Is(err, ErrUnknown) true.
func (e *UnknownError) Is(target error) bool { return target == ErrUnknown }

func (c *Catalog) clone() *Catalog {
	if c == nil {
		return &Catalog{}
	}
	out := &Catalog{
		Devices:  make([]Device, len(c.Devices)),
		Servers:  make([]Device, len(c.Servers)),
		Networks: slices.Clone(c.Networks),
		Stacks:   make([]Stack, len(c.Stacks)),
	}
	for i, s := range c.Stacks {
		s.Efficiency = maps.Clone(s.Efficiency)
		out.Stacks[i] = s
	}
	for i, d := range c.Devices {
		out.Devices[i] = d.clone()
	}
	for i, d := range c.Servers {
		out.Servers[i] = d.clone()
	}
	return out
}

// clone copies the Efficiency map; the lines map is never written after
// parsing, so it is shared.
func (d Device) clone() Device {
	d.Efficiency = maps.Clone(d.Efficiency)
	d.OverheadMS = maps.Clone(d.OverheadMS)
	return d
}
