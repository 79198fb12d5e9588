package engine

import (
	"math"

	"gonum.org/v1/gonum/blas"

	"github.com/mtlsplit/mtlsplit/model"
)

type convMode uint8

const (
	convIm2col    convMode = iota // patches to a scratch matrix, then GEMM
	convDirect                    // 1×1, stride 1, no padding: GEMM on the input itself
	convDepthwise                 // one filter per channel: a direct loop
	convWinograd                  // 3×3 stride 1: Winograd F(2×2, 3×3) (winograd.go)
)

func convModeOf(c model.Conv) convMode {
	switch {
	case c.Groups == c.InChannels && c.Groups == c.OutChannels && c.Groups > 1:
		return convDepthwise
	case c.Kernel == 1 && c.Stride == 1 && c.Padding == 0:
		return convDirect
	}
	return convIm2col
}

// geom is the geometry of a sliding window over one [C H W] sample.
type geom struct {
	cin, h, w, cout, oh, ow  int
	k, stride, pad, dil, grp int
	// ox0[kx], ox1[kx] bound the output columns whose input column
	// ox·stride − pad + kx·dil lies inside the image.
	ox0, ox1 []int
}

func newGeom(c model.Conv, in, out model.Shape) geom {
	g := geomOf(c, in, out)
	g.ox0, g.ox1 = make([]int, g.k), make([]int, g.k)
	for kx := range g.k {
		g.ox0[kx], g.ox1[kx] = g.validRange(kx, g.w, g.ow)
	}
	return g
}

// geomOf is the geometry without the column ranges: what sizes need.
func geomOf(c model.Conv, in, out model.Shape) geom {
	return geom{cin: in[0], h: in[1], w: in[2], cout: out[0], oh: out[1], ow: out[2],
		k: c.Kernel, stride: c.Stride, pad: c.Padding, dil: max(c.Dilation, 1), grp: max(c.Groups, 1)}
}

// depthwiseScratch is the padded plane one thread of a depthwise
// convolution needs, and whether the native kernel runs it.
func depthwiseScratch(g *geom) (native bool, elems int) {
	if ok, scratch := nativeDepthwise(g); ok {
		return true, scratch
	}
	return false, satMul(satAdd(g.h, satMul(2, g.pad)), satAdd(g.w, satMul(2, g.pad)))
}

// validRange is the range of outputs o in [0, n) whose input
// o·stride − pad + k·dil lies in [0, size).
func (g *geom) validRange(k, size, n int) (int, int) {
	off := k*g.dil - g.pad
	lo := 0
	if off < 0 {
		lo = (-off + g.stride - 1) / g.stride
	}
	hi := 0
	if size-1-off >= 0 {
		hi = (size-1-off)/g.stride + 1
	}
	hi = min(hi, n)
	return min(lo, hi), hi
}

// convStep is a convolution with batch norm folded into its weights and bias
// and an activation applied while the output is still in cache.
type convStep struct {
	in, out []float32
	g       geom
	mode    convMode
	weight  []float32 // [cout][cin/groups·k·k]
	bias    []float32 // [cout]; nil when zero
	act     act
	col     []float32
	mm      gemmKernel
	im      im2colKernel
	epi     biasActKernel
	dw      depthwiseKernel
	// native is set when the native GEMM runs this convolution: packed
	// holds each group's weights, and the epilogue is fused.
	native bool
	packed []*packedA
	nk     nativeGemmKernel
	wino   *winoKernel // convWinograd
	winoM  int         // convWinograd: its output tile (F(m×m, 3×3))
}

func newConvStep(p *Program, sp stepPlan, w *Weights, in, out, col []float32, inShape model.Shape) (*convStep, error) {
	return newConvStepMode(p, sp, w, in, out, col, inShape, convModeAt(sp.nodes[0]))
}

