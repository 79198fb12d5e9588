package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/gonum"

	"github.com/mtlsplit/mtlsplit/model"
)

// winoLevels runs f at every native vector level this CPU has (the widest
// first, then AVX2 without the native GEMM, then the Go kernels), as
// TestNativeLevels does for the other kernels.
func winoLevels(t *testing.T, f func(t *testing.T)) {
	top := nativeISA
	defer func() { nativeISA = top }()
	for level := top; level >= 0; level-- {
		nativeISA = level
		t.Run(fmt.Sprintf("isa=%d", level), f)
	}
}

// directConv is a 3×3, padding 1 convolution of x (cin×h×w) in float64,
// then bias and ReLU.
func directConv(x, w, bias []float32, cin, cout, h, wd int) []float64 {
	y := make([]float64, cout*h*wd)
	for o := range cout {
		for oy := range h {
			for ox := range wd {
				sum := float64(bias[o])
				for c := range cin {
					for ky := range 3 {
						for kx := range 3 {
							iy, ix := oy+ky-1, ox+kx-1
							if iy >= 0 && iy < h && ix >= 0 && ix < wd {
								sum += float64(w[((o*cin+c)*3+ky)*3+kx]) * float64(x[(c*h+iy)*wd+ix])
							}
						}
					}
				}
				y[(o*h+oy)*wd+ox] = max(sum, 0)
			}
		}
	}
	return y
}

// TestWinogradMatchesDirect runs the Winograd kernel on random shapes
// (odd and even sizes, one tile, layers run whole, in blocks of tile rows
// and in blocks that cut tile rows) against a float64 direct convolution with bias and ReLU, on
// every vector level, with the native GEMM where it runs and gonum's BLAS,
// on 1 to 3 threads.
func TestWinogradMatchesDirect(t *testing.T) {
	tests := []struct {
		name              string
		cin, cout, h, wid int
	}{
		{"one-pixel", 2, 1, 1, 1},
		{"odd", 3, 5, 5, 7},
		{"odd-tall", 8, 13, 9, 4},
		{"square-odd", 16, 24, 15, 15},
		{"resnet-like", 64, 64, 14, 14},
		{"blocks", 64, 64, 40, 40},        // 4 blocks of 5 tile rows
		{"wide-rows-cut", 64, 64, 5, 259}, // a block holds part of a tile row
		{"many-panels", 7, 70, 3, 17},
	}
	type layer struct{ x, w, bias []float32 }
	layers := make([]layer, len(tests))
	want := make([][]float64, len(tests))
	for i, tc := range tests {
		rng := rand.New(rand.NewPCG(uint64(tc.cin*1000+tc.h), 7))
		l := layer{x: randomInput(tc.cin*tc.h*tc.wid, uint64(tc.cout)), w: make([]float32, tc.cout*tc.cin*9),
			bias: make([]float32, tc.cout)}
		for i := range l.w {
			l.w[i] = float32(rng.NormFloat64() / math.Sqrt(float64(9*tc.cin)))
		}
		for i := range l.bias {
			l.bias[i] = float32(rng.NormFloat64() * 0.1)
		}
		layers[i], want[i] = l, directConv(l.x, l.w, l.bias, tc.cin, tc.cout, tc.h, tc.wid)
	}
	winoLevels(t, func(t *testing.T) {
		natives := []bool{false}
		if nativeGEMM() {
			natives = append(natives, true)
		}
		for i, tc := range tests {
			for _, native := range natives {
				for _, tm := range []struct{ m, threads int }{{2, 1}, {2, 2}, {2, 3}, {2, 6}, {4, 1}, {4, 2}, {4, 3}, {4, 6}} { // 6: more threads than blocks
					t.Run(fmt.Sprintf("%s/F%d/native=%v/threads=%d", tc.name, tm.m, native, tm.threads), func(t *testing.T) {
						l := layers[i]
						got := runWinograd(t, tm.m, l.x, l.w, l.bias, tc.cin, tc.cout, tc.h, tc.wid, tm.threads, native)
						var maxAbs, scale float64
						for j, v := range want[i] {
							maxAbs = max(maxAbs, math.Abs(float64(got[j])-v))
							scale = max(scale, math.Abs(v))
						}
						if rel := maxAbs / scale; rel > 1e-5 || math.IsNaN(rel) {
							t.Errorf("max abs error %.3g, relative to max |y| %.3g: %.3g > 1e-5", maxAbs, scale, rel)
						}
					})
				}
			}
		}
	})
}

