//go:build cgo

// Native kernels of the engine on arm64 (entry points in native.h, see
// native_cgo.go), with NEON: activations, depthwise convolution, max
// pooling and a GEMM with prepacked weights and a fused bias + activation
// epilogue. Advanced SIMD is part of every AArch64 CPU that Linux runs on,
// so one level serves them all (mts_isa still asks the kernel).
//
// As on amd64, every element goes through the same instruction sequence
// wherever a thread's range starts (tails run through the vector code on a
// padded copy), so results do not depend on how work is split over threads.

#include <arm_neon.h>
#include <string.h>
#include <sys/auxv.h>

#include "native.h"

#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1) // asm/hwcap.h
#endif

int mts_isa(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMD) ? 2 : 0; }

#define INL static inline __attribute__((always_inline))

typedef float32x4_t v4;

// e^x as exp256 in native.c and the Go sigmoidTimes compute it: Cephes'
// expf, x clamped to where e^x is a normal float32. FMAX and FMIN return
// NaN when either operand is NaN, so a NaN stays NaN.
INL v4 exp4(v4 x) {
	x = vmaxq_f32(vdupq_n_f32(-87.33654f), x);
	x = vminq_f32(vdupq_n_f32(88.72283f), x);
	v4 fx = vfmaq_f32(vdupq_n_f32(0.5f), x, vdupq_n_f32(1.44269504088896341f));
	v4 z = vrndmq_f32(fx);
	x = vfmsq_f32(x, z, vdupq_n_f32(0.693359375f));
	x = vfmsq_f32(x, z, vdupq_n_f32(-2.12194440e-4f));
	v4 p = vdupq_n_f32(1.9875691500e-4f);
	p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, x);
	p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, x);
	p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, x);
	p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, x);
	p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, x);
	v4 e = vfmaq_f32(vaddq_f32(x, vdupq_n_f32(1.0f)), p, vmulq_f32(x, x));
	int32x4_t n = vcvtq_s32_f32(z); // z is whole: the conversion is exact
	v4 pow2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23));
	return vmulq_f32(e, pow2);
}

INL v4 relu6_4(v4 v) { return vminq_f32(vdupq_n_f32(6.0f), vmaxq_f32(vdupq_n_f32(0.0f), v)); }

INL v4 act4(v4 v, int act) {
	switch (act) {
	case ACT_RELU:
		return vmaxq_f32(vdupq_n_f32(0.0f), v);
	case ACT_RELU6:
		return relu6_4(v);
	case ACT_HARDSWISH:
		return vdivq_f32(vmulq_f32(v, relu6_4(vaddq_f32(v, vdupq_n_f32(3.0f)))), vdupq_n_f32(6.0f));
	case ACT_HARDSIGMOID:
		return vdivq_f32(relu6_4(vaddq_f32(v, vdupq_n_f32(3.0f))), vdupq_n_f32(6.0f));
	case ACT_SILU:
		return vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(v))));
	case ACT_SIGMOID:
		return vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(v))));
	}
	return v;
}

// store4 stores the first n (≥ 1) lanes of v.
INL void store4(float *y, v4 v, int n) {
	if (n >= 4) {
		vst1q_f32(y, v);
		return;
	}
	float t[4];
	vst1q_f32(t, v);
	memcpy(y, t, (size_t)n * sizeof(float));
}

// ACT_CASES runs CALL(a) with the activation a a constant, so that the
// compiler drops the other activations from the loop CALL runs.
#define ACT_CASES(CALL)                                                                               \
	switch (act) {                                                                                    \
	case ACT_NONE: CALL(ACT_NONE); break;                                                             \
	case ACT_RELU: CALL(ACT_RELU); break;                                                             \
	case ACT_RELU6: CALL(ACT_RELU6); break;                                                           \
	case ACT_HARDSWISH: CALL(ACT_HARDSWISH); break;                                                   \
	case ACT_HARDSIGMOID: CALL(ACT_HARDSIGMOID); break;                                               \
	case ACT_SILU: CALL(ACT_SILU); break;                                                             \
	case ACT_SIGMOID: CALL(ACT_SIGMOID); break;                                                       \
	}

