//go:build cgo && (amd64 || arm64)

// The Winograd F(2×2, 3×3) transforms (winograd.h). Both run along a row
// of tiles, so every loop is over contiguous arrays that the compiler
// vectorizes: for AVX-512 and for AVX2 on amd64 (each clone runs only where
// mts_isa found its instructions), for NEON on arm64. The transforms only
// add and subtract, so the vector and scalar iterations of a loop round
// alike and a tile's result does not depend on where a block starts.

#include <string.h>

#include "native.h"
#include "winograd.h"

#if defined(__x86_64__)
#define WT512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define WT256 __attribute__((target("avx2,fma")))
#else
#define WT512
#define WT256
#endif
#define WINL static inline __attribute__((always_inline))

// The loops over a row of tiles, with restrict so that the compiler need
// not version them for aliasing (it gives up past ten pointer pairs).
WINL void in_row(const float *restrict t, float *restrict h0, float *restrict h1, float *restrict h2,
                 float *restrict h3, int bw) {
	for (int i = 0; i < bw; i++) {
		float d0 = t[2 * i], d1 = t[2 * i + 1], d2 = t[2 * i + 2], d3 = t[2 * i + 3];
		h0[i] = d0 - d2;
		h1[i] = d1 + d2;
		h2[i] = d2 - d1;
		h3[i] = d1 - d3;
	}
}

WINL void in_col(const float *restrict a0, const float *restrict a1, const float *restrict a2,
                 const float *restrict a3, float *restrict v0, float *restrict v1, float *restrict v2,
                 float *restrict v3, int bw) {
	for (int i = 0; i < bw; i++) {
		v0[i] = a0[i] - a2[i];
		v1[i] = a1[i] + a2[i];
		v2[i] = a2[i] - a1[i];
		v3[i] = a1[i] - a3[i];
	}
}

WINL void out_col(const float *restrict m0, const float *restrict m1, const float *restrict m2,
                  const float *restrict m3, float *restrict s0, float *restrict s1, int bw) {
	for (int i = 0; i < bw; i++) {
		s0[i] = (m0[i] + m1[i]) + m2[i];
		s1[i] = (m1[i] - m2[i]) - m3[i];
	}
}

// out_row reads the eight arrays s[k·sn:] of one tile row.
WINL void out_row(const float *restrict s, long sn, float *restrict r0, float *restrict r1, float b, int bw, int act) {
	for (int i = 0; i < bw; i++) {
		float a0 = s[i], a1 = s[sn + i], a2 = s[2 * sn + i], a3 = s[3 * sn + i];
		float e0 = s[4 * sn + i], e1 = s[5 * sn + i], e2 = s[6 * sn + i], e3 = s[7 * sn + i];
		float y00 = ((a0 + a1) + a2) + b, y01 = ((a1 - a2) - a3) + b;
		float y10 = ((e0 + e1) + e2) + b, y11 = ((e1 - e2) - e3) + b;
		if (act == ACT_RELU) {
			y00 = y00 < 0.0f ? 0.0f : y00;
			y01 = y01 < 0.0f ? 0.0f : y01;
			y10 = y10 < 0.0f ? 0.0f : y10;
			y11 = y11 < 0.0f ? 0.0f : y11;
		}
		r0[2 * i] = y00;
		r0[2 * i + 1] = y01;
		r1[2 * i] = y10;
		r1[2 * i + 1] = y11;
	}
}

