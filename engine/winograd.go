package engine

import (
	"gonum.org/v1/gonum/blas"

	"github.com/mtlsplit/mtlsplit/model"
)

// Winograd F(2×2, 3×3) runs a 3×3 stride-1 convolution as 16 GEMMs of a
// quarter of the size: each 4×4 input tile d becomes V = Bᵀ·d·B, each
// filter g becomes U = G·g·Gᵀ (once, at Compile), and for each of the 16
// elements ξ of a tile, M_ξ = U_ξ·V_ξ over the input channels, on the same
// GEMM as the other convolutions (the native one with U_ξ packed, or the
// BLAS); each 2×2 output tile is then Aᵀ·M·A, plus bias, then the
// activation. 2.25 times fewer multiplications than the direct sum, for
// transforms that only add and subtract.
//
// Layers with 28×28 or more outputs run F(4×4, 3×3) instead: 6×6 input
// tiles, 36 GEMMs, 4 times fewer multiplications. Its transforms scale by
// up to 8, so it loses bits: at the points 0, ±1, −2, 1/2 (Barabasz et
// al.'s better choice than 0, ±1, ±2) a random 64-channel layer is within
// 1.6e-6 of float64 relative to its largest output (F(2×2, 3×3): 2.5e-7;
// ±2: 4.1e-6), and the fixture networks within 2.8e-6. It runs resnet18's
// 56² and 28² layers 1.3–1.5 times faster than F(2×2, 3×3); at 14² (16
// tiles) its GEMMs are too narrow for the 36 U_ξ they stream, and it lost
// (0.69 against 0.60 ms on two threads).
//
// The tiles are cut into blocks of whole tile rows (or of part of one row
// when a row is long), sized so that a block's transformed input and output
// fit in about a megabyte; a thread transforms a block's input into its own
// scratch, runs the 16 GEMMs for a range of output channels and writes
// those channels' outputs. A layer with fewer than winoWholeBlocks blocks
// (few tiles, many channels) runs whole instead, in three parallel phases
// over the shared scratch: every channel's input transformed, the 16 GEMMs
// split by ξ and output channels, every channel's output transformed; cut
// into blocks, its threads would each transform the same input again.

// winoXi is the number of elements of a transformed tile of F(m×m, 3×3).
func winoXi(m int) int { return (m + 2) * (m + 2) }

// The rule: where Winograd ran faster than im2col + GEMM, measured per
// layer (conv + bias + ReLU) with BenchmarkWinogradLayers on a 2-core
// Xeon with AVX-512 (KVM, quiet), BackendOpenBLAS (the native GEMM), median
// of 30 alternating runs, Winograd/im2col at 1 and 2 threads, F(4×4, 3×3)
// from 28² up:
//
//	resnet18  64×64 56²  0.45 0.45   128×128 28²  0.43 0.43
//	          256×256 14²  0.62 0.62   512×512 7²  0.66 0.64
//	vgg16     64×64 224²  0.56 0.51   64×128 112²  0.45 0.43
//	          128×128 112²  0.46 0.40  128×256 56²  0.42 0.42
//	          256×256 56²  0.43 0.47   256×512 28²  0.38 0.32
//	          512×512 28²  0.45 0.38   512×512 14²  0.63 0.51
//	others    32×32 56²  0.53 0.67    64×64 7²  0.84 1.27   256×256 7²  0.76 0.54
//
// Alone, even 7×7 layers win from 256 channels (and 32 channels at 56²),
// but in a pass of resnet18 its 7×7 layers' 16 U_ξ (16.8 MB each, against
// 9.4 MB of packed weights for im2col) come from memory, and Winograd took
// as long as im2col (0.97 against 0.99 ms on two threads): the rule keeps
// what was measured in whole networks.
const (
	winoMinChannels = 64
	winoMinPixels   = 14 * 14
)