// newConvStepMode is newConvStep in a given mode (benchmarks compare them).
func newConvStepMode(p *Program, sp stepPlan, w *Weights, in, out, col []float32, inShape model.Shape, mode convMode) (*convStep, error) {
	gemm := p.gemm
	conv := sp.nodes[0]
	c := conv.Conv
	s := &convStep{in: in, out: out, g: newGeom(c, inShape, sp.nodes[len(sp.nodes)-1].OutShape),
		mode: mode, col: col, mm: gemmKernel{gemm: gemm}}
	packed := packsMode(mode, p.nativeGEMM)
	switch {
	case packed && folds(sp) && foldsInPlace(p.opts.ReleaseWeights, p.uses, conv):
		s.weight = w.Get(conv.Name, "weight") // the caller's, released after this step
	case packed && folds(sp): // folded in Compile's buffer: only the packed copy stays
		s.weight = append(p.fold[:0], w.Get(conv.Name, "weight")...)
	case packed: // packed straight from the caller's weights
		s.weight = w.Get(conv.Name, "weight")
	default:
		s.weight = append([]float32(nil), w.Get(conv.Name, "weight")...)
	}
	if c.Bias {
		s.bias = guarded(c.OutChannels) // the GEMM's masked tail reads past it
		copy(s.bias, w.Get(conv.Name, "bias"))
	}
	for _, n := range sp.nodes[1:] {
		if n.Op == model.OpBatchNorm2d {
			bn := bnOf(w, n)
			if s.bias == nil {
				s.bias = guarded(c.OutChannels)
			}
			per := len(s.weight) / c.OutChannels
			for o := range c.OutChannels {
				scale, shift := bn.affine(o)
				for j := range per {
					s.weight[o*per+j] = float32(float64(s.weight[o*per+j]) * scale)
				}
				s.bias[o] = float32(float64(s.bias[o])*scale + shift)
			}
		} else {
			s.act, _ = actOf(n.Op)
		}
	}
	if s.mode == convWinograd {
		s.winoM = winoTile(conv)
		s.wino = newWinoKernel(p, s)
		s.weight = nil // p.fold's or the caller's: the Program keeps the transformed ones
		return s, nil
	}
	ohw := s.g.oh * s.g.ow
	s.im = im2colKernel{g: &s.g}
	s.epi = biasActKernel{hw: ohw, bias: s.bias, act: s.act}
	s.dw = depthwiseKernel{s: s}
	if s.mode == convDepthwise {
		s.dw.native, _ = depthwiseScratch(&s.g)
		s.dw.pad = p.scratch
	} else if packed {
		s.native = true
		coutG := s.g.cout / s.g.grp
		kk := s.g.cin / s.g.grp * s.g.k * s.g.k // as in stepWeightElems
		for gi := range s.g.grp {
			s.packed = append(s.packed, packA(s.weight[gi*coutG*kk:(gi+1)*coutG*kk], coutG, kk))
		}
		s.weight = nil // p.fold's or the caller's: not the Program's to keep
		s.nk.scratch, s.nk.act, s.nk.shared = p.scratch, s.act, col
		if s.mode == convIm2col {
			s.nk.cs = newConvSrc(&s.g)
		}
	}
	return s, nil
}

// bnParams are one batch norm's tensors, read in place (no temporaries:
// Compile allocates only what the Program keeps).
type bnParams struct {
	gamma, beta, mean, variance []float32
	eps                         float64
}

func bnOf(w *Weights, n *model.Node) bnParams {
	return bnParams{w.Get(n.Name, "weight"), w.Get(n.Name, "bias"), w.Get(n.Name, "running_mean"), w.Get(n.Name, "running_var"), n.Eps}
}

// affine is inference batch norm of channel c as y = x·scale + shift, in
// float64.
func (b bnParams) affine(c int) (scale, shift float64) {
	scale = float64(b.gamma[c]) / math.Sqrt(float64(b.variance[c])+b.eps)
	return scale, float64(b.beta[c]) - float64(b.mean[c])*scale
}

