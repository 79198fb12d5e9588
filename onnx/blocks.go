package onnx

import (
	"fmt"
	"strings"
)

// span is a block to be: layers first..last, inclusive.
type span struct {
	name, typ   string
	first, last int
}

// cutPoints returns the indices of the layers after which exactly one
// tensor is live: everything computed so far reaches the rest of the graph
// (and its output) only through that layer's output. The last layer is
// always one.
func cutPoints(layers []layer, input, output string) []int {
	n := len(layers)
	made := map[string]int{input: -1}
	for i, l := range layers {
		made[l.out] = i
	}
	lastUse := map[string]int{output: n}
	for i, l := range layers {
		for _, t := range l.in {
			lastUse[t] = max(lastUse[t], i)
		}
	}
	// The live count after layer i is the number of tensors made at or
	// before i and read after it: one made at p and last read at u is live
	// after layers p..u-1.
	delta := make([]int, n+1)
	for t, u := range lastUse {
		p, ok := made[t]
		if !ok || u <= p {
			continue
		}
		delta[max(p, 0)]++ // the input (p = -1) is live from boundary 0
		delta[u]--
	}
	var cuts []int
	live := 0
	for i := range n {
		live += delta[i]
		if live == 1 {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

// blocks groups the layers into blocks at single-tensor cut points. Where
// the node names carry torch module paths, the segments of one top-level
// module merge into one block named after it, so a torchvision export
// gives torchvision's blocks; elsewhere every segment is a block named
// after its output tensor.
func blocks(layers []layer, cuts []int) []span {
	keys := topLevelKeys(layers)
	var spans []span
	first := 0
	for _, c := range cuts {
		seg := span{first: first, last: c}
		first = c + 1
		if len(spans) > 0 {
			prev := &spans[len(spans)-1]
			if k := lastKey(keys, prev.first, prev.last); k != "" && k == firstKey(keys, seg.first, seg.last) {
				prev.last = seg.last
				continue
			}
		}
		spans = append(spans, seg)
	}
	used := map[string]int{}
	for i := range spans {
		s := &spans[i]
		fk, lk := firstKey(keys, s.first, s.last), lastKey(keys, s.first, s.last)
		switch {
		case fk == "":
			s.name = layers[s.last].out
		case fk == lk:
			s.name = fk
		default:
			s.name = fk + ".." + lk
		}
		if used[s.name]++; used[s.name] > 1 {
			s.name = fmt.Sprintf("%s_%d", s.name, used[s.name]-1)
		}
		s.typ = "Subgraph"
		if s.first == s.last {
			s.typ = string(layers[s.first].op)
		}
	}
	return spans
}

func firstKey(keys []string, first, last int) string {
	for i := first; i <= last; i++ {
		if keys[i] != "" {
			return keys[i]
		}
	}
	return ""
}

func lastKey(keys []string, first, last int) string {
	for i := last; i >= first; i-- {
		if keys[i] != "" {
			return keys[i]
		}
	}
	return ""
}

// topLevelKeys names, for each layer, the top-level module it belongs to:
// below the module path all layers share (a wrapper), the first atom —
// with the index after it when it is a container of numbered children
// ("features.3", "layer1.0", "classifier.0"). Empty for layers without a
// path. When one module holds every layer with weights, its children are
// used: a backbone held as self.backbone is a wrapper even when torch's
// export moved a parameter-free op of a head (a Flatten both heads share)
// into the backbone.
func topLevelKeys(layers []layer) []string {
	var common []string
	started := false
	for _, l := range layers {
		if l.path == nil {
			continue
		}
		if !started {
			common, started = l.path, true
			continue
		}
		k := 0
		for k < len(common) && k < len(l.path) && common[k] == l.path[k] {
			k++
		}
		common = common[:k]
	}
	depth := len(common)
	for {
		keys := make([]string, len(layers))
		atoms := map[string]int{}     // key → its number of atoms
		weighted := map[string]bool{} // keys of layers with weights
		leaf := map[string]bool{}     // keys naming a layer itself, not a module around it
		for i, l := range layers {
			if l.path == nil {
				continue
			}
			n := min(depth+1, len(l.path))
			if len(l.path) > depth+1 && !numeric(l.path[depth]) && numeric(l.path[depth+1]) {
				n = depth + 2
			}
			k := strings.Join(l.path[:n], ".")
			keys[i] = k
			atoms[k] = n
			leaf[k] = leaf[k] || len(l.path) == n
			if len(l.params) > 0 {
				weighted[k] = true
			}
		}
		// The module to descend into: the only one, or the only one with
		// weights.
		only := ""
		switch {
		case len(atoms) == 1:
			for k := range atoms {
				only = k
			}
		case len(weighted) == 1:
			for k := range weighted {
				only = k
			}
		}
		if only == "" || leaf[only] {
			return keys
		}
		depth = atoms[only]
	}
}

// nameLayers gives every layer a unique model node name: its module path
// (with ".add", ".mul", ... for functional ops, as the zoo names them), or
// else its ONNX node name, or else its output tensor.
func nameLayers(layers []layer) {
	used := map[string]int{}
	for i := range layers {
		l := &layers[i]
		name := strings.Join(l.path, ".")
		if name != "" && !l.op.IsModule() {
			name += "." + strings.ToLower(string(l.op))
		}
		if name == "" {
			name = strings.TrimPrefix(l.onnxName, "/")
		}
		if name == "" {
			name = l.out
		}
		if used[name]++; used[name] > 1 {
			name = fmt.Sprintf("%s_%d", name, used[name]-1)
		}
		l.name = name
	}
}
