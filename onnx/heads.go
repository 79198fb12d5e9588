package onnx

import (
	"fmt"
	"strings"
)

// division splits the layers between the shared backbone and the task
// heads of a multi-output graph: a layer that feeds several outputs is
// backbone, one that feeds a single output belongs to that output's head.
// A single-output graph is all backbone.
type division struct {
	backbone []layer   // in execution order
	heads    [][]layer // one per graph output, each in execution order
	// feature is the backbone's output tensor, the one every head reads.
	feature string
}

// divide finds the backbone and the heads, and checks that every head
// branches from the backbone's last tensor and reads nothing else of it:
// that tensor is what a split sends when the heads run elsewhere, and the
// engine runs a head from it alone.
func (im *importer) divide() (division, error) {
	made := map[string]int{}
	for i, l := range im.layers {
		made[l.out] = i
	}
	// Messages name outputs as the file does, before aliases are resolved.
	names := make([]string, len(im.outputs))
	for k, o := range im.outputs {
		names[k] = im.g.outputs[k].name
		if _, ok := made[o]; !ok {
			return division{}, fmt.Errorf("output %q is made by no node", names[k])
		}
	}
	if len(im.outputs) == 1 {
		if im.layers[len(im.layers)-1].out != im.outputs[0] {
			return division{}, fmt.Errorf("the output %q is not computed by the graph's last layer", names[0])
		}
		return division{backbone: im.layers, feature: im.outputs[0]}, nil
	}
	// feeds[i] counts the outputs layer i feeds; owner[i] is one of them.
	feeds := make([]int, len(im.layers))
	owner := make([]int, len(im.layers))
	for k, o := range im.outputs {
		seen := make([]bool, len(im.layers))
		stack := []int{made[o]}
		seen[made[o]] = true
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			feeds[i]++
			owner[i] = k
			for _, t := range im.layers[i].in {
				if j, ok := made[t]; ok && !seen[j] {
					seen[j] = true
					stack = append(stack, j)
				}
			}
		}
	}
	d := division{heads: make([][]layer, len(im.outputs))}
	last := -1
	for i, l := range im.layers {
		if feeds[i] > 1 {
			d.backbone = append(d.backbone, l)
			last = i
		}
	}
	if last < 0 {
		return division{}, fmt.Errorf("outputs %s share no layer: a multi-task model is a shared backbone with one head per output", quoteAll(names))
	}
	d.feature = im.layers[last].out
	for k, o := range im.outputs {
		if p := made[o]; feeds[p] > 1 {
			return division{}, fmt.Errorf("output %q is made inside the shared backbone (%q feeds %d outputs): every output needs a head of its own", names[k], im.layers[p].name, feeds[p])
		}
		for i, l := range im.layers {
			if feeds[i] != 1 || owner[i] != k {
				continue
			}
			for _, t := range l.in {
				if j, ok := made[t]; t == d.feature || (ok && feeds[j] == 1) {
					continue
				}
				return division{}, fmt.Errorf("the head of output %q reads %q at layer %q, not only the backbone's output %q: heads must branch from one backbone tensor", names[k], t, l.name, d.feature)
			}
			d.heads[k] = append(d.heads[k], l)
		}
	}
	return d, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