// ---------------------------------------------------------------- elementwise

INL void bias_act4_t(float *y, const float *x, const float *x2, long n, float b, int act) {
	v4 bv = vdupq_n_f32(b);
	long i = 0;
	for (; i + 4 <= n; i += 4) {
		v4 v = vld1q_f32(x + i);
		v = x2 ? vaddq_f32(v, vld1q_f32(x2 + i)) : vaddq_f32(v, bv);
		vst1q_f32(y + i, act4(v, act));
	}
	if (i < n) { // the tail through the same vector code
		float t[4] = {0}, t2[4] = {0};
		memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
		if (x2)
			memcpy(t2, x2 + i, (size_t)(n - i) * sizeof(float));
		v4 v = vld1q_f32(t);
		v = x2 ? vaddq_f32(v, vld1q_f32(t2)) : vaddq_f32(v, bv);
		store4(y + i, act4(v, act), (int)(n - i));
	}
}

void mts_bias_act(int isa, float *y, const float *x, const float *x2, long n, float b, int act) {
	(void)isa;
#define CALL(a) bias_act4_t(y, x, x2, n, b, a)
	ACT_CASES(CALL)
#undef CALL
}

void mts_scale_shift_act(int isa, float *y, const float *x, long n, float sc, float sh, int act) {
	v4 sv = vdupq_n_f32(sc), tv = vdupq_n_f32(sh);
	long i = 0;
	for (; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vfmaq_f32(tv, vld1q_f32(x + i), sv));
	for (; i < n; i++) // tails never move: a plane is one call
		y[i] = __builtin_fmaf(x[i], sc, sh);
	mts_bias_act(isa, y, y, 0, n, 0.0f, act);
}

// mts_mean_planes sums each plane in eight lanes, added up in the order of
// native.c's AVX2 path.
void mts_mean_planes(int isa, const float *x, float *y, long p0, long p1, long hw) {
	(void)isa;
	for (long pl = p0; pl < p1; pl++) {
		const float *r = x + pl * hw;
		v4 a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
		long i = 0;
		for (; i + 8 <= hw; i += 8) {
			a0 = vaddq_f32(a0, vld1q_f32(r + i));
			a1 = vaddq_f32(a1, vld1q_f32(r + i + 4));
		}
		float a[8];
		vst1q_f32(a, a0);
		vst1q_f32(a + 4, a1);
		for (; i < hw; i++)
			a[0] += r[i];
		y[pl] = (((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))) / (float)hw;
	}
}

// ---------------------------------------------------------------- depthwise and pooling

#define LANES 4
#define FMA4(w, x, acc) vfmaq_f32(acc, w, x)
INL void dwneon_t(const float *buf, float *y, const float *wt, float b, int oh, int ow, int pitch, int K, int S,
                  int act) {
	DW_BODY(v4, vld1q_f32, FMA4, vdupq_n_f32, act4, store4(yr + ox, acc, ow - ox))
}

// FMAX already returns NaN when either operand is NaN: no blend needed.
INL v4 keep_nan4(v4 acc, v4 v) {
	(void)v;
	return acc;
}

INL void poolneon(const float *buf, float *y, int oh, int ow, int pitch, int K, int S) {
	POOL_BODY(v4, vld1q_f32, vmaxq_f32, vdupq_n_f32, keep_nan4, store4(yr + ox, acc, ow - ox))
}
#undef LANES

#define T_dwneon
DW_KS(dwneon, 3, 1)
DW_KS(dwneon, 3, 2)
DW_KS(dwneon, 5, 1)
DW_KS(dwneon, 5, 2)

void mts_depthwise(int isa, const float *x, float *y, const float *w, const float *bias, float *buf,
                   int p0, int p1, int C, int h, int wd, int oh, int ow, int K, int S, int pad, int act) {
	(void)isa;
	int pitch = mts_dw_pitch(wd + 2 * pad, S);
	int rows = (oh - 1) * S + K;
	for (int plane = p0; plane < p1; plane++) {
		int c = plane % C;
		mts_pad_plane(buf, x + (long)plane * h * wd, h, wd, pad, S, rows, pitch, 0.0f);
		float *yp = y + (long)plane * oh * ow;
		const float *wt = w + c * K * K;
		float b = bias ? bias[c] : 0.0f;
		if (K == 3 && S == 1) dwneon_3_1(buf, yp, wt, b, oh, ow, pitch, act);
		else if (K == 3) dwneon_3_2(buf, yp, wt, b, oh, ow, pitch, act);
		else if (S == 1) dwneon_5_1(buf, yp, wt, b, oh, ow, pitch, act);
		else dwneon_5_2(buf, yp, wt, b, oh, ow, pitch, act);
	}
}

