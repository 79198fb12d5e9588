package onnx

import (
	"bytes"
	"fmt"
	"testing"
)

// chainModel is a synthetic model of n ReLUs in a row on the default
// [1 3 8 8] input; with residual, n blocks x → relu → add(x, relu(x)).
// Every ReLU of a plain chain is a single-tensor cut point; in a residual
// chain only every add is.
func chainModel(n int, residual bool) testModel {
	m := testModel{nodes: make([][]byte, 0, 2*n)}
	x := "x"
	for i := range n {
		r := fmt.Sprintf("r%d", i)
		m.nodes = append(m.nodes, node("relu_"+r, "Relu", []string{x}, []string{r}))
		x = r
		if residual {
			a := fmt.Sprintf("a%d", i)
			prev := "x"
			if i > 0 {
				prev = fmt.Sprintf("a%d", i-1)
			}
			m.nodes = append(m.nodes, node("add_"+a, "Add", []string{prev, r}, []string{a}))
			x = a
		}
	}
	m.output = x
	return m
}

// BenchmarkImportChain reads long chains: decoding, sorting, cut-point
// detection, blocks and the model graph, which should all grow linearly.
func BenchmarkImportChain(b *testing.B) {
	for _, shape := range []string{"chain", "residual"} {
		for _, n := range []int{1000, 10000, 100000} {
			data := chainModel(n, shape == "residual").encode()
			b.Run(fmt.Sprintf("%s/%dk", shape, n/1000), func(b *testing.B) {
				var im *Imported
				for b.Loop() {
					var err error
					if im, err = Parse(bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
				}
				if len(im.Graph.Blocks) != n || len(im.Cuts) != n {
					b.Fatalf("%d blocks, %d cuts; want %d", len(im.Graph.Blocks), len(im.Cuts), n)
				}
			})
		}
	}
}
