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

WINL void out_row(const float *restrict s, float *restrict r0, float *restrict r1, float b, int bw, int act) {
	for (int i = 0; i < bw; i++) {
		float a0 = s[i], a1 = s[bw + i], a2 = s[2 * bw + i], a3 = s[3 * bw + i];
		float e0 = s[4 * bw + i], e1 = s[5 * bw + i], e2 = s[6 * bw + i], e3 = s[7 * bw + i];
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

// wino_in_body: each input row the block reads is transformed along x once
// (d·B for every tile column: hb[q][k][i]), then each tile row combines
// four of them along y (Bᵀ·(d·B)).
WINL void wino_in_body(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v, long vs,
                       float *buf) {
	int nty = ty1 - ty0, bw = tx1 - tx0, nq = 2 * nty + 2, nb = nty * bw;
	int c0 = 2 * tx0 - 1, nc = 2 * bw + 2; // the block reads columns [c0, c0+nc)
	float *t = buf, *hb = buf + nc + 2;
	for (int ci = 0; ci < cin; ci++) {
		const float *plane = x + (long)ci * h * w;
		for (int q = 0; q < nq; q++) {
			int iy = 2 * ty0 - 1 + q;
			float *h0 = hb + (long)q * 4 * bw, *h1 = h0 + bw, *h2 = h1 + bw, *h3 = h2 + bw;
			if (iy < 0 || iy >= h) {
				memset(h0, 0, (size_t)4 * bw * sizeof(float));
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
		for (int r = 0; r < nty; r++) {
			float *vc = v + (long)ci * nb + (long)r * bw;
			for (int k = 0; k < 4; k++) {
				const float *a0 = hb + (long)(2 * r) * 4 * bw + k * bw;
				const float *a1 = a0 + 4 * bw, *a2 = a1 + 4 * bw, *a3 = a2 + 4 * bw;
				float *v0 = vc + k * vs, *v1 = vc + (4 + k) * vs, *v2 = vc + (8 + k) * vs, *v3 = vc + (12 + k) * vs;
				in_col(a0, a1, a2, a3, v0, v1, v2, v3, bw);
			}
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

// wino_out_body: Aᵀ·M along y into s (two rows of four per tile), then
// along x into the two output rows r0 and r1, interleaved, with the bias;
// ReLU in the same pass (a NaN stays NaN, as in act512), other activations by mts_bias_act on the stored
// row.
WINL void wino_out_body(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0,
                        int ty1, int tx0, int tx1, const float *bias, int act, float *buf) {
	int nty = ty1 - ty0, bw = tx1 - tx0, nb = nty * bw;
	int ox0 = 2 * tx0, len = ow - ox0 < 2 * bw ? ow - ox0 : 2 * bw;
	float *s = buf, *r0 = buf + 8 * bw, *r1 = r0 + 2 * bw;
	for (int co = co0; co < co1; co++) {
		float b = bias ? bias[co] : 0.0f;
		for (int r = 0; r < nty; r++) {
			const float *mc = m + (long)co * nb + (long)r * bw;
			for (int k = 0; k < 4; k++) {
				const float *m0 = mc + k * ms, *m1 = mc + (4 + k) * ms, *m2 = mc + (8 + k) * ms, *m3 = mc + (12 + k) * ms;
				out_col(m0, m1, m2, m3, s + k * bw, s + (4 + k) * bw, bw);
			}
			out_row(s, r0, r1, b, bw, act);
			int oy = 2 * (ty0 + r);
			for (int a = 0; a < 2 && oy + a < oh; a++) {
				float *dst = y + ((long)co * oh + oy + a) * ow + ox0;
				memcpy(dst, a ? r1 : r0, (size_t)len * sizeof(float));
				if (act != ACT_NONE && act != ACT_RELU)
					mts_bias_act(isa, dst, dst, 0, len, 0.0f, act);
			}
		}
	}
}

static WT512 void wino_out512(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0,
                              int ty1, int tx0, int tx1, const float *bias, int act, float *buf) {
	if (act == ACT_RELU)
		wino_out_body(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, ACT_RELU, buf);
	else
		wino_out_body(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);
}
static WT256 void wino_out256(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0,
                              int ty1, int tx0, int tx1, const float *bias, int act, float *buf) {
	if (act == ACT_RELU)
		wino_out_body(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, ACT_RELU, buf);
	else
		wino_out_body(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);
}

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