void mts_maxpool(int isa, const float *x, float *y, float *buf, int p0, int p1, int h, int wd, int oh, int ow,
                 int K, int S, int pad) {
	(void)isa;
	int pitch = mts_dw_pitch(wd + 2 * pad, S);
	int rows = (oh - 1) * S + K;
	for (int plane = p0; plane < p1; plane++) {
		mts_pad_plane(buf, x + (long)plane * h * wd, h, wd, pad, S, rows, pitch, -__builtin_inff());
		float *yp = y + (long)plane * oh * ow;
		if (K == 3 && S == 2) // resnet's stem: unrolled
			poolneon(buf, yp, oh, ow, pitch, 3, 2);
		else if (K == 2 && S == 2) // vgg's pools
			poolneon(buf, yp, oh, ow, pitch, 2, 2);
		else
			poolneon(buf, yp, oh, ow, pitch, K, S);
	}
}

// ---------------------------------------------------------------- GEMM

// The NEON GEMM (blocking in native.h): B panels of NR = 8 columns, an
// MR×NR = 12×8 tile of C in 24 of the 32 q registers, with A's 12 values in
// 3 and B's 8 in 2 more; each rank-1 update is 24 FMAs by lane.
#define NR 8

static void pack_b_neon(const float *b, int ldb, int kb, int j0, int nb, float *bp) {
	for (int jp = 0; jp < nb; jp += NR) {
		int w = nb - jp < NR ? nb - jp : NR;
		float *dst = bp + (long)jp * kb;
		const float *src = b + j0 + jp;
		for (int p = 0; p < kb; p++) {
			const float *s = src + (long)p * ldb;
			float *d = dst + p * NR;
			if (w == NR) {
				vst1q_f32(d, vld1q_f32(s));
				vst1q_f32(d + 4, vld1q_f32(s + 4));
				continue;
			}
			for (int q = 0; q < NR; q++)
				d[q] = q < w ? s[q] : 0.0f;
		}
	}
}

// pack_b_conv_neon packs rows [pc, pc+kb) and columns [j0, j0+nb) of the
// im2col matrix of img straight into NR-column panels, zeros where the
// window hangs over the padding.
static void pack_b_conv_neon(const float *img, const convsrc *g, int pc, int kb, int j0, int nb, float *bp) {
	int kk = g->k * g->k;
	// The runs are the same for every row p of the block: find them once.
	bseg segs[NC + NC / NR + 4];
	int ns = mts_conv_segs(g, j0, nb, kb, NR, NR, segs);
	for (int p = 0; p < kb; p++) {
		int row = pc + p, ci = row / kk, ky = row % kk / g->k, kx = row % g->k;
		const float *plane = img + (long)ci * g->h * g->w;
		int offy = ky * g->dil - g->pad, offx = kx * g->dil - g->pad;
		float *bpp = bp + (long)p * NR;
		for (int si = 0; si < ns; si++) {
			const bseg *sg = &segs[si];
			float *dst = bpp + sg->dst;
			int len = sg->len, iy = sg->oy * g->stride + offy;
			if (iy < 0 || iy >= g->h) {
				memset(dst, 0, (size_t)len * sizeof(float));
				continue;
			}
			const float *src = plane + (long)iy * g->w;
			int ix0 = sg->ox * g->stride + offx;
			if (g->stride == 1 && ix0 >= 0 && ix0 + len <= g->w) {
				if (len == NR) {
					vst1q_f32(dst, vld1q_f32(src + ix0));
					vst1q_f32(dst + 4, vld1q_f32(src + ix0 + 4));
				} else {
					memcpy(dst, src + ix0, (size_t)len * sizeof(float));
				}
				continue;
			}
			for (int q = 0; q < len; q++) {
				int ix = ix0 + q * g->stride;
				dst[q] = (ix >= 0 && ix < g->w) ? src[ix] : 0.0f;
			}
		}
	}
	mts_zero_panel_tail(bp, nb, kb, NR);
}

