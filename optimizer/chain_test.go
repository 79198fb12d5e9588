package optimizer

import (
	"fmt"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// chainGraph is n ReLUs in a row on a [3 8 8] input, one block each — how
// the ONNX importer cuts such a file — or with residual, n blocks
// x → relu → add(x, relu(x)), whose only single-tensor cut is the add.
func chainGraph(tb testing.TB, n int, residual bool, tasks []int) *model.Graph {
	tb.Helper()
	b := model.NewBuilder("chain", 3, 8)
	x := b.Input()
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		if !residual {
			b.Block(name, "ReLU")
			x = b.Activation(name, model.OpReLU, x)
			continue
		}
		b.Block(name, "Subgraph")
		x = b.Add(name+".add", x, b.Activation(name, model.OpReLU, x))
	}
	for i, k := range tasks {
		model.AddHead(b, fmt.Sprintf("task%d", i+1), k)
	}
	g, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkPlanChain is a block-level plan (exhaustive search, baselines,
// Pareto set, switch table) of long chains: its cost should grow linearly
// with the number of blocks.
func BenchmarkPlanChain(b *testing.B) {
	for _, shape := range []string{"chain", "residual"} {
		for _, n := range []int{1000, 10000, 100000} {
			p := graphProblem(b, chainGraph(b, n, shape == "residual", []int{8, 4}), Latency)
			b.Run(fmt.Sprintf("%s/%dk", shape, n/1000), func(b *testing.B) {
				var r *Result
				for b.Loop() {
					var err error
					if r, err = Solve(p, nil, Exhaustive{}); err != nil {
						b.Fatal(err)
					}
				}
				// The raw image, 4 encodings at each inner cut, and at the
				// backbone's end 3 head placements × 4 encodings + local-only.
				if nb := len(p.Graph.Blocks); r.Status != Optimal || r.Candidates != 1+4*(nb-1)+3*4+1 {
					b.Fatalf("%s, %d candidates", r.Status, r.Candidates)
				}
			})
		}
	}
}