// runWinograd runs one Winograd convolution with bias and ReLU through
// convStep.run on a Program made for it.
func runWinograd(t *testing.T, m int, x, w, bias []float32, cin, cout, h, wid, threads int, native bool) []float32 {
	t.Helper()
	p := &Program{opts: Options{Threads: threads}, gemm: gonum.Implementation{}, nativeGEMM: native,
		pool: newWorkers(threads), n: 1}
	defer p.pool.close()
	c := model.Conv{InChannels: cin, OutChannels: cout, Kernel: 3, Stride: 1, Padding: 1, Bias: true}
	q := newWinoPlan(m, cin, cout, h, wid, h, wid, threads)
	for range threads {
		p.scratch = append(p.scratch, make([]float32, q.scratchElems(native)))
	}
	y := make([]float32, cout*h*wid)
	s := &convStep{in: x, out: y, g: newGeom(c, model.Shape{cin, h, wid}, model.Shape{cout, h, wid}),
		mode: convWinograd, winoM: m, weight: w, bias: bias, act: actReLU, col: make([]float32, q.blockElems())}
	s.wino = newWinoKernel(p, s)
	s.run(p)
	return y
}

// TestWinogradFixtures runs the PyTorch fixtures whose networks have
// Winograd layers on every backend and vector level, and holds them to
// 1e-5 relative to the output's scale (TestMatchesPyTorch allows 1e-4).
func TestWinogradFixtures(t *testing.T) {
	winoLevels(t, func(t *testing.T) {
		for _, backend := range fixtureBackends() {
			if backend == BackendNative && !nativeGEMM() {
				continue
			}
			for _, c := range fixtureCases {
				t.Run(fmt.Sprintf("%s/%s", backend, c.name), func(t *testing.T) {
					g, err := c.graph()
					if err != nil {
						t.Fatal(err)
					}
					layers := 0
					for i := range g.Nodes {
						if winograd(&g.Nodes[i]) {
							layers++
						}
					}
					if layers == 0 {
						t.Skip("no Winograd layers")
					}
					p, err := Compile(g, fixtureWeights(t, g), Options{Threads: 2, Backend: backend})
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					y, heads, err := p.RunAll(readF32(t, filepath.Join("testdata", c.name+".in.f32")))
					if err != nil {
						t.Fatal(err)
					}
					outs := [][]float32{y}
					files := []string{c.name + ".out.f32"}
					for i := range c.tasks {
						outs = append(outs, heads[i])
						files = append(files, fmt.Sprintf("%s.task%d.f32", c.name, i+1))
					}
					for i, f := range files {
						want := readF32(t, filepath.Join("testdata", f))
						if len(outs[i]) != len(want) {
							t.Fatalf("%s: %d values, want %d", f, len(outs[i]), len(want))
						}
						abs, rel := relErr(outs[i], want)
						t.Logf("%d Winograd layers; %s: max abs error %.3g, relative %.3g", layers, f, abs, rel)
						if rel > 1e-5 {
							t.Errorf("%s: relative error %.3g > 1e-5", f, rel)
						}
					}
				})
			}
		}
	})
}

// TestWinogradRule pins which layers of resnet18 and vgg16 at 224 px run
// as Winograd: every 3×3 stride-1 layer with 64+ channels and a 14×14 or
// larger output (resnet's 7×7 stage and vgg's first layer stay im2col),
// those with 28×28 or more as F(4×4, 3×3).
func TestWinogradRule(t *testing.T) {
	for _, tc := range []struct {
		model          string
		wino, f4, conv int
	}{{"resnet18", 10, 7, 20}, {"vgg16", 12, 9, 13}} {
		g, err := model.New(tc.model, 224, nil)
		if err != nil {
			t.Fatal(err)
		}
		wino, f4, conv := 0, 0, 0
		for i := range g.Nodes {
			n := &g.Nodes[i]
			if n.Op != model.OpConv2d {
				continue
			}
			conv++
			if convModeAt(n) == convWinograd {
				wino++
				if winoTile(n) == 4 {
					f4++
				}
			}
		}
		if wino != tc.wino || f4 != tc.f4 || conv != tc.conv {
			t.Errorf("%s: %d of %d convolutions run as Winograd, %d of them F(4×4, 3×3); want %d of %d, %d", tc.model, wino, conv, f4, tc.wino, tc.conv, tc.f4)
		}
	}
}

