package export

import (
	"path/filepath"
	"slices"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// programRunner runs a tier's nodes of an engine program compiled with
// every sent tensor kept: how the split runtime runs a plan.
type programRunner struct {
	prog *engine.Program
	// tierOf says whether tier k computes node id.
	tierOf func(k, id int) bool
	// node maps each tensor name of the files to its node.
	node map[string]int
	// outputs lists each tier's output names.
	outputs [][]string
}

func (r *programRunner) run(k int, in map[string][]float32) (map[string][]float32, error) {
	var image []float32
	for name, x := range in {
		if name == onnx.InputName && k == 0 {
			image = x
			continue
		}
		if err := r.prog.SetTensor(r.node[name], x); err != nil {
			return nil, err
		}
	}
	if err := r.prog.RunNodes(func(id int) bool { return id > 0 && r.tierOf(k, id) }, image); err != nil {
		return nil, err
	}
	out := map[string][]float32{}
	for _, name := range r.outputs[k] {
		x, err := r.prog.Tensor(r.node[name])
		if err != nil {
			return nil, err
		}
		out[name] = x
	}
	return out, nil
}

func (r *programRunner) close() { r.prog.Close() }

// outputs names tier k's file's outputs in order.
func (b *Bundle) outputs(k int) []string {
	var out []string
	for _, f := range b.Manifest.Files {
		if f.Tier == k {
			out = names(f.Outputs)
		}
	}
	return out
}

// ports names every file's outputs by tier and maps every tensor name to
// the node of the plan's graph whose output it is.
func (b *Bundle) ports() (map[string]int, [][]string) {
	node := map[string]int{onnx.InputName: 0}
	outputs := make([][]string, len(b.Parts))
	for k := range outputs {
		outputs[k] = b.outputs(k)
	}
	for id, name := range tensorNames(b.d) {
		node[name] = id
	}
	for t, h := range b.d.Graph.Heads {
		node[b.d.Plan.Model.Tasks[t].Name] = h.Output
	}
	return node, outputs
}

// referenceRunner runs the plan's model on the engine as the split runtime
// does.
func (b *Bundle) referenceRunner() (*programRunner, error) {
	prog, err := b.d.Compile(b.seed, engine.Options{Threads: 1})
	if err != nil {
		return nil, err
	}
	node, outputs := b.ports()
	tier := b.d.Placement.NodeTier
	return &programRunner{prog: prog, node: node, outputs: outputs, tierOf: func(k, id int) bool { return tier[id] == k }}, nil
}

// fullModel is every task's result of the plan's model, unsplit, run by
// prog (the reference's program: RunAll runs every node).
func (b *Bundle) fullModel(prog *engine.Program, x []float32) (map[string][]float32, error) {
	_, heads, err := prog.RunAll(x)
	if err != nil {
		return nil, err
	}
	out := map[string][]float32{}
	for t, h := range heads {
		out[b.d.Plan.Model.Tasks[t].Name] = h
	}
	return out, nil
}

// engineRunner reads the files back through the ONNX importer, joined into
// one model, and runs each file's nodes as its tier.
func (b *Bundle) engineRunner() (*programRunner, error) {
	var files [][]byte
	var tierOfFile []int
	for k, p := range b.Parts {
		if p != nil {
			files = append(files, p)
			tierOfFile = append(tierOfFile, k)
		}
	}
	var tasks []string
	for _, t := range b.d.Plan.Model.Tasks {
		tasks = append(tasks, t.Name)
	}
	j, err := onnx.Join(files, tasks, b.d.Plan.Model.Name, b.d.Plan.Model.InputSize)
	if err != nil {
		return nil, err
	}
	w, err := engine.NewWeights(j.Graph)
	if err != nil {
		return nil, err
	}
	if err := w.SetAll(j.Weights); err != nil {
		return nil, err
	}
	_, outputs := b.ports()
	opts := engine.Options{Threads: 1}
	for name, id := range j.Tensor {
		if name != onnx.InputName {
			opts.Keep = append(opts.Keep, id)
		}
	}
	prog, err := engine.Compile(j.Graph, w, opts)
	if err != nil {
		return nil, err
	}
	return &programRunner{prog: prog, node: j.Tensor, outputs: outputs,
		tierOf: func(k, id int) bool { return tierOfFile[j.File[id]] == k }}, nil
}

// Paths lists the bundle's files in a stable order.
func (b *Bundle) Paths() []string {
	var ps []string
	for p := range b.Files {
		ps = append(ps, filepath.ToSlash(p))
	}
	slices.Sort(ps)
	return ps
}
