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
// transforms that only add and subtract. F(4×4, 3×3) would save 4 times
// but its transforms scale values by up to 8 and lose about three more bits
// (see winogradRule for what was measured).
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

// winoXi is the number of elements of a transformed tile.
const winoXi = 16

// The rule: where Winograd ran faster than im2col + GEMM, measured per
// layer (conv + bias + ReLU) with BenchmarkWinogradLayers on a 2-core
// Xeon with AVX-512 (KVM, load 8 from other jobs), BackendOpenBLAS, median
// of 30 alternating runs, Winograd/im2col at 1 and 2 threads:
//
//	resnet18  64×64 56²  0.71 0.94   128×128 28²  0.70 0.93
//	          256×256 14²  0.65 0.59   512×512 7²  0.96 1.12
//	vgg16     64×64 224²  0.77 0.83   64×128 112²  0.80 0.84
//	          128×128 112²  0.77 0.80  128×256 56²  0.66 0.63
//	          256×256 56²  0.82 0.77   256×512 28²  0.66 1.17 (fastest runs 0.61 0.61)
//	          512×512 28²  0.54 0.91   512×512 14²  0.55 0.63
//	others    32×32 56²  0.75 1.11    64×64 7²  0.89 0.94   256×256 7²  0.90 1.11
//
// 7×7 outputs (16 tiles: GEMMs 16 columns wide) gain nothing; 32 channels
// lose on 2 threads.
const (
	winoMinChannels = 64
	winoMinPixels   = 14 * 14
)

