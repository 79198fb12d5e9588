package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
)

// Validate cross-checks the plan against itself — choice, cut tensors,
// their bytes and encodings, tasks and heads, tiers, switch table rows,
// predicted costs — and reports every inconsistency in one error, each at
// its field path.
func (p *Plan) Validate() error {
	r := strictyaml.NewReport("", nil)
	p.check(r)
	return r.Err()
}

// Encodings that a plan may name besides the wire encodings.
const (
	encNone  = "none"  // nothing crosses: everything runs on the device
	encMixed = "mixed" // the tensors of a DAG cut travel in different encodings
	zstd     = "+zstd" // a lossless stage after an encoding
)

// maxElems bounds a tensor's element count so a hostile shape cannot
// overflow the byte arithmetic (2^40 values is far beyond any feature map).
const maxElems = 1 << 40

func (p *Plan) check(r *strictyaml.Report) {
	if p.Version != Version {
		r.Addf("version", "%s", versionMessage(p.Version))
		return // the rest would only list what the other schema lacks
	}
	p.checkModel(r)
	p.checkTiers(r)
	r.OneOf("objective", p.Objective, "latency", "energy", "weighted")
	p.checkConstraints(r)
	p.checkSolver(r)
	p.checkChoice(r)
	p.checkPredicted(r, "predicted", p.Predicted)
	if want := uplinkBytes(p.CutTensors); p.Predicted.Bytes != want {
		r.Addf("predicted.bytes", "%d is not the %d bytes of the cut tensors the device sends", p.Predicted.Bytes, want)
	}
	for name, o := range map[string]Option{"local_only": p.Baselines.LocalOnly, "remote_only": p.Baselines.RemoteOnly, "mtl_split": p.Baselines.MTLSplit} {
		p.checkOption(r, "baselines."+name, o)
	}
	for i, o := range p.Pareto {
		p.checkOption(r, fmt.Sprintf("pareto[%d]", i), o)
	}
	p.checkSwitches(r)
}

func (p *Plan) checkModel(r *strictyaml.Report) {
	m := p.Model
	if m.Name == "" {
		r.Addf("model.name", "is empty")
	}
	if m.Hash == "" {
		r.Addf("model.hash", "is empty (a runtime checks it against the graph it runs)")
	}
	if m.InputSize < 1 {
		r.Addf("model.input_size", "is %d (want a positive number of pixels)", m.InputSize)
	}
	if len(m.Tasks) == 0 {
		r.Addf("model.tasks", "is empty (a plan has at least one task)")
	}
	seen := map[string]bool{}
	for i, t := range m.Tasks {
		path := fmt.Sprintf("model.tasks[%d]", i)
		uniqueName(r, path+".name", "task", t.Name, seen)
		if t.Classes < 1 {
			r.Addf(path+".classes", "is %d (want at least 1)", t.Classes)
		}
	}
	if m.Source != nil {
		checkSource(r, *m.Source, len(m.Tasks))
	}
}

