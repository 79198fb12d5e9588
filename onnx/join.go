package onnx

import (
	"fmt"
	"slices"
)

// Joined is the network the files of a split (written with Part) make
// together, imported as one model: each file's inputs are the outputs of
// an earlier file with the same names, the first file's input is the
// image.
type Joined struct {
	*Imported
	// File gives, by node ID, the index of the file that computes the
	// node (0 for the image input).
	File []int
	// Tensor maps every input and output name of the files to the node
	// whose output it is.
	Tensor map[string]int
}

// Join reads the files of a split back as one model whose outputs are the
// named ones, in that order (one task each), so that the engine can run
// exactly what the files hold, side by side. The image input may have a
// dynamic size, which size (pixels) fixes.
func Join(files [][]byte, outputs []string, name string, size int) (*Joined, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("join: no files")
	}
	merged := &graphProto{name: name}
	var opset int64
	producer := map[string]int{} // tensor → file whose node makes it
	declared := map[string]valueInfo{}
	var inputs []valueInfo
	for k, b := range files {
		m, err := decodeModel(b)
		if err != nil || m.graph == nil {
			return nil, fmt.Errorf("join: file %d: %w", k+1, ErrNotONNX)
		}
		v, ok := m.opsets[""]
		if !ok || (k > 0 && v != opset) {
			return nil, fmt.Errorf("join: file %d has ai.onnx opset %d, the first %d", k+1, v, opset)
		}
		opset = v
		g := m.graph
		for _, n := range g.nodes {
			for _, o := range n.outputs {
				producer[o] = k
			}
		}
		merged.nodes = append(merged.nodes, g.nodes...)
		merged.initializers = append(merged.initializers, g.initializers...)
		for _, in := range g.inputs {
			if _, made := producer[in.name]; !made && !slices.ContainsFunc(inputs, func(v valueInfo) bool { return v.name == in.name }) {
				inputs = append(inputs, in)
			}
		}
		for _, o := range g.outputs {
			declared[o.name] = o
		}
	}
	for _, in := range inputs {
		if _, made := producer[in.name]; !made {
			merged.inputs = append(merged.inputs, in)
		}
	}
	for _, o := range outputs {
		v, ok := declared[o]
		if !ok {
			return nil, fmt.Errorf("join: no file has an output %q", o)
		}
		merged.outputs = append(merged.outputs, v)
	}
	im, err := importGraph(merged, opset, name, size)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	j := &Joined{Imported: im, File: make([]int, len(im.Graph.Nodes)), Tensor: map[string]int{}}
	for t, id := range im.made {
		if k, ok := producer[t]; ok && id > 0 {
			j.File[id] = k
		}
	}
	for t := range declared {
		if id, ok := im.tensors[t]; ok {
			j.Tensor[t] = id
		}
	}
	for _, in := range inputs {
		if id, ok := im.tensors[in.name]; ok {
			j.Tensor[in.name] = id
		}
	}
	return j, nil
}
