package cli

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
	"github.com/mtlsplit/mtlsplit/milp"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/optimizer"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/profile"
)

// ProblemOptions are the flags shared by plan and sweep: what to split,
// where, over which network, for what objective and under which bounds.
type ProblemOptions struct {
	Model, Tasks                       string
	Input                              int
	Device, Stack, Server, Network, HW string
	UplinkMbps, RTTMS                  float64
	Objective, Weights                 string
	Encodings, Accuracy                string
	MaxEdgeMemoryMB                    float64
	MaxBytes                           int64
	DeadlineMS                         float64
	MinAccuracy                        string
	Solver, Granularity, Tiers         string
	Profile, ServerProfile             string
	// progress hears the ILP's solves (a count on a terminal).
	progress        func(solves int)
	TimeLimitS, Gap float64
	// flags tells which flags were given: an ONNX file's own input size
	// and tasks may be restated, not contradicted.
	flags *pflag.FlagSet
	// planFile is the file the plan goes to ("": none), which an ONNX
	// file's recorded path is relative to.
	planFile string
}

func (o *ProblemOptions) addFlags(fs *pflag.FlagSet) {
	o.flags = fs
	fs.IntVar(&o.Input, "input", 224, inputHelp)
	fs.StringVar(&o.Tasks, "tasks", "8,4", "classes per task head, comma-separated (8,4 = two tasks; "+tasksLimits+")")
	fs.StringVar(&o.Device, "device", "jetson-nano", "edge device id (see 'mtlsplit hw devices')")
	fs.StringVar(&o.Stack, "stack", "", "inference stack the edge device runs (see 'mtlsplit hw stacks'); default: the device's own entry")
	fs.StringVar(&o.Server, "server", "h100", "server id (see 'mtlsplit hw servers'); a list for more tiers: edge-server,cloud")
	fs.StringVar(&o.Network, "network", "4g", "network id (see 'mtlsplit hw networks'); a list with one network per hop for more tiers")
	fs.StringVar(&o.Profile, "profile", "", "measured profile of the edge device ('mtlsplit profile --measure --out'): measured latencies win")
	fs.StringVar(&o.ServerProfile, "server-profile", "", "measured profile of the server")
	fs.StringVar(&o.Tiers, "tiers", "", "names of the tiers, device first, e.g. device,edge-server,cloud (default edge,server,tier2,...)")
	fs.StringVar(&o.HW, "hw", "", "extra hardware catalog: a YAML file or a directory of them")
	fs.Float64Var(&o.UplinkMbps, "uplink-mbps", 0, "override the network's uplink bandwidth (Mbps)")
	fs.Float64Var(&o.RTTMS, "rtt-ms", -1, "override the network's round-trip time (ms)")
	fs.StringVar(&o.Objective, "objective", "latency", "what to minimize: latency|energy|weighted")
	fs.StringVar(&o.Weights, "weights", "", "task weights for --objective weighted, comma-separated (default 1 each)")
	fs.StringVar(&o.Encodings, "encodings", "fp32,fp16", "encodings allowed for the cut tensor: fp32,fp16,int8,int4")
	fs.StringVar(&o.Accuracy, "accuracy", "", "accuracy table (YAML: task, cut, encoding → accuracy)")
	fs.Float64Var(&o.MaxEdgeMemoryMB, "max-edge-memory-mb", 0, "edge memory bound for weights + peak activations (default: the device's memory)")
	fs.Int64Var(&o.MaxBytes, "max-bytes", 0, "most bytes sent per inference (0: no bound)")
	fs.Float64Var(&o.DeadlineMS, "deadline-ms", 0, "latest time every task may finish (0: no deadline)")
	fs.StringVar(&o.MinAccuracy, "min-accuracy", "", "accuracy floors: 0.9 for every task, or task1=0.9,task2=0.85")
	fs.StringVar(&o.Solver, "solver", "auto", "search method: auto (exhaustive for block cuts, ILP for layer cuts) | exhaustive | ilp")
	fs.StringVar(&o.Granularity, "granularity", "block", "what may be split: block (cuts between blocks) | layer (any layer, DAG cuts)")
	fs.Float64Var(&o.TimeLimitS, "time-limit", 0, "ILP time limit in seconds (0: none; the plan says whether optimality was proven)")
	fs.Float64Var(&o.Gap, "gap", 0, "ILP relative optimality gap at which to stop (0: prove optimality)")
}

