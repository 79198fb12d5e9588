package engine

import (
	"fmt"
	"testing"

	"github.com/mtlsplit/mtlsplit/model"
)

// residualGraph is two residual blocks on an 8×8 image, the second with a
// strided 1×1 downsample: tensors that skip steps, read by two steps each.
//
//	stem: X → conv+bn+relu → A                      (4×8×8)
//	res1: A → conv+bn+relu → B → conv+bn → C;  D = relu(C + A)   (4×8×8)
//	res2: D → conv/2+bn+relu → E → conv+bn → F;
//	      D → conv1×1/2+bn → G;  H = relu(F + G)    (8×4×4)
func residualGraph(t *testing.T) *model.Graph {
	t.Helper()
	b := model.NewBuilder("residual", 3, 8)
	conv := func(name string, in, cin, cout, k, stride int) int {
		return b.Conv2d(name, in, model.Conv{InChannels: cin, OutChannels: cout, Kernel: k, Stride: stride, Padding: k / 2, Dilation: 1, Groups: 1})
	}
	bn := func(name string, in int) int { return b.BatchNorm2d(name, in, 1e-5) }
	relu := func(name string, in int) int { return b.Activation(name, model.OpReLU, in) }
	b.Block("stem", "conv")
	a := relu("stem.relu", bn("stem.bn", conv("stem.conv", b.Input(), 3, 4, 3, 1)))
	b.Block("res1", "basic")
	x := relu("res1.relu1", bn("res1.bn1", conv("res1.conv1", a, 4, 4, 3, 1)))
	x = bn("res1.bn2", conv("res1.conv2", x, 4, 4, 3, 1))
	d := relu("res1.relu2", b.Add("res1.add", x, a))
	b.Block("res2", "basic")
	x = relu("res2.relu1", bn("res2.bn1", conv("res2.conv1", d, 4, 8, 3, 2)))
	x = bn("res2.bn2", conv("res2.conv2", x, 8, 8, 3, 1))
	ds := bn("res2.down.bn", conv("res2.down.conv", d, 4, 8, 1, 2))
	relu("res2.relu2", b.Add("res2.add", x, ds))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPlannedPeakIsLargestLiveSet: on the residual graph the buffers add
// up to the largest live set, counted by hand (per sample, float32s):
//
//	step                 live                  floats
//	stem     X → A       X 192, A 256            448
//	res1.1   A → B       A, B                    512
//	res1.2   B → C       A (for the add), B, C   768  ← the peak
//	add      C+A → D     C/D (in place), A       512
//	res2.1   D → E       D, E 128                384
//	res2.2   E → F       D (for down), E, F      512
//	down     D → G       D, F, G                 512
//	add      F+G → H     F/H (in place), G       256
//
// Without reuse every tensor has its own buffer: 192 + 4·256 + 4·128.
func TestPlannedPeakIsLargestLiveSet(t *testing.T) {
	g := residualGraph(t)
	for _, tc := range []struct {
		name    string
		batch   int
		noReuse bool
		floats  int // per sample
	}{
		{"planned", 1, false, 768},
		{"planned batch 3", 3, false, 768},
		{"one buffer per tensor", 1, true, 192 + 4*256 + 4*128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, be := range Backends() {
				m, err := PlanMemory(g, Options{Threads: 2, Batch: tc.batch, Backend: be, noReuse: tc.noReuse})
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(4 * tc.batch * tc.floats); m.ActivationBytes != want {
					t.Errorf("%s: activations %d bytes, want %d", be, m.ActivationBytes, want)
				}
			}
		})
	}
}

