package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
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

// knownEncoding reports whether e is a wire encoding, optionally followed by
// the lossless stage.
func knownEncoding(e string) bool {
	return codec.Encoding(e).Bytes(1) > 0 && strings.Count(e, zstd) <= 1
}

func validEncodings() []string { return append(codec.Names(), string(codec.Raw)) }

// checkEncoding checks a choice's encoding: a wire encoding, none or mixed.
func checkEncoding(r *strictyaml.Report, path, e string) {
	if e != encNone && e != encMixed && !knownEncoding(e) {
		r.OneOf(path, e, append(validEncodings(), encNone, encMixed)...)
	}
}

// uplink are the indices of the tensors the device's uplink carries.
func uplink(tensors []CutTensor) []int {
	var idx []int
	for i, t := range tensors {
		if t.Hop == 1 {
			idx = append(idx, i)
		}
	}
	return idx
}

func uplinkBytes(tensors []CutTensor) int64 {
	var n int64
	for _, i := range uplink(tensors) {
		n += tensors[i].Bytes
	}
	return n
}

func (p *Plan) checkChoice(r *strictyaml.Report) {
	c := p.Choice
	p.checkPlacement(r, "choice", "cut_tensors", c.Cut, c.Encoding, c.Heads, c.NodeTiers, p.CutTensors)
	for _, b := range c.EdgeBlocks {
		if slices.Contains(c.ServerBlocks, b) {
			r.Addf("choice.server_blocks", "lists %s, which choice.edge_blocks lists too", b)
		}
	}
}

// checkPlacement checks a placement (node tiers, heads, tensors) and its
// labels (cut, encoding) against each other; path is where the labels and
// node tiers are, tpath where the tensors are.
func (p *Plan) checkPlacement(r *strictyaml.Report, path, tpath, cut, enc string, heads map[string]string, nodeTiers []int, tensors []CutTensor) {
	if cut == "" {
		r.Addf(path+".cut", "is empty")
	}
	checkEncoding(r, path+".encoding", enc)
	p.checkHeads(r, path+".heads", heads)
	p.checkNodeTiers(r, path+".node_tiers", nodeTiers)
	p.checkTensors(r, tpath, nodeTiers, tensors)
	sent := uplink(tensors)
	switch enc {
	case encNone:
		if len(sent) > 0 {
			r.Addf(path+".encoding", "is none, but %s lists %d tensor(s) on the device's uplink", tpath, len(sent))
		}
		for _, t := range p.Model.Tasks {
			if s, ok := heads[t.Name]; ok && len(p.Tiers) > 0 && s != p.Tiers[0].Name {
				r.Addf(path+".heads."+t.Name, "is %q, but nothing leaves the device (%s.encoding none)", s, path)
			}
		}
	case encMixed:
		encs := map[string]bool{}
		for _, i := range sent {
			encs[tensors[i].Encoding] = true
		}
		if len(encs) < 2 {
			r.Addf(path+".encoding", "is mixed, but the tensors on the device's uplink use %d encoding(s)", len(encs))
		}
	default:
		if len(sent) == 0 {
			r.Addf(path+".encoding", "is %s, but %s lists no tensor on the device's uplink (want encoding none)", enc, tpath)
		}
		for _, i := range sent {
			if e := tensors[i].Encoding; e != enc {
				r.Addf(fmt.Sprintf("%s[%d].encoding", tpath, i), "%s does not match %s.encoding %s", e, path, enc)
			}
		}
	}
	if cut == "input" && (len(sent) != 1 || tensors[sent[0]].Node != 0) {
		r.Addf(path+".cut", "is input, but the device's uplink does not carry the input image (node 0) alone")
	}
}

// checkNodeTiers checks that every node is on a tier and the input on the
// device.
func (p *Plan) checkNodeTiers(r *strictyaml.Report, path string, nodeTiers []int) {
	if len(nodeTiers) == 0 {
		r.Addf(path, "is empty (version %d plans place every node on a tier)", Version)
		return
	}
	if nodeTiers[0] != 0 {
		r.Addf(path+"[0]", "is %d, but the input (node 0) is on the device (tier 0)", nodeTiers[0])
	}
	for i, k := range nodeTiers {
		if k < 0 || k >= p.numTiers() {
			r.Addf(fmt.Sprintf("%s[%d]", path, i), "is %d, but the plan has tiers 0 to %d", k, p.numTiers()-1)
		}
	}
}