// method picks the search method from --solver and --granularity.
func (o *ProblemOptions) method() (optimizer.Method, optimizer.Granularity, error) {
	gr := optimizer.Granularity(o.Granularity)
	if gr != optimizer.BlockLevel && gr != optimizer.LayerLevel {
		return nil, "", fmt.Errorf("--granularity %q: want block or layer", o.Granularity)
	}
	if o.TimeLimitS < 0 || o.Gap < 0 || math.IsNaN(o.TimeLimitS) || math.IsNaN(o.Gap) {
		return nil, "", fmt.Errorf("--time-limit and --gap must be non-negative")
	}
	ilp := optimizer.ILP{Granularity: gr, Settings: &milp.Settings{TimeLimit: time.Duration(o.TimeLimitS * float64(time.Second)), RelGap: o.Gap},
		Progress: o.progress}
	switch o.Solver {
	case "auto":
		if gr == optimizer.LayerLevel || len(strings.Split(o.Server, ",")) > 1 {
			return ilp, gr, nil
		}
		return optimizer.Exhaustive{}, gr, nil
	case "exhaustive":
		if len(strings.Split(o.Server, ",")) > 1 {
			return nil, "", fmt.Errorf("--solver exhaustive places on a device and one server; more tiers need --solver ilp (or auto)")
		}
		if gr == optimizer.LayerLevel {
			return nil, "", fmt.Errorf("--solver exhaustive searches block cuts only; use --solver ilp (or auto) with --granularity layer")
		}
		return optimizer.Exhaustive{}, gr, nil
	case "ilp":
		return ilp, gr, nil
	}
	return nil, "", fmt.Errorf("unknown --solver %q%s", o.Solver, suggest.Hint(o.Solver, []string{"auto", "exhaustive", "ilp"}))
}