// winoBenchLayers are the 3×3 stride-1 layers of resnet18 and vgg16 at
// 224 px (input channels, output channels, size), and smaller ones that
// show where the rule's thresholds lie.
var winoBenchLayers = []struct{ cin, cout, size int }{
	{64, 64, 56}, {128, 128, 28}, {256, 256, 14}, {512, 512, 7}, // resnet18
	{64, 64, 224}, {64, 128, 112}, {128, 128, 112}, {128, 256, 56}, {256, 256, 56},
	{256, 512, 28}, {512, 512, 28}, {512, 512, 14}, // vgg16
	{32, 32, 56}, {64, 64, 7}, {256, 256, 7}, // around the thresholds
}

// BenchmarkWinogradLayers times each layer (conv + bias + ReLU) as im2col +
// GEMM and as Winograd, alternating the two within one benchmark so that
// the shared machine's noise hits both alike, and reports the medians and
// their ratio (wino/im2col below 1: Winograd is faster).
func BenchmarkWinogradLayers(b *testing.B) {
	for _, l := range winoBenchLayers {
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%dx%d/%d/threads=%d", l.cin, l.cout, l.size, threads)
			b.Run(name, func(b *testing.B) {
				bld := model.NewBuilder("layer", l.cin, l.size)
				bld.Block("conv", "Sequential")
				x := bld.Conv2d("conv", bld.Input(), model.Conv{OutChannels: l.cout, Kernel: 3, Stride: 1, Padding: 1, Bias: true})
				bld.Activation("relu", model.OpReLU, x)
				g, err := bld.Build()
				if err != nil {
					b.Fatal(err)
				}
				p, w, plans := compileAB(b, g, threads)
				// Both modes whatever the rule says, with scratch for both.
				in, out := randomInput(l.cin*l.size*l.size, 3), make([]float32, l.cout*l.size*l.size)
				q := winoPlanOf(&g.Nodes[1], threads)
				p.scratch = make([][]float32, threads)
				for i := range p.scratch {
					p.scratch[i] = make([]float32, max(q.scratchElems(p.nativeGEMM), packBElems()))
				}
				col := make([]float32, max(colElems(&g.Nodes[1]), q.blockElems()))
				var steps [2]*convStep
				for i, mode := range []convMode{convWinograd, convIm2col} {
					if steps[i], err = newConvStepMode(p, plans[0], w, in, out, col, g.Input, mode); err != nil {
						b.Fatal(err)
					}
				}
				wino, im := steps[0], steps[1]
				p.n = 1
				var tw, ti []float64
				for b.Loop() {
					for _, s := range []*convStep{wino, im} {
						start := time.Now()
						s.run(p)
						d := time.Since(start).Seconds() * 1e3
						if s == wino {
							tw = append(tw, d)
						} else {
							ti = append(ti, d)
						}
					}
				}
				reportAB(b, tw, ti)
				if !finite(wino.out) {
					b.Fatal("non-finite output")
				}
			})
		}
	}
}

// BenchmarkWinogradModels times whole forward passes of resnet18 and vgg16
// at 224 px with the Winograd layers and with the same layers as im2col +
// GEMM, alternating the two in one Program (the im2col steps are swapped
// in) so that the shared machine's noise hits both alike; it reports the
// medians and their ratio.
func BenchmarkWinogradModels(b *testing.B) {
	const size = 224
	for _, name := range []string{"resnet18", "vgg16"} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%d/threads=%d", name, size, threads), func(b *testing.B) {
				g, err := model.New(name, size, nil)
				if err != nil {
					b.Fatal(err)
				}
				p, w, plans := compileAB(b, g, threads)
				wino := slices.Clone(p.steps)
				im := slices.Clone(p.steps)
				var col []float32
				for i, sp := range plans {
					if s, ok := p.steps[i].(*convStep); ok && s.mode == convWinograd {
						if n := colElems(sp.nodes[0]); len(col) < n {
							col = make([]float32, n)
						}
						in := g.Nodes[sp.nodes[0].Inputs[0]].OutShape
						if im[i], err = newConvStepMode(p, sp, w, s.in, s.out, col, in, convIm2col); err != nil {
							b.Fatal(err)
						}
					}
				}
				x := randomInput(3*size*size, 1)
				var tw, ti []float64
				for b.Loop() {
					for _, steps := range [][]step{wino, im} {
						p.steps = steps
						start := time.Now()
						if _, err := p.Run(x); err != nil {
							b.Fatal(err)
						}
						d := time.Since(start).Seconds() * 1e3
						if &steps[0] == &wino[0] {
							tw = append(tw, d)
						} else {
							ti = append(ti, d)
						}
					}
				}
				p.steps = wino
				reportAB(b, tw, ti)
			})
		}
	}
}