func (s *convStep) run(p *Program) {
	g := &s.g
	ohw := g.oh * g.ow
	inSz, outSz := g.cin*g.h*g.w, g.cout*ohw
	switch s.mode {
	case convDepthwise:
		p.pool.run(&s.dw, p.n*g.cout, 1)
		return
	case convWinograd:
		for smp := range p.n {
			s.wino.run(p, s.in[smp*inSz:(smp+1)*inSz], s.out[smp*outSz:(smp+1)*outSz])
		}
		return
	}
	cinG, coutG := g.cin/g.grp, g.cout/g.grp
	kk := cinG * g.k * g.k
	for smp := range p.n {
		x, y := s.in[smp*inSz:(smp+1)*inSz], s.out[smp*outSz:(smp+1)*outSz]
		for gi := range g.grp {
			xg := x[gi*cinG*g.h*g.w : (gi+1)*cinG*g.h*g.w]
			b := xg
			if s.mode == convIm2col && !s.native {
				s.im.src, s.im.col = xg, s.col
				p.pool.run(&s.im, cinG, 1)
				b = s.col[:kk*ohw]
			}
			if s.native {
				s.nk.a, s.nk.b, s.nk.c = s.packed[gi], b, y[gi*coutG*ohw:(gi+1)*coutG*ohw]
				s.nk.bias = nil
				if s.bias != nil {
					s.nk.bias = s.bias[gi*coutG : (gi+1)*coutG]
				}
				s.nk.run(p, coutG, ohw, kk)
				continue
			}
			s.mm.a, s.mm.b, s.mm.c = s.weight[gi*coutG*kk:(gi+1)*coutG*kk], b, y[gi*coutG*ohw:(gi+1)*coutG*ohw]
			s.mm.run(p, coutG, ohw, kk)
		}
		if !s.native && (s.bias != nil || s.act != actNone) {
			s.epi.y = y
			p.pool.run(&s.epi, g.cout, max(1, 16384/ohw))
		}
	}
}

// im2colKernel writes the patches of channels [lo, hi) of src into col:
// row (c, ky, kx), column (oy, ox), zeros where the window hangs over the
// padding.
type im2colKernel struct {
	g        *geom
	src, col []float32
}