// problemFromFlags builds the problem and what the plan records about it.
func (o *ProblemOptions) problem() (*optimizer.Problem, optimizer.PlanInfo, error) {
	var info optimizer.PlanInfo
	tasks, err := parseTasks(o.Tasks)
	if err != nil {
		return nil, info, err
	}
	if len(tasks) == 0 {
		return nil, info, fmt.Errorf("--tasks is empty: a split needs at least one task head")
	}
	g, outputs, err := loadGraph(o.Model, o.Input, tasks, changed(o.flags))
	if err != nil {
		return nil, info, err
	}
	if outputs != nil {
		if info.Source, err = plan.ONNXSource(o.Model, outputs, o.planFile); err != nil {
			return nil, info, err
		}
	}
	cat, err := hwprofiles.Default()
	if err != nil {
		return nil, info, internal(err)
	}
	if o.HW != "" {
		user, err := hwprofiles.Load(o.HW)
		if err != nil {
			return nil, info, err
		}
		cat = cat.Merge(user)
	}
	edgeDev, err := cat.Device(o.Device)
	if err == nil && o.Stack != "" {
		edgeDev, err = cat.DeviceStack(o.Device, o.Stack)
	}
	if err != nil {
		return nil, info, fmt.Errorf("--device/--stack: %w", err)
	}
	// One server per tier behind the device, one network per hop.
	serverIDs, netIDs := strings.Split(o.Server, ","), strings.Split(o.Network, ",")
	if len(serverIDs) != len(netIDs) {
		return nil, info, fmt.Errorf("--server names %d tier(s) and --network %d hop(s): give one network per hop, e.g. --server epyc-16c,h100 --network wifi6,5g", len(serverIDs), len(netIDs))
	}
	if o.Tiers != "" && len(strings.Split(o.Tiers, ",")) != 1+len(serverIDs) {
		return nil, info, fmt.Errorf("--tiers %q names %d tiers, but the device and --server give %d", o.Tiers, len(strings.Split(o.Tiers, ",")), 1+len(serverIDs))
	}
	servers := make([]hwprofiles.Device, len(serverIDs))
	nets := make([]hwprofiles.Network, len(netIDs))
	for i := range serverIDs {
		if servers[i], err = cat.Server(strings.TrimSpace(serverIDs[i])); err != nil {
			return nil, info, fmt.Errorf("--server: %w", err)
		}
		if nets[i], err = cat.Network(strings.TrimSpace(netIDs[i])); err != nil {
			return nil, info, fmt.Errorf("--network: %w", err)
		}
	}
	serverDev, net := servers[0], nets[0]
	p, err := optimizer.NewProblem(g, edgeDev, serverDev, net)
	if err != nil {
		return nil, info, err
	}
	for i := 1; i < len(servers); i++ {
		side, err := optimizer.NewSide(g, servers[i])
		if err != nil {
			return nil, info, err
		}
		p.Tiers = append(p.Tiers, side)
		p.Links = append(p.Links, optimizer.NewLink(nets[i]))
	}
	if o.Tiers != "" {
		for k, name := range strings.Split(o.Tiers, ",") {
			p.Tiers[k].Tier = name
		}
	}
	for _, m := range []struct {
		path string
		side *optimizer.Side
		dev  hwprofiles.Device
	}{{o.Profile, &p.Tiers[0], edgeDev}, {o.ServerProfile, &p.Tiers[1], serverDev}} {
		if m.path == "" {
			continue
		}
		if m.side.Latency, err = measuredLatency(m.path, g, m.dev); err != nil {
			return nil, info, err
		}
	}
	p.Objective = optimizer.Objective(o.Objective)
	if o.UplinkMbps != 0 {
		if !(o.UplinkMbps > 0) || math.IsInf(o.UplinkMbps, 0) {
			return nil, info, fmt.Errorf("--uplink-mbps %g: must be a positive bandwidth", o.UplinkMbps)
		}
		p.Links[0].UplinkMbps = o.UplinkMbps
	}
	if o.RTTMS != -1 {
		if o.RTTMS < 0 || math.IsInf(o.RTTMS, 0) || math.IsNaN(o.RTTMS) {
			return nil, info, fmt.Errorf("--rtt-ms %g: must be a non-negative time", o.RTTMS)
		}
		p.Links[0].RTTMS = o.RTTMS
	}
	if p.Encodings, err = codec.Parse(o.Encodings); err != nil {
		return nil, info, fmt.Errorf("--encodings: %w", err)
	}
	if p.TaskWeights, err = parseFloats(o.Weights, "--weights"); err != nil {
		return nil, info, err
	}
	if o.Weights != "" && p.Objective != optimizer.Weighted {
		return nil, info, fmt.Errorf("--weights needs --objective weighted")
	}
	if o.Accuracy != "" {
		if p.Accuracy, err = profile.LoadAccuracy(o.Accuracy); err != nil {
			return nil, info, err
		}
		if err := p.Accuracy.Check(g); err != nil {
			return nil, info, fmt.Errorf("accuracy table: %w", err)
		}
	}
	if err := o.constraints(p); err != nil {
		return nil, info, err
	}
	return p, info, p.Validate()
}