// reportAB reports the medians of Winograd's and im2col's times (ms), the
// ratio of the medians, and the ratio of the minima: on a loaded machine
// the fastest run is the one least disturbed.
func reportAB(b *testing.B, tw, ti []float64) {
	b.ReportMetric(medianOf(tw), "wino-ms")
	b.ReportMetric(medianOf(ti), "im2col-ms")
	b.ReportMetric(medianOf(tw)/medianOf(ti), "wino/im2col")
	b.ReportMetric(slices.Min(tw)/slices.Min(ti), "min-wino/im2col")
}

// medianOf is the median of v (the upper one of an even count).
func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	sort.Float64s(v)
	return v[len(v)/2]
}

// compileAB compiles g with random weights on the fastest backend for an
// A/B benchmark, which builds more steps from the weights and plans.
func compileAB(b *testing.B, g *model.Graph, threads int) (*Program, *Weights, []stepPlan) {
	w, err := RandomWeights(g, 1)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(g, w, Options{Threads: threads, Backend: BestBackend()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	plans, _, err := planSteps(g, nil)
	if err != nil {
		b.Fatal(err)
	}
	return p, w, plans
}

// TestWinogradPlanParts checks where a layer cut into blocks also splits
// its output channels: only where it has fewer blocks than threads, since
// each part transforms its block's input again; and that the threads
// divide the block count where the tile rows allow.
func TestWinogradPlanParts(t *testing.T) {
	tests := []struct {
		name                      string
		cin, cout, size, threads  int
		wantBlocks, wantManyParts bool
	}{
		{"resnet18-56/threads=2", 64, 64, 56, 2, true, false},
		{"resnet18-28/threads=2", 128, 128, 28, 2, true, false},
		{"40x40/threads=2", 64, 64, 40, 2, true, false},
		{"40x40/threads=6", 64, 64, 40, 6, true, false},    // 5 blocks become 6
		{"28x28/threads=16", 128, 128, 28, 16, true, true}, // 14 tile rows: 14 blocks at most
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newWinoPlan(2, tc.cin, tc.cout, tc.size, tc.size, tc.size, tc.size, tc.threads)
			if q.whole == tc.wantBlocks {
				t.Fatalf("whole = %v, want %v (%d×%d blocks)", q.whole, !tc.wantBlocks, q.nby, q.nbx)
			}
			if blocks := q.nby * q.nbx; blocks%tc.threads != 0 && q.nby < q.th {
				t.Errorf("%d blocks for %d threads (%d tile rows)", blocks, tc.threads, q.th)
			}
			if got := q.parts > 1; got != tc.wantManyParts {
				t.Errorf("parts = %d (%d blocks, %d threads), want more than 1: %v", q.parts, q.nby*q.nbx, tc.threads, tc.wantManyParts)
			}
		})
	}
}

// TestWinogradBufBounds runs both transforms of F(2×2, 3×3) and F(4×4,
// 3×3), on every vector level, on blocks whose last tile row and column
// the output's edge cuts, with the buffer exactly winoBufElems long and
// sentinels after it: no transform may write past it.
func TestWinogradBufBounds(t *testing.T) {
	const sentinel = 12345.5
	winoLevels(t, func(t *testing.T) {
		for _, m := range []int{2, 4} {
			for _, sz := range []struct{ cin, cout, h, w int }{{3, 5, 7, 9}, {8, 4, 13, 30}, {2, 3, 1, 1}} {
				q := newWinoPlan(m, sz.cin, sz.cout, sz.h, sz.w, sz.h, sz.w, 1)
				nb := q.th * q.tw
				x := randomInput(sz.cin*sz.h*sz.w, 3)
				v := make([]float32, q.xi*sz.cin*nb)
				mm := randomInput(q.xi*sz.cout*nb, 4)
				y := make([]float32, sz.cout*sz.h*sz.w)
				n := winoBufElems(m, q.th, q.tw)
				buf := make([]float32, n+64)
				for i := n; i < len(buf); i++ {
					buf[i] = sentinel
				}
				k := &winoKernel{q: q, x: x, y: y, act: actReLU}
				k.in(x, sz.cin, 0, q.th, 0, q.tw, v, sz.cin*nb, buf[:n])
				k.out(mm, 0, sz.cout, 0, q.th, 0, q.tw, buf[:n])
				for i := n; i < len(buf); i++ {
					if buf[i] != sentinel {
						t.Fatalf("F(%d×%d) %v: the transforms wrote buf[%d], past its %d floats", m, m, sz, i, n)
					}
				}
			}
		}
	})
}