func (k *im2colKernel) part(lo, hi, _ int) {
	g := k.g
	ohw := g.oh * g.ow
	for c := lo; c < hi; c++ {
		img := k.src[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := range g.k {
			for kx := range g.k {
				row := k.col[((c*g.k+ky)*g.k+kx)*ohw:][:ohw]
				x0, x1 := g.ox0[kx], g.ox1[kx]
				off := kx*g.dil - g.pad
				for oy := range g.oh {
					dst := row[oy*g.ow : (oy+1)*g.ow]
					iy := oy*g.stride - g.pad + ky*g.dil
					if iy < 0 || iy >= g.h || x0 >= x1 {
						clear(dst)
						continue
					}
					src := img[iy*g.w : (iy+1)*g.w]
					clear(dst[:x0])
					clear(dst[x1:])
					if g.stride == 1 {
						copy(dst[x0:x1], src[x0+off:x1+off])
						continue
					}
					d := dst[x0:x1]
					for i := range d {
						d[i] = src[(x0+i)*g.stride+off]
					}
				}
			}
		}
	}
}

// biasActKernel applies bias and activation to channels [lo, hi) of y.
type biasActKernel struct {
	y    []float32
	hw   int
	bias []float32
	act  act
}

func (k *biasActKernel) part(lo, hi, _ int) {
	if nativeBiasActRows(k.y, k.hw, k.bias, lo, hi, k.act) {
		return
	}
	for c := lo; c < hi; c++ {
		var b float32
		if k.bias != nil {
			b = k.bias[c]
		}
		biasAct(k.y[c*k.hw:(c+1)*k.hw], b, k.act)
	}
}

// depthwiseKernel convolves planes [lo, hi) (sample·C + channel), each with
// its own k×k filter. Each plane is first copied into the thread's
// zero-padded scratch so that the inner loops have no borders; 3×3 and 5×5
// filters then sum all their taps in registers.
type depthwiseKernel struct {
	s      *convStep
	pad    [][]float32 // per thread: (h+2·pad)×(w+2·pad), or the native kernel's
	native bool        // the native kernel runs it (native.c)
}

func (k *depthwiseKernel) part(lo, hi, tid int) {
	if k.native {
		runNativeDepthwise(k.s, k.pad[tid], lo, hi)
		return
	}
	s := k.s
	g := &s.g
	kk := g.k * g.k
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	buf := k.pad[tid][:ph*pw]
	clear(buf[:g.pad*pw])
	clear(buf[(g.pad+g.h)*pw:])
	for plane := lo; plane < hi; plane++ {
		c := plane % g.cout
		x := s.in[plane*g.h*g.w : (plane+1)*g.h*g.w]
		for iy := range g.h {
			row := buf[(iy+g.pad)*pw : (iy+g.pad+1)*pw]
			clear(row[:g.pad])
			copy(row[g.pad:], x[iy*g.w:(iy+1)*g.w])
			clear(row[g.pad+g.w:])
		}
		y := s.out[plane*g.oh*g.ow : (plane+1)*g.oh*g.ow]
		wt := s.weight[c*kk : (c+1)*kk]
		var b float32
		if s.bias != nil {
			b = s.bias[c]
		}
		for oy := range g.oh {
			yr := y[oy*g.ow : (oy+1)*g.ow]
			top := oy * g.stride * pw
			switch {
			case g.k == 3 && g.dil == 1:
				dw3(yr, buf[top:], wt, b, pw, g.stride)
			case g.k == 5 && g.dil == 1:
				dw5(yr, buf[top:], wt, b, pw, g.stride)
			default:
				for i := range yr {
					yr[i] = b
				}
				for ky := range g.k {
					src := buf[top+ky*g.dil*pw:]
					for kx := range g.k {
						wv := wt[ky*g.k+kx]
						off := kx * g.dil
						for i := range yr {
							yr[i] += wv * src[i*g.stride+off]
						}
					}
				}
			}
			biasAct(yr, 0, s.act)
		}
	}
}

// dw3 computes one output row of a 3×3 depthwise filter from the padded
// rows starting at src (row pitch pw).
func dw3(y, src, w []float32, b float32, pw, stride int) {
	w = w[:9]
	r0, r1, r2 := src[:], src[pw:], src[2*pw:]
	for i := range y {
		j := i * stride
		a, c, d := r0[j:j+3:j+3], r1[j:j+3:j+3], r2[j:j+3:j+3]
		y[i] = b + w[0]*a[0] + w[1]*a[1] + w[2]*a[2] +
			w[3]*c[0] + w[4]*c[1] + w[5]*c[2] +
			w[6]*d[0] + w[7]*d[1] + w[8]*d[2]
	}
}

// dw5 is dw3 for a 5×5 filter.
func dw5(y, src, w []float32, b float32, pw, stride int) {
	w = w[:25]
	r0, r1, r2, r3, r4 := src[:], src[pw:], src[2*pw:], src[3*pw:], src[4*pw:]
	for i := range y {
		j := i * stride
		a, c, d := r0[j:j+5:j+5], r1[j:j+5:j+5], r2[j:j+5:j+5]
		e, f := r3[j:j+5:j+5], r4[j:j+5:j+5]
		y[i] = b + w[0]*a[0] + w[1]*a[1] + w[2]*a[2] + w[3]*a[3] + w[4]*a[4] +
			w[5]*c[0] + w[6]*c[1] + w[7]*c[2] + w[8]*c[3] + w[9]*c[4] +
			w[10]*d[0] + w[11]*d[1] + w[12]*d[2] + w[13]*d[3] + w[14]*d[4] +
			w[15]*e[0] + w[16]*e[1] + w[17]*e[2] + w[18]*e[3] + w[19]*e[4] +
			w[20]*f[0] + w[21]*f[1] + w[22]*f[2] + w[23]*f[3] + w[24]*f[4]
	}
}

// gemmKernel is C = A·B (row-major, no transposes). With a single-threaded
// BLAS (Program.splitGEMM) the engine's threads each multiply a block of
// columns of B and C — or of rows of A and C when C is narrow — so that one
// thread pool runs everything; otherwise the BLAS parallelizes inside.
type gemmKernel struct {
	gemm    blas.Float32Level3
	a, b, c []float32
	m, n, k int
	rows    bool
}

// gemmBlock is the granularity of a split, a multiple of BLAS kernels' widths.
const gemmBlock = 16

func (g *gemmKernel) run(p *Program, m, n, k int) {
	g.m, g.n, g.k = m, n, k
	if !p.splitGEMM || m*n*k < 1<<18 {
		g.gemm.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, g.a, k, g.b, n, 0, g.c, n)
		return
	}
	g.rows = n < 4*gemmBlock*p.opts.Threads
	if g.rows { // one chunk per thread: each chunk packs all of B again
		p.pool.runChunks(g, (m+gemmBlock-1)/gemmBlock, p.opts.Threads)
	} else {
		p.pool.run(g, (n+gemmBlock-1)/gemmBlock, 1)
	}
}