// winograd reports whether convolution node n runs as Winograd
// F(2×2, 3×3): a 3×3, stride 1, padding 1 convolution of one group, with
// enough channels and output pixels for the GEMMs to stay efficient.
func winograd(n *model.Node) bool {
	c := n.Conv
	return n.Op == model.OpConv2d && c.Kernel == 3 && c.Stride == 1 && c.Padding == 1 &&
		max(c.Dilation, 1) == 1 && max(c.Groups, 1) == 1 &&
		c.InChannels >= winoMinChannels && c.OutChannels >= winoMinChannels &&
		len(n.OutShape) == 3 && n.OutShape[1]*n.OutShape[2] >= winoMinPixels
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

// winoWholeBlocks is the fewest blocks a layer is cut into; with fewer it
// runs whole.
const winoWholeBlocks = 4

// winoPlan is how a layer's tiles are cut into blocks and its output
// channels into parts.
type winoPlan struct {
	cin, cout, h, w, oh, ow int
	th, tw                  int // tile rows and columns
	bh, bw                  int // a block's tile rows and columns (at most)
	nby, nbx                int // blocks down and across
	parts, partRows         int // output channels split in parts of partRows
	whole                   bool
}

func newWinoPlan(cin, cout, h, w, oh, ow, threads int) winoPlan {
	q := winoPlan{cin: cin, cout: cout, h: h, w: w, oh: oh, ow: ow, th: (oh + 1) / 2, tw: (ow + 1) / 2}
	target := max(winoMinBlock, winoBlockFloats/(winoXi*(cin+cout)))
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
		parts := min(panels, (chunksPerThread*threads+winoXi-1)/winoXi)
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

// winoBufElems is the scratch either transform needs for a block of bh
// tile rows by bw tile columns (winograd.c uses the same layout).
func winoBufElems(bh, bw int) int {
	in := (2*bh+2)*4*bw + 4*bw + 8 // a padded row, then each row transformed along x
	out := 8*bh*bw + 4*bw          // the block transformed along y, then two output rows
	return max(in, out)
}

// scratchElems is one thread's scratch: the native GEMM's packed B, then
// (unless the layer runs whole) V (16 × cin × block tiles) and M (16 ×
// cout × block tiles), then the transforms' buffer.
func (q *winoPlan) scratchElems(native bool) int {
	e := winoBufElems(q.bh, q.bw)
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
	return satMul(winoXi, satMul(q.cin+q.cout, q.bh*q.bw))
}

// winoPlanOf is the plan of Winograd convolution node n (its input is as
// large as its output).
func winoPlanOf(n *model.Node, threads int) winoPlan {
	o := n.OutShape
	return newWinoPlan(n.Conv.InChannels, o[0], o[1], o[2], o[1], o[2], threads)
}

// winoWeightElems is the float32s of a Winograd convolution's transformed
// weights: 16 cout × cin matrices, packed for the native GEMM or not.
func winoWeightElems(cin, cout int, native bool) int {
	if native {
		return satMul(winoXi, packAElems(cout, cin))
	}
	return satMul(winoXi, satMul(cout, cin))
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
	k := &winoKernel{q: newWinoPlan(g.cin, g.cout, g.h, g.w, g.oh, g.ow, p.opts.Threads), native: p.nativeGEMM,
		gemm: p.gemm, bias: s.bias, act: s.act, scratch: p.scratch}
	if k.q.whole {
		k.shared = s.col[:k.q.blockElems()]
	}
	var u []float32
	if k.native {
		u = make([]float32, g.cout*g.cin) // one U_ξ at a time, then packed
	} else {
		u = make([]float32, winoXi*g.cout*g.cin)
	}
	for xi := range winoXi {
		if !k.native {
			winoFilter(u[xi*g.cout*g.cin:(xi+1)*g.cout*g.cin], s.weight, g.cout, g.cin, xi)
			continue
		}
		winoFilter(u, s.weight, g.cout, g.cin, xi)
		k.packed = append(k.packed, packA(u, g.cout, g.cin))
	}
	if !k.native {
		k.u = u
	}
	return k
}

// winoG is G of F(2×2, 3×3).
var winoG = [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}

// winoFilter sets u (cout × cin) to element xi of G·g·Gᵀ for every filter
// g of w ([cout][cin][3][3]), in float64.
func winoFilter(u, w []float32, cout, cin, xi int) {
	a, b := xi/4, xi%4
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
	p.pool.run(k, winoXi*k.q.parts, 1)
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
	vAll, sc := sc[:winoXi*q.cin*nbMax], sc[winoXi*q.cin*nbMax:]
	mAll, buf := sc[:winoXi*q.cout*nbMax], sc[winoXi*q.cout*nbMax:]
	buf = buf[:winoBufElems(q.bh, q.bw)]
	for it := lo; it < hi; it++ {
		blk, part := it/q.parts, it%q.parts
		ty0, ty1 := evenSpan(blk/q.nbx, q.nby, q.th)
		tx0, tx1 := evenSpan(blk%q.nbx, q.nbx, q.tw)
		co0, co1 := part*q.partRows, min((part+1)*q.partRows, q.cout)
		nb := (ty1 - ty0) * (tx1 - tx0)
		vs, ms := q.cin*nb, q.cout*nb
		v, m := vAll[:winoXi*vs], mAll[:winoXi*ms]
		if !nativeWinoIn(k.x, q, q.cin, ty0, ty1, tx0, tx1, v, vs, buf) {
			winoIn(k.x, q, q.cin, ty0, ty1, tx0, tx1, v, vs, buf)
		}
		for xi := range winoXi {
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
	buf := sc[:winoBufElems(q.bh, q.bw)]
	nb := q.th * q.tw
	vs, ms := q.cin*nb, q.cout*nb
	v, m := k.shared[:winoXi*vs], k.shared[winoXi*vs:]
	switch k.phase {
	case 0: // channels [lo, hi) of x into rows [lo, hi) of every V_ξ
		x := k.x[lo*q.h*q.w : hi*q.h*q.w]
		if !nativeWinoIn(x, q, hi-lo, 0, q.th, 0, q.tw, v[lo*nb:], vs, buf) {
			winoIn(x, q, hi-lo, 0, q.th, 0, q.tw, v[lo*nb:], vs, buf)
		}
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

// out transforms output channels [co0, co1) of block m into y.
func (k *winoKernel) out(m []float32, co0, co1, ty0, ty1, tx0, tx1 int, buf []float32) {
	q := &k.q
	if !nativeWinoOut(m, q, co0, co1, k.y, ty0, ty1, tx0, tx1, k.bias, k.act, buf) {
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
