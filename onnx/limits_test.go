package onnx

import (
	"bytes"
	"strings"
	"testing"
)

// TestCountLimits checks that a file whose tensors cannot be counted in
// int64 is refused naming the node, not imported with wrapped-around
// counts.
func TestCountLimits(t *testing.T) {
	convNode, convInits := conv1("/0/Conv", "x", "c")
	for _, tc := range []struct {
		name  string
		input []int64
		want  string
	}{
		{"input", []int64{1, 3, 2_000_000_000, 2_000_000_000}, `Input "input": its output [3 2000000000 2000000000] would be 1.2e+19 elements`},
		{"conv output", []int64{1, 3, 1 << 29, 1 << 29}, `Conv2d "0": its output [4 536870912 536870912] would be 1.15e+18 elements`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel{output: "c", input: tc.input, nodes: [][]byte{convNode}, inits: convInits}
			im, err := Parse(bytes.NewReader(m.encode()))
			if err == nil {
				t.Fatalf("imported %d nodes, %d MACs", len(im.Graph.Nodes), im.Graph.BackboneMACs())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}