func (o *ProblemOptions) constraints(p *optimizer.Problem) error {
	c := &p.Constraints
	memMB := float64(c.MaxEdgeMemoryBytes) / 1e6 // the device's memory
	if o.MaxEdgeMemoryMB != 0 {
		memMB = o.MaxEdgeMemoryMB
	}
	for name, v := range map[string]float64{"--max-edge-memory-mb": memMB, "--deadline-ms": o.DeadlineMS, "--max-bytes": float64(o.MaxBytes)} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s %g: must be a non-negative number", name, v)
		}
	}
	c.MaxEdgeMemoryBytes = int64(memMB * 1e6)
	c.MaxBytes = o.MaxBytes
	c.DeadlineMS = o.DeadlineMS
	if o.MinAccuracy == "" {
		return nil
	}
	c.MinAccuracy = map[string]float64{}
	if v, err := strconv.ParseFloat(o.MinAccuracy, 64); err == nil {
		for _, h := range p.Graph.Heads {
			c.MinAccuracy[h.Task] = v
		}
		return nil
	}
	for _, kv := range strings.Split(o.MinAccuracy, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil || k == "" {
			return fmt.Errorf("--min-accuracy %q: want 0.9 or task1=0.9,task2=0.85", o.MinAccuracy)
		}
		// A second floor for a task would silently replace the first.
		if prev, dup := c.MinAccuracy[k]; dup {
			return fmt.Errorf("--min-accuracy %q gives task %s two floors (%g and %g): give each task once", o.MinAccuracy, k, prev, f)
		}
		c.MinAccuracy[k] = f
	}
	return nil
}

// maxTasks bounds --tasks: the exhaustive search tries every placement of
// the heads at the end of the backbone, 2^16 of them at 16 tasks.
const maxTasks = 16

// The bounds of --input and --tasks, for help texts.
var (
	inputHelp   = fmt.Sprintf("square input size in pixels (1 to %d)", model.MaxInputSize)
	tasksLimits = fmt.Sprintf("at most %d tasks of 1 to %d classes", maxTasks, model.MaxClasses)
)

// parseTasks parses "8,4" into class counts.
func parseTasks(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	fields := strings.Split(s, ",")
	if len(fields) > maxTasks {
		return nil, fmt.Errorf("--tasks %q names %d tasks: at most %d (the search tries all 2^tasks placements of the heads)", s, len(fields), maxTasks)
	}
	var out []int
	for _, f := range fields {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > model.MaxClasses {
			return nil, fmt.Errorf("--tasks %q: each task is a number of classes from 1 to %d, e.g. --tasks 8,4", s, model.MaxClasses)
		}
		out = append(out, k)
	}
	return out, nil
}

// checkInput bounds --input for zoo models (ONNX files fix their own).
func checkInput(size int) error {
	if size < 1 || size > model.MaxInputSize {
		return fmt.Errorf("--input %d: zoo models take square inputs of 1 to %d px", size, model.MaxInputSize)
	}
	return nil
}

func parseFloats(s, flag string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s %q: want comma-separated numbers", flag, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// exactArgs requires n positional arguments, naming them in the error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s needs %s, got %d arguments (see '%s --help')", cmd.CommandPath(), names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// measuredLatency reads a measured profile and takes the graph's latencies
// from it (the device's cost model fills what it lacks); a profile that
// does not cover the graph is an error, not a silent prediction.
func measuredLatency(path string, g *model.Graph, d hwprofiles.Device) (*profile.Latency, error) {
	t, err := profile.LoadTable(path)
	if err != nil {
		return nil, err
	}
	l, err := profile.Measured{File: filepath.Base(path), Table: t, Fallback: d.CostModel()}.Latency(g)
	if err != nil {
		return nil, err
	}
	if l.Source == "predicted" {
		var have []string
		for name := range t.Backbones {
			have = append(have, name)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("%s has no measurements of %s at %d px (it has %s at %d px)", path, g.Name, g.InputSize, strings.Join(have, ", "), t.Meta.Size)
	}
	return l, nil
}

// loadGraph builds a zoo model, or imports an ONNX file with its task heads
// (onnxGraph) and returns its output names too; given says which flags the
// user set.
func loadGraph(name string, size int, tasks []int, given func(flag string) bool) (*model.Graph, []string, error) {
	if !strings.HasSuffix(strings.ToLower(name), ".onnx") {
		if err := checkInput(size); err != nil {
			return nil, nil, err
		}
		g, err := model.New(name, size, tasks)
		return g, nil, err
	}
	return onnxGraph(name, onnxFlags{size: size, sizeFlag: "input", tasks: tasks, given: given})
}