// wino_in_body: each input row q the block reads is transformed along x
// once (d·B for every tile column), into hb[k][q % 2][q / 2][i]: even and
// odd rows apart, so that combining them along y (Bᵀ·(d·B)) is one loop
// over the block's tiles (tile row r reads rows 2r to 2r+3).
WINL void wino_in_body(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v, long vs,
                       float *buf) {
	int nty = ty1 - ty0, bw = tx1 - tx0, nq = 2 * nty + 2, nb = nty * bw;
	int c0 = 2 * tx0 - 1, nc = 2 * bw + 2; // the block reads columns [c0, c0+nc)
	float *t = buf, *hb = buf + nc + 2;
	long half = (long)(nty + 1) * bw, hk = 2 * half; // odd rows, next k
	for (int ci = 0; ci < cin; ci++) {
		const float *plane = x + (long)ci * h * w;
		for (int q = 0; q < nq; q++) {
			int iy = 2 * ty0 - 1 + q;
			float *h0 = hb + (q & 1) * half + (long)(q >> 1) * bw, *h1 = h0 + hk, *h2 = h1 + hk, *h3 = h2 + hk;
			if (iy < 0 || iy >= h) {
				memset(h0, 0, (size_t)bw * sizeof(float));
				memset(h1, 0, (size_t)bw * sizeof(float));
				memset(h2, 0, (size_t)bw * sizeof(float));
				memset(h3, 0, (size_t)bw * sizeof(float));
				continue;
			}
			const float *row = plane + (long)iy * w;
			int lo = c0 < 0 ? -c0 : 0, hi = w - c0 < nc ? w - c0 : nc;
			for (int i = 0; i < lo; i++)
				t[i] = 0.0f;
			memcpy(t + lo, row + c0 + lo, (size_t)(hi - lo) * sizeof(float));
			for (int i = hi; i < nc; i++)
				t[i] = 0.0f;
			in_row(t, h0, h1, h2, h3, bw);
		}
		float *vc = v + (long)ci * nb;
		for (int k = 0; k < 4; k++) {
			const float *e = hb + k * hk, *o = e + half;
			in_col(e, o, e + bw, o + bw, vc + k * vs, vc + (4 + k) * vs, vc + (8 + k) * vs, vc + (12 + k) * vs, nb);
		}
	}
}

static WT512 void wino_in512(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                             long vs, float *buf) {
	wino_in_body(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf);
}
static WT256 void wino_in256(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                             long vs, float *buf) {
	wino_in_body(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf);
}

void mts_wino_in(int isa, const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                 long vs, float *buf) {
#if defined(__x86_64__)
	if (isa < 2) {
		wino_in256(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf);
		return;
	}
#endif
	wino_in512(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf);
}

// wino_out_body: Aᵀ·M along y into s for the whole block (s[k][j] and
// s[4+k][j]: two rows of four per tile), then along x into a tile row's
// two output rows, interleaved, with the bias; ReLU in the same pass (a NaN
// stays NaN, as in act512), other activations by mts_bias_act on the
// stored rows. Rows cut by the output's edge go through r0 and r1.
WINL void wino_out_body(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0,
                        int ty1, int tx0, int tx1, const float *bias, int act, float *buf) {
	int nty = ty1 - ty0, bw = tx1 - tx0, nb = nty * bw;
	int ox0 = 2 * tx0, len = ow - ox0 < 2 * bw ? ow - ox0 : 2 * bw;
	float *s = buf, *r0 = buf + 8 * (long)nb, *r1 = r0 + 2 * bw;
	for (int co = co0; co < co1; co++) {
		float b = bias ? bias[co] : 0.0f;
		const float *mc = m + (long)co * nb;
		for (int k = 0; k < 4; k++)
			out_col(mc + k * ms, mc + (4 + k) * ms, mc + (8 + k) * ms, mc + (12 + k) * ms, s + (long)k * nb,
			        s + (long)(4 + k) * nb, nb);
		for (int r = 0; r < nty; r++) {
			int oy = 2 * (ty0 + r);
			float *d0 = y + ((long)co * oh + oy) * ow + ox0, *d1 = d0 + ow;
			int whole = len == 2 * bw && oy + 1 < oh;
			out_row(s + (long)r * bw, nb, whole ? d0 : r0, whole ? d1 : r1, b, bw, act);
			for (int a = 0; a < 2 && oy + a < oh; a++) {
				float *dst = a ? d1 : d0;
				if (!whole)
					memcpy(dst, a ? r1 : r0, (size_t)len * sizeof(float));
				if (act != ACT_NONE && act != ACT_RELU)
					mts_bias_act(isa, dst, dst, 0, len, 0.0f, act);
			}
		}
	}
}

// WINO_OUT_CLONE defines the output transform for one ISA, with ReLU (the
// networks' usual activation) a constant in its own copy of the loops.
#define WINO_OUT_CLONE(NAME, ATTR)                                                                              \
	static ATTR void NAME(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, \
	                      int ty1, int tx0, int tx1, const float *bias, int act, float *buf) {                 \
		if (act == ACT_RELU)                                                                                \
			wino_out_body(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, ACT_RELU, buf);      \
		else                                                                                                \
			wino_out_body(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);           \
	}
WINO_OUT_CLONE(wino_out512, WT512)
WINO_OUT_CLONE(wino_out256, WT256)

void mts_wino_out(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, int ty1,
                  int tx0, int tx1, const float *bias, int act, float *buf) {
#if defined(__x86_64__)
	if (isa < 2) {
		wino_out256(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);
		return;
	}
#endif
	wino_out512(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);
}
