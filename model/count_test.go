package model

import (
	"math"
	"strings"
	"testing"
)

func TestProductAndSum(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   int64
		factors []int64
		want    int64
		ok      bool
	}{
		{"empty is one", MaxElems, nil, 1, true},
		{"exact", MaxElems, []int64{3, 224, 224}, 150528, true},
		{"at the limit", 1 << 40, []int64{1 << 20, 1 << 20}, 1 << 40, true},
		{"one past the limit", 1<<40 - 1, []int64{1 << 20, 1 << 20}, 0, false},
		{"past 64 bits", math.MaxInt64, []int64{1 << 40, 1 << 40}, 0, false},
		{"wraps to a small number in 64 bits", math.MaxInt64, []int64{1 << 32, 1 << 32, 3}, 0, false},
		{"negative", MaxElems, []int64{-1, 2}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, ok := product(tc.limit, tc.factors...)
			if got != tc.want || ok != tc.ok {
				t.Errorf("product = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if n, ok := sum(10, 4, 6); n != 10 || !ok {
		t.Errorf("sum(4, 6) ≤ 10 = %d, %v", n, ok)
	}
	if _, ok := sum(math.MaxInt64, math.MaxInt64, 1); ok {
		t.Error("MaxInt64 + 1 fits")
	}
}

// TestBuilderOverflow builds, for every kind of node, a graph whose counts
// do not fit in int64 at that node: the builder must refuse it there with
// the node and the count named, never return wrapped-around numbers.
func TestBuilderOverflow(t *testing.T) {
	const (
		p29 = 1 << 29
		p30 = 1 << 30
		p31 = 1 << 31
	)
	// input starts a graph on a [c h w] input with one block open.
	input := func(c, hw int) *Builder {
		b := NewBuilder("big", c, hw)
		b.Block("b", "Sequential")
		return b
	}
	tests := []struct {
		name  string
		build func() *Builder
		want  []string // substrings of the error
	}{
		{"input", func() *Builder { return NewBuilder("big", 3, 2_000_000_000) },
			[]string{`Input "input": its output [3 2000000000 2000000000] would be 1.2e+19 elements`}},
		{"conv output", func() *Builder {
			b := input(3, 1<<20)
			b.Conv2d("conv1", 0, Conv{OutChannels: p30, Kernel: 1, Stride: 1})
			return b
		}, []string{`Conv2d "conv1": its output [1073741824 1048576 1048576]`, "elements", "more than the 1.15e+18"}},
		{"conv MACs", func() *Builder {
			b := input(1<<20, 1<<10)
			b.Conv2d("conv1", 0, Conv{OutChannels: 1 << 20, Kernel: 3, Stride: 1, Padding: 1})
			return b
		}, []string{`Conv2d "conv1": its work would be 1.04e+19 MACs`}},
		{"conv weights", func() *Builder {
			b := input(p31, 1)
			b.Conv2d("conv1", 0, Conv{OutChannels: p31, Kernel: 1, Stride: 1})
			return b
		}, []string{`Conv2d "conv1": the weights would be 4.61e+18 parameters`}},
		{"conv weights per output", func() *Builder {
			b := input(p31, 1)
			b.Conv2d("conv1", 0, Conv{OutChannels: 1, Kernel: p30, Stride: 1, Padding: p29})
			return b
		}, []string{`Conv2d "conv1": the weights per output would be`}},
		{"conv padding", func() *Builder {
			b := input(3, 8)
			b.Conv2d("conv1", 0, Conv{OutChannels: 1, Kernel: 3, Stride: 1, Padding: math.MaxInt64 / 2})
			return b
		}, []string{`Conv2d "conv1": kernel 3, stride 1, padding 4611686018427387903`, "too large to count"}},
		{"pool work", func() *Builder {
			b := input(1<<20, 1<<14)
			b.MaxPool2d("pool", 0, 1<<13, 1, 0)
			return b
		}, []string{`MaxPool2d "pool": its work would be`, "operations"}},
		{"adaptive pool output", func() *Builder {
			b := input(1<<20, 1)
			b.AdaptiveAvgPool2d("gap", 0, 1<<21)
			return b
		}, []string{`AdaptiveAvgPool2d "gap": its output [1048576 2097152 2097152]`}},
		{"linear weights", func() *Builder {
			b := input(p31, 1)
			b.Linear("fc", b.Flatten("flat", 0), p31, true)
			return b
		}, []string{`Linear "fc": the weights would be 4.61e+18 parameters`}},
		{"linear biases", func() *Builder {
			b := input(3, 1) // 3 × (MaxElems / 3) weights: exactly the limit
			b.Linear("fc", b.Flatten("flat", 0), int(MaxElems/3), true)
			return b
		}, []string{`Linear "fc": the weights and biases would be`}},
		{"flatten: the graph's activations", func() *Builder {
			b := input(p29, 1<<15) // 2^59 elements, and as many again
			b.Flatten("flat", 0)
			return b
		}, []string{`Flatten "flat": the graph's activations would be 1.15e+18 elements`}},
		{"relu: the graph's activations", func() *Builder {
			b := input(p29, 1<<15)
			b.Activation("relu", OpReLU, 0)
			return b
		}, []string{`ReLU "relu": the graph's activations`}},
		{"batch norm: the graph's activations", func() *Builder {
			b := input(p29, 1<<15)
			b.BatchNorm2d("bn", 0, 1e-5)
			return b
		}, []string{`BatchNorm2d "bn": the graph's activations`}},
		{"add: the graph's activations", func() *Builder {
			b := input(p29, 1<<15)
			b.Add("add", 0, 0)
			return b
		}, []string{`Add "add": the graph's activations`}},
		{"concat output", func() *Builder {
			b := input(1<<58, 1)
			b.Concat("cat", 0, 0, 0, 0)
			return b
		}, []string{`Concat "cat": its output [1152921504606846976 1 1] would be 1.15e+18 elements`}},
		{"the graph's MACs", func() *Builder {
			b := input(1<<20, 1<<10)
			x := b.Conv2d("conv1", 0, Conv{OutChannels: 1 << 20, Kernel: 2, Stride: 1, Padding: 1}) // 1025² · 2^42 MACs
			b.Conv2d("conv2", x, Conv{OutChannels: 1 << 20, Kernel: 2, Stride: 1})                  // 2^62 more
			return b
		}, []string{`Conv2d "conv2": the graph's MACs would be 9.23e+18 MACs`}},
		{"the graph's parameters", func() *Builder {
			b := input(1<<30, 1)
			f := b.Flatten("flat", 0)
			b.Linear("fc1", f, 1<<29, false) // 2^59 parameters each
			b.Linear("fc2", f, 1<<29, false)
			return b
		}, []string{`Linear "fc2": the graph's parameters would be 1.15e+18 parameters`}},
		{"task head on a large backbone", func() *Builder {
			b := input(1<<23, 1<<15) // flattened: 2^53 features, × 256 weights
			b.Activation("relu", OpReLU, 0)
			AddHead(b, "task1", 8)
			return b
		}, []string{`Linear "task1.0": the weights would be 2.31e+18 parameters`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.build().Build()
			if err == nil {
				t.Fatalf("built %d nodes, %d MACs", len(g.Nodes), g.BackboneMACs())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestZooLimits checks the zoo's policy bounds: every model builds at the
// largest input with the most classes, its counts exact and positive, and
// one pixel or class more is refused with the bound named.
func TestZooLimits(t *testing.T) {
	for _, name := range Zoo() {
		t.Run(name, func(t *testing.T) {
			g, err := New(name, MaxInputSize, []int{MaxClasses, 1})
			if err != nil {
				t.Fatal(err)
			}
			// Block totals equal the node sums, computed in float64 to see a
			// wrap-around (within float rounding of the exact integers).
			var params, macs float64
			for _, n := range g.Nodes {
				if n.Task < 0 {
					params += float64(n.Params)
					macs += float64(n.MACs)
				}
			}
			if got := float64(g.BackboneParams()); got <= 0 || math.Abs(got-params) > 1e-9*params {
				t.Errorf("backbone params %g, nodes sum to %g", got, params)
			}
			if got := float64(g.BackboneMACs()); got <= 0 || math.Abs(got-macs) > 1e-9*macs {
				t.Errorf("backbone MACs %g, nodes sum to %g", got, macs)
			}
			// At 224 px a model's MACs scale about with the pixel count.
			small, err := New(name, 224, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r := macs / float64(small.BackboneMACs()) / math.Pow(MaxInputSize/224.0, 2); r < 0.9 || r > 1.1 {
				t.Errorf("MACs at %d px are %.3g× the 224 px MACs scaled by area", MaxInputSize, r)
			}
			for _, bad := range []struct {
				size  int
				tasks []int
				want  string
			}{
				{MaxInputSize + 1, nil, "input size 16385 px: the zoo builds square inputs of 1 to 16384 px"},
				{2_000_000_000, nil, "input size 2000000000 px"},
				{0, nil, "input size 0 px"},
				{224, []int{8, MaxClasses + 1}, "task 2 has 1000001 classes; a head has 1 to 1000000"},
				{224, []int{math.MaxInt64}, "task 1 has 9223372036854775807 classes"},
			} {
				if _, err := New(name, bad.size, bad.tasks); err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("New(%d px, %v) = %v, want %q", bad.size, bad.tasks, err, bad.want)
				}
			}
		})
	}
}