// checkSource checks the model's source: an ONNX file needs its path, its
// SHA-256 and its outputs (one per task when it has several); a zoo model
// names no file.
func checkSource(r *strictyaml.Report, s Source, tasks int) {
	const at = "model.source"
	r.OneOf(at+".kind", s.Kind, SourceONNX, SourceZoo)
	if s.Kind != SourceONNX {
		if s.Kind == SourceZoo && (s.Path != "" || s.SHA256 != "" || len(s.Outputs) > 0) {
			r.Addf(at+".kind", "is zoo, which names no file: path, sha256 and outputs belong to kind onnx")
		}
		return
	}
	if s.Path == "" {
		r.Addf(at+".path", "is empty (the ONNX file the plan was made from)")
	}
	if !isSHA256(s.SHA256) {
		r.Addf(at+".sha256", "%q is not a SHA-256 (want 64 lowercase hex digits)", s.SHA256)
	}
	for i, o := range s.Outputs {
		if o == "" || slices.Contains(s.Outputs[:i], o) {
			r.Addf(fmt.Sprintf("%s.outputs[%d]", at, i), "%q is empty or listed before (want the file's distinct output names)", o)
		}
	}
	if n := len(s.Outputs); n == 0 || (n > 1 && n != tasks) {
		r.Addf(at+".outputs", "lists %d output(s) for %d task(s) (want one output, or one per task)", n, tasks)
	}
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// uniqueName checks that a name is given and not given before.
func uniqueName(r *strictyaml.Report, path, what, name string, seen map[string]bool) {
	switch {
	case name == "":
		r.Addf(path, "is empty")
	case seen[name]:
		r.Addf(path, "%q names a %s twice", name, what)
	}
	seen[name] = true
}

func checkLink(r *strictyaml.Report, path string, up, down, rtt float64) {
	r.Number(path+".uplink_mbps", up, strictyaml.Positive)
	r.Number(path+".downlink_mbps", down, strictyaml.Positive)
	r.Number(path+".rtt_ms", rtt, strictyaml.NonNegative)
}

// versionMessage says why a plan of another schema version is refused.
func versionMessage(v int) string {
	if v >= 1 && v < Version {
		return fmt.Sprintf("is %d: this build reads version %d plans, which place every node on a tier; regenerate the plan with 'mtlsplit plan' (same flags)", v, Version)
	}
	return fmt.Sprintf("is %d (this build reads version %d)", v, Version)
}

func (p *Plan) numTiers() int { return len(p.Tiers) }

func (p *Plan) checkTiers(r *strictyaml.Report) {
	if len(p.Tiers) < 2 {
		r.Addf("tiers", "lists %d tier(s) (want the device and at least one tier behind it)", len(p.Tiers))
	}
	seen := map[string]bool{}
	for k, t := range p.Tiers {
		path := fmt.Sprintf("tiers[%d]", k)
		uniqueName(r, path+".name", "tier", t.Name, seen)
		if t.Device == "" {
			r.Addf(path+".device", "is empty")
		}
		r.Number(path+".expected_error_pct", t.ExpectedErrorPct, strictyaml.NonNegative)
		if k == 0 {
			if t.Network != "" || t.UplinkMbps != 0 || t.DownlinkMbps != 0 || t.RTTMS != 0 {
				r.Addf(path+".network", "is %q, but the device's tier has no network into it", t.Network)
			}
			continue
		}
		if t.Network == "" {
			r.Addf(path+".network", "is empty")
		}
		checkLink(r, path, t.UplinkMbps, t.DownlinkMbps, t.RTTMS)
	}
}

func (p *Plan) checkConstraints(r *strictyaml.Report) {
	c := p.Constraints
	r.Number("constraints.max_edge_memory_mb", c.MaxEdgeMemoryMB, strictyaml.NonNegative)
	if c.MaxBytes < 0 {
		r.Addf("constraints.max_bytes", "is %d (want ≥ 0)", c.MaxBytes)
	}
	r.Number("constraints.deadline_ms", c.DeadlineMS, strictyaml.NonNegative)
	for _, task := range slices.Sorted(maps.Keys(c.MinAccuracy)) {
		path := "constraints.min_accuracy." + task
		if !p.hasTask(task) {
			r.Addf(path, "names no task of the model (%s)", strings.Join(p.taskNames(), ", "))
		}
		r.Number(path, c.MinAccuracy[task], strictyaml.Fraction)
	}
}

func (p *Plan) checkSolver(r *strictyaml.Report) {
	s := p.Solver
	if s.Name == "" {
		r.Addf("solver.name", "is empty")
	}
	r.OneOf("solver.granularity", s.Granularity, "block", "layer")
	r.Number("solver.objective", s.Objective, strictyaml.NonNegative)
	r.Number("solver.solve_ms", s.SolveMS, strictyaml.NonNegative)
	if s.Solves < 0 || s.Candidates < 0 {
		r.Addf("solver", "counts %d solves and %d candidates (want ≥ 0)", s.Solves, s.Candidates)
	}
}

func (p *Plan) taskNames() []string {
	names := make([]string, len(p.Model.Tasks))
	for i, t := range p.Model.Tasks {
		names[i] = t.Name
	}
	return names
}

func (p *Plan) hasTask(name string) bool { return slices.Contains(p.taskNames(), name) }

// checkHeads checks that heads places every task, and only tasks, on a side.
func (p *Plan) checkHeads(r *strictyaml.Report, path string, heads map[string]string) {
	sides := p.TierNames()
	for _, t := range p.Model.Tasks {
		s, ok := heads[t.Name]
		switch {
		case !ok:
			r.Addf(path, "places no head for task %s", t.Name)
		case !slices.Contains(sides, s):
			r.Addf(path+"."+t.Name, "is %q (want one of %s)", s, strings.Join(sides, ", "))
		}
	}
	for _, t := range slices.Sorted(maps.Keys(heads)) {
		if !p.hasTask(t) {
			r.Addf(path+"."+t, "names no task of the model (%s)", strings.Join(p.taskNames(), ", "))
		}
	}
}