// checkTensors checks tensors sent over hops against the node tiers: each
// leaves a node on a tier before its hop, in a known encoding, with the
// bytes that encoding gives its shape.
func (p *Plan) checkTensors(r *strictyaml.Report, tpath string, nodeTiers []int, tensors []CutTensor) {
	tiers := p.numTiers()
	for i, t := range tensors {
		path := fmt.Sprintf("%s[%d]", tpath, i)
		if t.Name == "" {
			r.Addf(path+".name", "is empty")
		}
		if t.Hop < 1 || t.Hop >= tiers {
			r.Addf(path+".hop", "is %d, but the plan has hops 1 to %d", t.Hop, tiers-1)
		}
		if t.Node < 0 || t.Node >= len(nodeTiers) {
			r.Addf(path+".node", "is %d, not a node of the graph (0 to %d)", t.Node, len(nodeTiers)-1)
		} else if k := nodeTiers[t.Node]; k >= t.Hop {
			r.Addf(path+".hop", "is %d, but node %d runs on tier %d, behind that hop", t.Hop, t.Node, k)
		}
		if i > 0 && (t.Hop < tensors[i-1].Hop || (t.Hop == tensors[i-1].Hop && t.Node <= tensors[i-1].Node)) {
			r.Addf(path, "is out of wire order (by hop, then node) or repeated")
		}
		if !knownEncoding(t.Encoding) {
			r.OneOf(path+".encoding", t.Encoding, validEncodings()...)
			continue
		}
		if (t.Encoding == string(codec.Raw)) != (t.Node == 0) {
			r.Addf(path+".encoding", "is %s for node %d, but uint8 is the encoding of the input image (node 0) only", t.Encoding, t.Node)
		}
		checkBytes(r, path, t)
	}
}

// checkBytes checks a tensor's bytes against its encoding and shape.
func checkBytes(r *strictyaml.Report, path string, t CutTensor) {
	shape := t.Shape
	if len(shape) == 0 {
		r.Addf(path+".shape", "is missing (a plan gives every cut tensor's shape)")
		return
	}
	elems := int64(1)
	for _, d := range shape {
		if d < 1 || elems*int64(d) > maxElems {
			r.Addf(path+".shape", "%v is not a tensor shape (positive dimensions, at most 2^40 values)", shape)
			return
		}
		elems *= int64(d)
	}
	base := strings.TrimSuffix(t.Encoding, zstd)
	want := codec.Encoding(base).Bytes(elems)
	if base != t.Encoding {
		// The lossless stage's size is measured; zstd grows incompressible
		// data by at most a frame header and 3 bytes per 128 KiB block.
		if limit := want + 32 + 3*(want/(128<<10)+1); t.Bytes < 1 || t.Bytes > limit {
			r.Addf(path+".bytes", "%d is not a size %s can have for a %s tensor (1 to %d)", t.Bytes, t.Encoding, dims(shape), limit)
		}
		return
	}
	if t.Bytes != want {
		r.Addf(path+".bytes", "%d does not match encoding %s of a %s tensor (%d)", t.Bytes, t.Encoding, dims(shape), want)
	}
}

func dims(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

func (p *Plan) checkPredicted(r *strictyaml.Report, path string, pr Predicted) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"total_ms", pr.TotalMS}, {"edge_ms", pr.EdgeMS}, {"network_ms", pr.NetworkMS}, {"server_ms", pr.ServerMS},
		{"edge_energy_mj", pr.EdgeEnergyMJ}, {"edge_memory_mb", pr.EdgeMemoryMB}} {
		r.Number(path+"."+f.name, f.v, strictyaml.NonNegative)
	}
	if pr.Bytes < 0 {
		r.Addf(path+".bytes", "is %d (want ≥ 0)", pr.Bytes)
	}
	for _, t := range p.Model.Tasks {
		v, ok := pr.TaskMS[t.Name]
		if !ok {
			r.Addf(path+".task_ms", "has no time for task %s", t.Name)
			continue
		}
		r.Number(path+".task_ms."+t.Name, v, strictyaml.NonNegative)
		// The makespan is when the last task finishes.
		if v > pr.TotalMS*(1+1e-9) {
			r.Addf(path+".task_ms."+t.Name, "%g ms is later than total_ms %g", v, pr.TotalMS)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(pr.TaskMS)) {
		if !p.hasTask(t) {
			r.Addf(path+".task_ms."+t, "names no task of the model")
		}
	}
	for _, t := range slices.Sorted(maps.Keys(pr.Accuracy)) {
		if !p.hasTask(t) {
			r.Addf(path+".accuracy."+t, "names no task of the model")
		} else if a := pr.Accuracy[t]; a != nil {
			r.Number(path+".accuracy."+t, *a, strictyaml.Fraction)
		}
	}
}