// winograd reports whether convolution node n runs as Winograd: a 3×3,
// stride 1, padding 1 convolution of one group, with enough channels and
// output pixels for the GEMMs to stay efficient.
func winograd(n *model.Node) bool {
	c := n.Conv
	return n.Op == model.OpConv2d && c.Kernel == 3 && c.Stride == 1 && c.Padding == 1 &&
		max(c.Dilation, 1) == 1 && max(c.Groups, 1) == 1 &&
		c.InChannels >= winoMinChannels && c.OutChannels >= winoMinChannels &&
		len(n.OutShape) == 3 && n.OutShape[1]*n.OutShape[2] >= winoMinPixels
}

// winoTile is the output tile m of the Winograd convolution node n: it
// runs as F(m×m, 3×3).
func winoTile(n *model.Node) int {
	if n.OutShape[1]*n.OutShape[2] >= 28*28 {
		return 4
	}
	return 2
}

// convModeAt is the mode convolution node n runs in: convModeOf, or
// Winograd where its shape fits.
func convModeAt(n *model.Node) convMode {
	if winograd(n) {
		return convWinograd
	}
	return convModeOf(n.Conv)
}

// winoBlockFloats is about how many floats a block's transformed input and
// output take together (1 MB: the L2 cache of the machine it was tuned on).
const winoBlockFloats = 1 << 18

// winoMinBlock is the fewest tiles a block has where the layer has that
// many: every block streams all 16 U_ξ, and wide layers (512 channels:
// 16 MB of U) waited on memory with blocks of 16 tiles.
const winoMinBlock = 64

// winoSharedBlock is the fewest tiles a block has when a layer with few
// tiles is cut finer for the threads (winoSmallU). resnet18's 56² layers
// in F(4×4, 3×3) (196 tiles) on two threads, in passes interleaved with
// ONNX Runtime's and PyTorch's as in make bench-engine (medians of 30, 2–3
// runs): 4 blocks of 56 and 42 tiles 0.67–0.73 ms a layer, 8 blocks of 28
// and 14 tiles 0.53–0.55 ms, 14 blocks of 14 tiles 0.68–0.70 ms. Back to
// back, the three were alike.
const winoSharedBlock = 28

// winoSmallU is the most floats of transformed weights (all U_ξ) for
// which a layer is cut finer: every block streams all of them.
const winoSmallU = 1 << 18

// winoWholeBlocks is the fewest blocks a layer is cut into; with fewer it
// runs whole.
const winoWholeBlocks = 4

// winoPlan is how a layer's tiles are cut into blocks and its output
// channels into parts.
type winoPlan struct {
	m, xi                   int // F(m×m, 3×3): output tile size, elements of a transformed tile
	cin, cout, h, w, oh, ow int
	th, tw                  int // tile rows and columns
	bh, bw                  int // a block's tile rows and columns (at most)
	nby, nbx                int // blocks down and across
	parts, partRows         int // output channels split in parts of partRows
	whole                   bool
}