// tile_row finishes one row of a C tile: adds what C holds (not first),
// then bias and act (last), and stores nr columns.
INL void tile_row(float *cr, v4 v0, v4 v1, int nr, int first, int last, const float *bias, int act) {
	float t[NR];
	float *d = cr;
	if (nr < NR) { // the tail through the same vector code
		d = t;
		memset(t, 0, sizeof t);
		if (!first)
			memcpy(t, cr, (size_t)nr * sizeof(float));
	}
	if (!first) {
		v0 = vaddq_f32(v0, vld1q_f32(d));
		v1 = vaddq_f32(v1, vld1q_f32(d + 4));
	}
	if (last) {
		if (bias) {
			v4 bv = vdupq_n_f32(*bias);
			v0 = vaddq_f32(v0, bv);
			v1 = vaddq_f32(v1, bv);
		}
		v0 = act4(v0, act);
		v1 = act4(v1, act);
	}
	vst1q_f32(d, v0);
	vst1q_f32(d + 4, v1);
	if (d != cr)
		memcpy(cr, t, (size_t)nr * sizeof(float));
}

#define RANK1(r, av, lane)                                   \
	c0[r] = vfmaq_laneq_f32(c0[r], b0, av, lane);            \
	c1[r] = vfmaq_laneq_f32(c1[r], b1, av, lane);

// micro_neon_t: C tile (mr ≤ MRC rows, nr ≤ NR columns) = / += Ap·Bp.
INL void micro_neon_t(int kb, const float *ap, const float *bp, float *c, long ldc, int mr, int nr, int first,
                      int last, const float *bias, int act, const int MRC) {
	v4 c0[MR], c1[MR];
#pragma GCC unroll 12
	for (int r = 0; r < MRC; r++) {
		c0[r] = vdupq_n_f32(0.0f);
		c1[r] = vdupq_n_f32(0.0f);
	}
	for (int p = 0; p < kb; p++) {
		v4 b0 = vld1q_f32(bp + p * NR), b1 = vld1q_f32(bp + p * NR + 4);
		const float *a = ap + p * MR;
		v4 a0 = vld1q_f32(a);
		RANK1(0, a0, 0) RANK1(1, a0, 1) RANK1(2, a0, 2) RANK1(3, a0, 3)
		if (MRC > 4) {
			v4 a1 = vld1q_f32(a + 4);
			RANK1(4, a1, 0) RANK1(5, a1, 1) RANK1(6, a1, 2) RANK1(7, a1, 3)
		}
		if (MRC > 8) {
			v4 a2 = vld1q_f32(a + 8);
			RANK1(8, a2, 0) RANK1(9, a2, 1) RANK1(10, a2, 2) RANK1(11, a2, 3)
		}
	}
#pragma GCC unroll 12
	for (int r = 0; r < MRC; r++) {
		if (r >= mr)
			break;
		tile_row(c + r * ldc, c0[r], c1[r], nr, first, last, bias ? bias + r : 0, act);
	}
}
#undef RANK1

// micro_neon takes the narrowest kernel that covers the tile's rows (the
// packed A has MR rows, zeros past m, so a narrower kernel reads a prefix).
static void micro_neon(int kb, const float *ap, const float *bp, float *c, long ldc, int mr, int nr, int first,
                       int last, const float *bias, int act) {
	if (mr > 8)
		micro_neon_t(kb, ap, bp, c, ldc, mr, nr, first, last, bias, act, 12);
	else if (mr > 4)
		micro_neon_t(kb, ap, bp, c, ldc, mr, nr, first, last, bias, act, 8);
	else
		micro_neon_t(kb, ap, bp, c, ldc, mr, nr, first, last, bias, act, 4);
}

const gemm_kernels mts_gemm_kernels = {NR, pack_b_neon, pack_b_conv_neon, micro_neon};