func (g *gemmKernel) part(lo, hi, _ int) {
	if g.rows {
		r0, r1 := lo*gemmBlock, min(hi*gemmBlock, g.m)
		g.gemm.Sgemm(blas.NoTrans, blas.NoTrans, r1-r0, g.n, g.k, 1, g.a[r0*g.k:], g.k, g.b, g.n, 0, g.c[r0*g.n:], g.n)
		return
	}
	c0, c1 := lo*gemmBlock, min(hi*gemmBlock, g.n)
	g.gemm.Sgemm(blas.NoTrans, blas.NoTrans, g.m, c1-c0, g.k, 1, g.a, g.k, g.b[c0:], g.n, 0, g.c[c0:], g.n)
}

// nativeGemmKernel is C = A·B with A packed, then bias and activation, on
// the native GEMM (native.c). The engine's threads split C by blocks of 32
// columns, or by panels of rows when that balances better (narrow C) or
// streams less of A (large A, few columns).
type nativeGemmKernel struct {
	a          *packedA
	b, c, bias []float32
	act        act
	m, n       int
	rows       bool
	scratch    [][]float32 // per thread: packed B
	cs         *convSrc    // B is the im2col matrix of b (nil: b itself)
	// shared, where it is large enough, takes B packed once for all
	// threads of a row split (packing is phase 0 of the run, the GEMM
	// phase 1); otherwise each thread packs all of B for its rows.
	shared   []float32
	prepack  bool
	k, phase int
}

// nativeNR is the native GEMM's B panel width, nativeNC the most columns
// it packs at once (NR and NC in native.h).
const (
	nativeNR = 32
	nativeNC = 512
)

func (g *nativeGemmKernel) run(p *Program, m, n, k int) {
	g.m, g.n, g.k, g.prepack = m, n, k, false
	rp, cp := (m+gemmMR-1)/gemmMR, (n+nativeNR-1)/nativeNR
	t := p.opts.Threads
	if m*n*k < 1<<17 || t == 1 {
		g.rows = false
		g.part(0, cp, 0)
		return
	}
	// Share of the work on the busiest thread, per unit: lower is better.
	busiest := func(parts int) float64 { return float64((parts+t-1)/t) / float64(parts) }
	// Each chunk of a column split streams all of A: where A is beyond L2
	// the threads then wait on memory, and a row split, streaming half of
	// A each, runs faster. resnet18's last stage at 224 px (512×4608
	// weights, 49 columns in 2 panels) ran ~10% faster on two threads even
	// with each thread packing all of B (1.2 MB); at 320 px (100 columns
	// in 4 panels), with B packed once for both (below), 2.23–2.29 → 1.95–
	// 1.98 ms a layer.
	bigA := m*k > 1<<18 && (cp <= t || n <= nativeNC)
	g.rows = busiest(rp) < busiest(cp)-0.02 || bigA
	if !g.rows {
		p.pool.run(g, cp, 1)
		return
	}
	// One chunk per thread, each packing all of B for its rows — unless B
	// is packed once for all of them: resnet18's 7×7 layers (B 4608 × 49)
	// then ran 3–9% faster on two threads (medians of 60 alternating
	// per-layer timings; the whole pass 2.4%).
	g.prepack = n <= nativeNC && len(g.shared) >= packedBElems(k, n)
	if g.prepack {
		g.phase = 0
		p.pool.run(g, (k+nativeKC-1)/nativeKC, 1)
		g.phase = 1
	}
	p.pool.runChunks(g, rp, t)
}

func (g *nativeGemmKernel) part(lo, hi, tid int) {
	if g.prepack {
		if g.phase == 0 {
			nativeGEMMPack(g.b, g.k, g.n, g.cs, lo, hi, g.shared)
		} else {
			nativeGEMMPacked(g.a, g.shared, g.n, g.c, g.bias, g.act, lo, hi)
		}
		return
	}
	if g.rows {
		nativeGEMMPart(g.a, g.b, g.n, g.c, g.bias, g.act, lo, hi, 0, g.n, g.scratch[tid], g.cs)
		return
	}
	rp := (g.m + gemmMR - 1) / gemmMR
	nativeGEMMPart(g.a, g.b, g.n, g.c, g.bias, g.act, 0, rp, lo*nativeNR, min(hi*nativeNR, g.n), g.scratch[tid], g.cs)
}