func newWinoPlan(m, cin, cout, h, w, oh, ow, threads int) winoPlan {
	q := winoPlan{m: m, xi: winoXi(m), cin: cin, cout: cout, h: h, w: w, oh: oh, ow: ow, th: (oh + m - 1) / m, tw: (ow + m - 1) / m}
	target := max(winoMinBlock, winoBlockFloats/(q.xi*(cin+cout)))
	if n := chunksPerThread * threads; threads > 1 && q.xi*cin*cout <= winoSmallU {
		// Blocks enough for the threads to claim several each, so that
		// one that starts late (in a pass after another program's)
		// leaves the others less to wait for.
		target = min(target, max(winoSharedBlock, (q.th*q.tw+n-1)/n))
	}
	q.nbx = (q.tw + target - 1) / target
	q.bw = (q.tw + q.nbx - 1) / q.nbx
	rows := max(1, target/q.bw)
	q.nby = (q.th + rows - 1) / rows
	q.bh = (q.th + q.nby - 1) / q.nby
	panels := (cout + gemmMR - 1) / gemmMR
	if q.nby*q.nbx < winoWholeBlocks {
		// One block; the GEMMs are split by ξ, and by output channels
		// where 16 items are too few for the threads.
		q.whole, q.bh, q.bw, q.nby, q.nbx = true, q.th, q.tw, 1, 1
		parts := min(panels, (chunksPerThread*threads+q.xi-1)/q.xi)
		q.partRows = (panels + parts - 1) / parts * gemmMR
		q.parts = (cout + q.partRows - 1) / q.partRows
		return q
	}
	// A block count the threads divide, of tile rows that differ by at
	// most one: resnet18's 64×64 at 56² made 7 blocks of 4 rows, and two
	// threads then ran 4 blocks against 3.
	for q.nby < q.th && q.nby*q.nbx%threads != 0 {
		q.nby++
	}
	q.bh = (q.th + q.nby - 1) / q.nby
	// Fewer blocks than threads: split the output channels too, in whole
	// panels of the native GEMM, so that every thread has work. Not with
	// merely few blocks: each part transforms its block's input again and
	// packs each V_ξ again, and with 4 to 7 blocks on 2 threads (resnet18's
	// 64×64 at 56², 128×128 at 28²) that cost more than the uneven split
	// it evens out: Winograd/im2col at 2 threads went from 0.88 to 0.70
	// and from 0.84 to 0.66 (medians of 8 to 10 alternating runs).
	parts := 1
	if blocks := q.nby * q.nbx; threads > 1 && blocks < threads {
		parts = min(panels, (chunksPerThread*threads+blocks-1)/blocks)
	}
	q.partRows = (panels + parts - 1) / parts * gemmMR
	q.parts = (cout + q.partRows - 1) / q.partRows
	return q
}

// winoBufElems is the scratch either transform of F(m×m, 3×3) needs for a
// block of bh tile rows by bw tile columns (winograd.c uses the same
// layout): a padded row (m·bw + 2 floats), then each of the block's input
// rows transformed along x (F(4×4, 3×3) keeps them in 4 phases of bh + 1
// rows); or the block transformed along y, then the output rows a tile
// row cut by the output's edge goes through (two of 2·bw, or one of 4·bw).
func winoBufElems(m, bh, bw int) int {
	a := m + 2
	in := (m*bh+2)*a*bw + m*bw + 8
	if m == 4 {
		in = a*4*(bh+1)*bw + 4*bw + 8
	}
	out := m*a*bh*bw + 4*bw
	return max(in, out)
}

// scratchElems is one thread's scratch: the native GEMM's packed B, then
// (unless the layer runs whole) V (xi × cin × block tiles) and M (xi ×
// cout × block tiles), then the transforms' buffer.
func (q *winoPlan) scratchElems(native bool) int {
	e := winoBufElems(q.m, q.bh, q.bw)
	if !q.whole {
		e = satAdd(e, q.blockElems())
	}
	if native {
		e = satAdd(e, packBElems())
	}
	return e
}

// blockElems is V and M of one block: the whole layer's, in the
// Program's shared scratch (convStep.col), when it runs whole.
func (q *winoPlan) blockElems() int {
	return satMul(q.xi, satMul(q.cin+q.cout, q.bh*q.bw))
}

// winoPlanOf is the plan of Winograd convolution node n (its input is as
// large as its output).
func winoPlanOf(n *model.Node, threads int) winoPlan {
	o := n.OutShape
	return newWinoPlan(winoTile(n), n.Conv.InChannels, o[0], o[1], o[2], o[1], o[2], threads)
}

// winoWeightElems is the float32s of a Winograd convolution's transformed
// weights: xi cout × cin matrices, packed for the native GEMM or not.
func winoWeightElems(xi, cin, cout int, native bool) int {
	if native {
		return satMul(xi, packAElems(cout, cin))
	}
	return satMul(xi, satMul(cout, cin))
}

// winoKernel runs one sample of a Winograd convolution: item it is block
// it / parts, output channels part it % parts.
type winoKernel struct {
	q       winoPlan
	native  bool
	packed  []*packedA // native: U_ξ packed
	u       []float32  // otherwise: U_ξ as cout × cin, one after another
	gemm    blas.Float32Level3
	bias    []float32
	act     act
	scratch [][]float32
	x, y    []float32
	shared  []float32 // whole: V then M
	phase   int       // whole: 0 input transform, 1 GEMMs, 2 output transform
}