// TestPlanningKeepsOutputs runs the residual graph and the zoo models with
// planned buffers and with a buffer per tensor, and wants the same bits:
// no buffer was overwritten while a later step still needed it.
func TestPlanningKeepsOutputs(t *testing.T) {
	type tcase struct {
		name  string
		g     *model.Graph
		batch int
	}
	cases := []tcase{{"residual", residualGraph(t), 2}}
	for _, m := range splitModels {
		g, err := model.New(m.name, m.size, m.tasks)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, tcase{m.name, g, 1})
	}
	for _, be := range Backends() {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", be, tc.name), func(t *testing.T) {
				w, err := RandomWeights(tc.g, 7)
				if err != nil {
					t.Fatal(err)
				}
				x := randomInput(tc.batch*int(tc.g.Input.Elems()), 3)
				var outs [2][][]float32
				var acts [2]int64
				for i, noReuse := range []bool{false, true} {
					opts := Options{Threads: 2, Batch: tc.batch, Backend: be, noReuse: noReuse}
					outs[i] = compileRunAll(t, tc.g, w, opts, x)
					m, err := PlanMemory(tc.g, opts)
					if err != nil {
						t.Fatal(err)
					}
					acts[i] = m.ActivationBytes
				}
				sameOutputs(t, outs, "between planned buffers and a buffer per tensor")
				if acts[0] >= acts[1] {
					t.Errorf("planned activations %d bytes, not below a buffer per tensor (%d)", acts[0], acts[1])
				}
				t.Logf("activations %s planned, %s with a buffer per tensor", HumanBytes(acts[0]), HumanBytes(acts[1]))
			})
		}
	}
}

// TestBuffersNotReusedWhileLive checks the plan itself on every zoo model:
// between the step that writes a tensor and its last reader, no other step
// writes memory of its buffer — except its last reader, in place.
func TestBuffersNotReusedWhileLive(t *testing.T) {
	for _, m := range splitModels {
		t.Run(m.name, func(t *testing.T) {
			g, err := model.New(m.name, m.size, m.tasks)
			if err != nil {
				t.Fatal(err)
			}
			plans, _, err := planSteps(g, nil)
			if err != nil {
				t.Fatal(err)
			}
			valueBuf, spans, arena := planBuffers(g, plans, 1, true)
			written := map[int]int{0: -1} // value → step writing it
			for s, sp := range plans {
				written[sp.out] = s
			}
			lastUse := lastReaders(g, plans)
			overlap := func(a, b bufSpan) bool { return a.off < b.off+b.n && b.off < a.off+a.n }
			for v, w := range written {
				sv := spans[valueBuf[v]]
				for s := w + 1; s < len(plans) && s <= lastUse[v]; s++ {
					u := plans[s].out
					if overlap(spans[valueBuf[u]], sv) && s != lastUse[v] {
						t.Errorf("step %d (%s) writes memory of %s's tensor, read until step %d",
							s, plans[s].nodes[0].Name, g.Nodes[v].Name, lastUse[v])
					}
				}
				if n := int(g.Nodes[v].OutShape.Elems()); sv.n < n || sv.off+sv.n > arena {
					t.Errorf("%s: span %+v for %d values in an arena of %d", g.Nodes[v].Name, sv, n, arena)
				}
			}
			// No plan needs less than the most values alive at one step
			// (an in-place output counted with its input); on these
			// graphs greedy by size reaches it, up to each buffer's
			// alignment.
			peak := 0
			for s, sp := range plans {
				live := 0
				for v, w := range written {
					inPlace := v == sp.out && inPlaceOK(sp) && lastUse[sp.inputs[0]] == s
					if w <= s && s <= lastUse[v] && !inPlace {
						live += int(g.Nodes[v].OutShape.Elems())
					}
				}
				peak = max(peak, live)
			}
			if arena < peak || arena > peak+bufAlign*len(spans) {
				t.Errorf("arena of %d float32s; the largest live set is %d", arena, peak)
			}
		})
	}
}

// compileRunAll compiles g with opts and returns RunAll's outputs on x:
// the backbone's, then each head's.
func compileRunAll(t *testing.T, g *model.Graph, w *Weights, opts Options, x []float32) [][]float32 {
	t.Helper()
	p, err := Compile(g, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	bb, heads, err := p.RunAll(x)
	if err != nil {
		t.Fatal(err)
	}
	return append([][]float32{bb}, heads...)
}

// sameOutputs wants two runs' outputs equal bit for bit.
func sameOutputs(t *testing.T, outs [2][][]float32, what string) {
	t.Helper()
	for k := range outs[0] {
		if !sameBits(outs[0][k], outs[1][k]) {
			t.Errorf("output %d differs %s", k, what)
		}
	}
}