func (p *Plan) checkOption(r *strictyaml.Report, path string, o Option) {
	if o.Cut == "" {
		r.Addf(path+".cut", "is empty")
	}
	checkEncoding(r, path+".encoding", o.Encoding)
	p.checkHeads(r, path+".heads", o.Heads)
	p.checkPredicted(r, path+".predicted", o.Predicted)
}

func (p *Plan) checkSwitch(r *strictyaml.Report, path string, s Switch) {
	r.Number(path+".from_mbps", s.FromMbps, strictyaml.Positive)
	r.Number(path+".to_mbps", s.ToMbps, strictyaml.Positive)
	if s.FromMbps > s.ToMbps {
		r.Addf(path, "runs from %g to %g Mbps, backwards", s.FromMbps, s.ToMbps)
	}
	if !s.Feasible {
		return
	}
	p.checkPlacement(r, path, path+".cut_tensors", s.Cut, s.Encoding, s.Heads, s.NodeTiers, s.CutTensors)
	r.Number(path+".objective_from", s.ObjectiveFrom, strictyaml.NonNegative)
	r.Number(path+".objective_to", s.ObjectiveTo, strictyaml.NonNegative)
}

func (p *Plan) checkSwitches(r *strictyaml.Report) {
	lo, hi := p.ValidUplinkMbps[0], p.ValidUplinkMbps[1]
	r.Number("valid_uplink_mbps[0]", lo, strictyaml.Positive)
	r.Number("valid_uplink_mbps[1]", hi, strictyaml.Positive)
	if lo > hi {
		r.Addf("valid_uplink_mbps", "[%g, %g] is not a range", lo, hi)
	}
	if p.Below != nil {
		p.checkSwitch(r, "below", *p.Below)
		if p.Below.ToMbps != lo {
			r.Addf("below.to_mbps", "%g is not where valid_uplink_mbps starts (%g)", p.Below.ToMbps, lo)
		}
	}
	if p.Above != nil {
		p.checkSwitch(r, "above", *p.Above)
		if p.Above.FromMbps != hi {
			r.Addf("above.from_mbps", "%g is not where valid_uplink_mbps ends (%g)", p.Above.FromMbps, hi)
		}
	}
	if up := p.Uplink().UplinkMbps; up < lo || up > hi {
		r.Addf("tiers[1].uplink_mbps", "%g lies outside valid_uplink_mbps [%g, %g], where the choice is optimal", up, lo, hi)
	}
	own := -1 // the row of the choice
	for i, s := range p.SwitchTable {
		path := fmt.Sprintf("switch_table[%d]", i)
		p.checkSwitch(r, path, s)
		if i > 0 && s.FromMbps != p.SwitchTable[i-1].ToMbps {
			r.Addf(path+".from_mbps", "%g does not continue the row before, which ends at %g", s.FromMbps, p.SwitchTable[i-1].ToMbps)
		}
		if s.FromMbps == lo && s.ToMbps == hi {
			own = i
		}
	}
	c := p.Choice
	switch {
	case len(p.SwitchTable) == 0:
	case own < 0:
		r.Addf("valid_uplink_mbps", "[%g, %g] is no row of switch_table", lo, hi)
	default:
		// Structurally: the same nodes on the same tiers, the same results
		// from the same tiers, the same tensors sent the same way.
		if s := p.SwitchTable[own]; !s.Feasible || !slices.Equal(s.NodeTiers, c.NodeTiers) || !maps.Equal(s.Heads, c.Heads) || !sameTensors(s.CutTensors, p.CutTensors) {
			r.Addf(fmt.Sprintf("switch_table[%d]", own), "(the row of valid_uplink_mbps) is not the choice's placement: cut %s, %s, heads %v against %s, %s, heads %v",
				s.Cut, s.Encoding, s.Heads, c.Cut, c.Encoding, c.Heads)
		}
	}
}

// sameTensors compares what two placements send (names and shapes are
// labels).
func sameTensors(a, b []CutTensor) bool {
	return slices.EqualFunc(a, b, func(x, y CutTensor) bool {
		return x.Node == y.Node && x.Hop == y.Hop && x.Encoding == y.Encoding && x.Bytes == y.Bytes
	})
}