// newWinoKernel transforms s's weights (batch norm folded in) for a
// Program with p's GEMM.
func newWinoKernel(p *Program, s *convStep) *winoKernel {
	g := &s.g
	k := &winoKernel{q: newWinoPlan(s.winoM, g.cin, g.cout, g.h, g.w, g.oh, g.ow, p.opts.Threads), native: p.nativeGEMM,
		gemm: p.gemm, bias: s.bias, act: s.act, scratch: p.scratch}
	if k.q.whole {
		k.shared = s.col[:k.q.blockElems()]
	}
	var u []float32
	if k.native {
		u = make([]float32, g.cout*g.cin) // one U_ξ at a time, then packed
	} else {
		u = make([]float32, k.q.xi*g.cout*g.cin)
	}
	for xi := range k.q.xi {
		if !k.native {
			winoFilter(k.q.m, u[xi*g.cout*g.cin:(xi+1)*g.cout*g.cin], s.weight, g.cout, g.cin, xi)
			continue
		}
		winoFilter(k.q.m, u, s.weight, g.cout, g.cin, xi)
		k.packed = append(k.packed, packA(u, g.cout, g.cin))
	}
	if !k.native {
		k.u = u
	}
	return k
}

// winoG2 is G of F(2×2, 3×3); winoG4 of F(4×4, 3×3) at the points 0, 1,
// −1, 1/2, −2: each row is (1, p, p²)/∏(p − q) over the other points q.
var (
	winoG2 = [][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	winoG4 = [][3]float64{{1, 0, 0}, {1. / 3, 1. / 3, 1. / 3}, {-1. / 3, 1. / 3, -1. / 3},
		{-16. / 15, -8. / 15, -4. / 15}, {1. / 15, -2. / 15, 4. / 15}, {0, 0, 1}}
)

// winoFilter sets u (cout × cin) to element xi of G·g·Gᵀ of F(m×m, 3×3)
// for every filter g of w ([cout][cin][3][3]), in float64.
func winoFilter(m int, u, w []float32, cout, cin, xi int) {
	winoG := winoG2
	if m == 4 {
		winoG = winoG4
	}
	a, b := xi/(m+2), xi%(m+2)
	for o := range cout {
		for c := range cin {
			f := w[(o*cin+c)*9 : (o*cin+c+1)*9]
			var sum float64
			for i := range 3 {
				for j := range 3 {
					sum += winoG[a][i] * float64(f[i*3+j]) * winoG[b][j]
				}
			}
			u[o*cin+c] = float32(sum)
		}
	}
}

func (k *winoKernel) run(p *Program, x, y []float32) {
	k.x, k.y = x, y
	if !k.q.whole {
		p.pool.run(k, k.q.nby*k.q.nbx*k.q.parts, 1)
		return
	}
	k.phase = 0
	p.pool.run(k, k.q.cin, 1)
	k.phase = 1
	p.pool.run(k, k.q.xi*k.q.parts, 1)
	k.phase = 2
	p.pool.run(k, k.q.cout, 1)
}

func (k *winoKernel) part(lo, hi, tid int) {
	if k.q.whole {
		k.wholePart(lo, hi, tid)
		return
	}
	q := &k.q
	sc := k.scratch[tid]
	var pb []float32
	if k.native {
		pb, sc = sc[:packBElems()], sc[packBElems():]
	}
	nbMax := q.bh * q.bw
	vAll, sc := sc[:q.xi*q.cin*nbMax], sc[q.xi*q.cin*nbMax:]
	mAll, buf := sc[:q.xi*q.cout*nbMax], sc[q.xi*q.cout*nbMax:]
	buf = buf[:winoBufElems(q.m, q.bh, q.bw)]
	for it := lo; it < hi; it++ {
		blk, part := it/q.parts, it%q.parts
		ty0, ty1 := evenSpan(blk/q.nbx, q.nby, q.th)
		tx0, tx1 := evenSpan(blk%q.nbx, q.nbx, q.tw)
		co0, co1 := part*q.partRows, min((part+1)*q.partRows, q.cout)
		nb := (ty1 - ty0) * (tx1 - tx0)
		vs, ms := q.cin*nb, q.cout*nb
		v, m := vAll[:q.xi*vs], mAll[:q.xi*ms]
		k.in(k.x, q.cin, ty0, ty1, tx0, tx1, v, vs, buf)
		for xi := range q.xi {
			k.gemmXi(xi, v[xi*vs:(xi+1)*vs], m[xi*ms:(xi+1)*ms], nb, co0, co1, pb)
		}
		k.out(m, co0, co1, ty0, ty1, tx0, tx1, buf)
	}
}

// wholePart runs items [lo, hi) of the phase: input channels, (ξ, part)
// pairs, or output channels.
func (k *winoKernel) wholePart(lo, hi, tid int) {
	q := &k.q
	sc := k.scratch[tid]
	var pb []float32
	if k.native {
		pb, sc = sc[:packBElems()], sc[packBElems():]
	}
	buf := sc[:winoBufElems(q.m, q.bh, q.bw)]
	nb := q.th * q.tw
	vs, ms := q.cin*nb, q.cout*nb
	v, m := k.shared[:q.xi*vs], k.shared[q.xi*vs:]
	switch k.phase {
	case 0: // channels [lo, hi) of x into rows [lo, hi) of every V_ξ
		k.in(k.x[lo*q.h*q.w:hi*q.h*q.w], hi-lo, 0, q.th, 0, q.tw, v[lo*nb:], vs, buf)
	case 1:
		for it := lo; it < hi; it++ {
			xi, part := it/q.parts, it%q.parts
			co0, co1 := part*q.partRows, min((part+1)*q.partRows, q.cout)
			k.gemmXi(xi, v[xi*vs:(xi+1)*vs], m[xi*ms:(xi+1)*ms], nb, co0, co1, pb)
		}
	case 2:
		k.out(m, lo, hi, 0, q.th, 0, q.tw, buf)
	}
}

// gemmXi sets rows [co0, co1) of M_ξ (cout × nb) to U_ξ·V_ξ.
func (k *winoKernel) gemmXi(xi int, vx, mx []float32, nb, co0, co1 int, pb []float32) {
	q := &k.q
	if k.native {
		nativeGEMMPart(k.packed[xi], vx, nb, mx, nil, actNone, co0/gemmMR, (co1+gemmMR-1)/gemmMR, 0, nb, pb, nil)
		return
	}
	ux := k.u[xi*q.cout*q.cin:]
	k.gemm.Sgemm(blas.NoTrans, blas.NoTrans, co1-co0, nb, q.cin, 1, ux[co0*q.cin:], q.cin, vx, nb, 0, mx[co0*nb:], nb)
}

// in transforms cin channels of x, the tiles [ty0, ty1) × [tx0, tx1),
// into v.
func (k *winoKernel) in(x []float32, cin, ty0, ty1, tx0, tx1 int, v []float32, vs int, buf []float32) {
	q := &k.q
	switch {
	case nativeWinoIn(x, q, cin, ty0, ty1, tx0, tx1, v, vs, buf):
	case q.m == 4:
		winoIn4(x, q, cin, ty0, ty1, tx0, tx1, v, vs, buf)
	default:
		winoIn(x, q, cin, ty0, ty1, tx0, tx1, v, vs, buf)
	}
}

// out transforms output channels [co0, co1) of block m into y.
func (k *winoKernel) out(m []float32, co0, co1, ty0, ty1, tx0, tx1 int, buf []float32) {
	q := &k.q
	switch {
	case nativeWinoOut(m, q, co0, co1, k.y, ty0, ty1, tx0, tx1, k.bias, k.act, buf):
	case q.m == 4:
		winoOut4(m, q, co0, co1, k.y, ty0, ty1, tx0, tx1, k.bias, k.act, buf)
	default:
		winoOut(m, q, co0, co1, k.y, ty0, ty1, tx0, tx1, k.bias, k.act, buf)
	}
}

// winoIn is mts_wino_in (winograd.h) in Go: cin channels of x.
func winoIn(x []float32, q *winoPlan, cin, ty0, ty1, tx0, tx1 int, v []float32, vs int, buf []float32) {
	nty, bw := ty1-ty0, tx1-tx0
	nq, nb := 2*nty+2, nty*bw
	c0, nc := 2*tx0-1, 2*bw+2
	t, hb := buf[:nc], buf[nc+2:]
	half := (nty + 1) * bw
	hk := 2 * half
	for ci := range cin {
		plane := x[ci*q.h*q.w : (ci+1)*q.h*q.w]
		for r := range nq {
			iy := 2*ty0 - 1 + r
			at := r%2*half + r/2*bw
			h0, h1, h2, h3 := hb[at:][:bw], hb[at+hk:][:bw], hb[at+2*hk:][:bw], hb[at+3*hk:][:bw]
			if iy < 0 || iy >= q.h {
				clear(h0)
				clear(h1)
				clear(h2)
				clear(h3)
				continue
			}
			row := plane[iy*q.w : (iy+1)*q.w]
			for i := range t {
				t[i] = 0
				if c := c0 + i; c >= 0 && c < q.w {
					t[i] = row[c]
				}
			}
			for i := range bw {
				d0, d1, d2, d3 := t[2*i], t[2*i+1], t[2*i+2], t[2*i+3]
				h0[i], h1[i], h2[i], h3[i] = d0-d2, d1+d2, d2-d1, d1-d3
			}
		}
		j := ci * nb
		for k := range 4 {
			e, o := hb[k*hk:], hb[k*hk+half:]
			a0, a1, a2, a3 := e[:nb], o[:nb], e[bw:][:nb], o[bw:][:nb]
			v0, v1 := v[k*vs+j:][:nb], v[(4+k)*vs+j:][:nb]
			v2, v3 := v[(8+k)*vs+j:][:nb], v[(12+k)*vs+j:][:nb]
			for i := range nb {
				v0[i], v1[i], v2[i], v3[i] = a0[i]-a2[i], a1[i]+a2[i], a2[i]-a1[i], a1[i]-a3[i]
			}
		}
	}
}

// winoOut is mts_wino_out (winograd.h) in Go.
func winoOut(m []float32, q *winoPlan, co0, co1 int, y []float32, ty0, ty1, tx0, tx1 int, bias []float32, a act, buf []float32) {
	nty, bw := ty1-ty0, tx1-tx0
	nb := nty * bw
	ms := q.cout * nb
	ox0 := 2 * tx0
	n := min(q.ow-ox0, 2*bw)
	s, r0, r1 := buf[:8*nb], buf[8*nb:8*nb+2*bw], buf[8*nb+2*bw:8*nb+4*bw]
	for co := co0; co < co1; co++ {
		var b float32
		if bias != nil {
			b = bias[co]
		}
		j := co * nb
		for k := range 4 {
			m0, m1 := m[k*ms+j:][:nb], m[(4+k)*ms+j:][:nb]
			m2, m3 := m[(8+k)*ms+j:][:nb], m[(12+k)*ms+j:][:nb]
			s0, s1 := s[k*nb:][:nb], s[(4+k)*nb:][:nb]
			for i := range nb {
				s0[i] = (m0[i] + m1[i]) + m2[i]
				s1[i] = (m1[i] - m2[i]) - m3[i]
			}
		}
		for r := range nty {
			for i := range bw {
				st := s[r*bw+i:]
				a0, a1, a2, a3 := st[0], st[nb], st[2*nb], st[3*nb]
				e0, e1, e2, e3 := st[4*nb], st[5*nb], st[6*nb], st[7*nb]
				r0[2*i], r0[2*i+1] = (a0+a1)+a2, (a1-a2)-a3
				r1[2*i], r1[2*i+1] = (e0+e1)+e2, (e1-e2)-e3
			}
			oy := 2 * (ty0 + r)
			for dy, src := range [2][]float32{r0, r1} {
				if oy+dy >= q.oh {
					break
				}
				dst := y[(co*q.oh+oy+dy)*q.ow+ox0:][:n]
				copy(dst, src)
				biasAct(dst, b, a)
			}
		}
	}
}

// bt4 is Bᵀ·d of F(4×4, 3×3), as winograd.c computes it.
func bt4(d0, d1, d2, d3, d4, d5 float32) (o0, o1, o2, o3, o4, o5 float32) {
	return (d0 + d4) + (1.5*(d3-d1) - 2*d2), (d4 - d1) + (0.5*d2 + 2.5*d3), (d4 + d1) + (0.5*d3 - 2.5*d2),
		(d4 - d2) + 2*(d3-d1), (d4 - d2) + 0.5*(d1-d3), (d1 + d5) + (1.5*(d4-d2) - 2*d3)
}

// at4 is Aᵀ·m of F(4×4, 3×3), as winograd.c computes it.
func at4(m0, m1, m2, m3, m4, m5 float32) (o0, o1, o2, o3 float32) {
	a, b := m1+m2, m1-m2
	return (m0 + a) + (m3 + m4), b + (0.5*m3 - 2*m4), a + (0.25*m3 + 4*m4), (b + m5) + (0.125*m3 - 8*m4)
}

// winoIn4 is mts_wino_in4 (winograd.h) in Go: cin channels of x.
func winoIn4(x []float32, q *winoPlan, cin, ty0, ty1, tx0, tx1 int, v []float32, vs int, buf []float32) {
	nb := (ty1 - ty0) * (tx1 - tx0)
	var d [6][6]float32
	for ci := range cin {
		plane := x[ci*q.h*q.w : (ci+1)*q.h*q.w]
		j := ci * nb
		for ty := ty0; ty < ty1; ty++ {
			for tx := tx0; tx < tx1; tx++ {
				for r := range 6 {
					var t [6]float32
					if iy := 4*ty - 1 + r; iy >= 0 && iy < q.h {
						for c := range 6 {
							if ix := 4*tx - 1 + c; ix >= 0 && ix < q.w {
								t[c] = plane[iy*q.w+ix]
							}
						}
					}
					d[r][0], d[r][1], d[r][2], d[r][3], d[r][4], d[r][5] = bt4(t[0], t[1], t[2], t[3], t[4], t[5])
				}
				for k := range 6 { // column k of d·B, then Bᵀ along y
					var o [6]float32
					o[0], o[1], o[2], o[3], o[4], o[5] = bt4(d[0][k], d[1][k], d[2][k], d[3][k], d[4][k], d[5][k])
					for l, e := range o {
						v[(6*l+k)*vs+j] = e
					}
				}
				j++
			}
		}
	}
}

// winoOut4 is mts_wino_out4 (winograd.h) in Go: a tile row's four output
// rows go through buf.
func winoOut4(m []float32, q *winoPlan, co0, co1 int, y []float32, ty0, ty1, tx0, tx1 int, bias []float32, a act, buf []float32) {
	bw, nb := tx1-tx0, (ty1-ty0)*(tx1-tx0)
	ms := q.cout * nb
	ox0 := 4 * tx0
	n := min(q.ow-ox0, 4*bw)
	rows := buf[:16*bw]
	for co := co0; co < co1; co++ {
		var b float32
		if bias != nil {
			b = bias[co]
		}
		for ty := ty0; ty < ty1; ty++ {
			for i := range bw {
				j := co*nb + (ty-ty0)*bw + i
				var s [4][6]float32 // Aᵀ·M along y
				for k := range 6 {
					e := func(l int) float32 { return m[(6*l+k)*ms+j] }
					s[0][k], s[1][k], s[2][k], s[3][k] = at4(e(0), e(1), e(2), e(3), e(4), e(5))
				}
				for l, t := range s {
					r := rows[4*l*bw+4*i:]
					r[0], r[1], r[2], r[3] = at4(t[0], t[1], t[2], t[3], t[4], t[5])
				}
			}
			for l := range 4 {
				oy := 4*ty + l
				if oy >= q.oh {
					break
				}
				dst := y[(co*q.oh+oy)*q.ow+ox0:][:n]
				copy(dst, rows[4*l*bw:])
				biasAct(dst, b, a)
			}
		}
	}
}
