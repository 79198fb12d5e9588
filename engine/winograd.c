//go:build cgo && (amd64 || arm64)

// The Winograd F(2×2, 3×3) transforms (winograd.h). Both run along a row
// of tiles, so every loop is over contiguous arrays that the compiler
// vectorizes: for AVX-512 and for AVX2 on amd64 (each clone runs only where
// mts_isa found its instructions), for NEON on arm64. The transforms only
// add and subtract, so the vector and scalar iterations of a loop round
// alike and a tile's result does not depend on where a block starts.

#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "native.h"
#include "winograd.h"

// No fused multiply-adds: F(4×4, 3×3) scales by 1/2, 2, 5/2, and the Go
// transforms (winograd.go) must round as these do.
#pragma GCC optimize("fp-contract=off")

#if defined(__x86_64__)
#define WT512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define WT256 __attribute__((target("avx2,fma")))
#else
#define WT512
#define WT256
#endif
#define WINL static inline __attribute__((always_inline))

// WINO_PICK is the clone of a transform for isa: on amd64 the AVX2 one
// below the native GEMM's level (mts_isa).
#if defined(__x86_64__)
#define WINO_PICK(isa, F512, F256) ((isa) < 2 ? (F256) : (F512))
#else
#define WINO_PICK(isa, F512, F256) (F512)
#endif

// WINO_IN_CLONE defines an input transform (BODY) for one ISA; V512 says
// whether the AVX-512 row kernels run.
#define WINO_IN_CLONE(NAME, ATTR, BODY, V512)                                                                    \
	static ATTR void NAME(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,   \
	                      long vs, float *buf) {                                                                \
		BODY(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf, V512);                                                \
	}

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

// pad_row sets t[0, nc) to columns [c0, c0+nc) of a row w long, zeros
// past its ends.
WINL void pad_row(float *t, const float *row, int w, int c0, int nc) {
	int lo = c0 < 0 ? -c0 : 0, hi = w - c0 < nc ? w - c0 : nc;
	for (int i = 0; i < lo; i++)
		t[i] = 0.0f;
	memcpy(t + lo, row + c0 + lo, (size_t)(hi - lo) * sizeof(float));
	for (int i = hi; i < nc; i++)
		t[i] = 0.0f;
}

#if defined(__x86_64__)
// The row transforms with AVX-512, 16 tiles a step: their stride-2 and
// stride-4 accesses left GCC's loops scalar at resnet's 7- and 14-tile
// rows. The same expressions, so the same results as the portable loops.
static inline __mmask16 wmask(long n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

// phase4 gathers elements j, j+4, … of the 64 floats in z0..z3.
WINL WT512 __m512 phase4(__m512 z0, __m512 z1, __m512 z2, __m512 z3, int j) {
	__m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
	                               _mm512_set1_epi32(j));
	__m512 lo = _mm512_permutex2var_ps(z0, idx, z1), hi = _mm512_permutex2var_ps(z2, idx, z3);
	return _mm512_shuffle_f32x4(lo, hi, 0x44);
}

// in_row4_512 reads t[0, nc) (masked: nothing past it).
static WT512 void in_row4_512(const float *t, int nc, float *h0, float *h1, float *h2, float *h3, float *h4,
                                   float *h5, int bw) {
	for (int i0 = 0; i0 < bw; i0 += 16) {
		const float *s = t + 4 * i0;
		long r = nc - 4L * i0;
		__m512 z[8];
		for (int q = 0; q < 8; q++) {
			int o = (q & 3) * 16 + (q >> 2) * 4; // t+0, +16, +32, +48, then the same from t+4
			z[q] = _mm512_maskz_loadu_ps(wmask(r - o), s + o);
		}
		__m512 d0 = phase4(z[0], z[1], z[2], z[3], 0), d1 = phase4(z[0], z[1], z[2], z[3], 1);
		__m512 d2 = phase4(z[0], z[1], z[2], z[3], 2), d3 = phase4(z[0], z[1], z[2], z[3], 3);
		__m512 d4 = phase4(z[4], z[5], z[6], z[7], 0), d5 = phase4(z[4], z[5], z[6], z[7], 1);
		const __m512 c15 = _mm512_set1_ps(1.5f), c2 = _mm512_set1_ps(2.0f), c05 = _mm512_set1_ps(0.5f),
		             c25 = _mm512_set1_ps(2.5f);
		__m512 d42 = _mm512_sub_ps(d4, d2);
		__m512 o0 = _mm512_add_ps(_mm512_add_ps(d0, d4),
		                          _mm512_sub_ps(_mm512_mul_ps(c15, _mm512_sub_ps(d3, d1)), _mm512_mul_ps(c2, d2)));
		__m512 o1 = _mm512_add_ps(_mm512_sub_ps(d4, d1), _mm512_add_ps(_mm512_mul_ps(c05, d2), _mm512_mul_ps(c25, d3)));
		__m512 o2 = _mm512_add_ps(_mm512_add_ps(d4, d1), _mm512_sub_ps(_mm512_mul_ps(c05, d3), _mm512_mul_ps(c25, d2)));
		__m512 o3 = _mm512_add_ps(d42, _mm512_mul_ps(c2, _mm512_sub_ps(d3, d1)));
		__m512 o4 = _mm512_add_ps(d42, _mm512_mul_ps(c05, _mm512_sub_ps(d1, d3)));
		__m512 o5 = _mm512_add_ps(_mm512_add_ps(d1, d5), _mm512_sub_ps(_mm512_mul_ps(c15, d42), _mm512_mul_ps(c2, d3)));
		__mmask16 m = wmask(bw - i0);
		_mm512_mask_storeu_ps(h0 + i0, m, o0);
		_mm512_mask_storeu_ps(h1 + i0, m, o1);
		_mm512_mask_storeu_ps(h2 + i0, m, o2);
		_mm512_mask_storeu_ps(h3 + i0, m, o3);
		_mm512_mask_storeu_ps(h4 + i0, m, o4);
		_mm512_mask_storeu_ps(h5 + i0, m, o5);
	}
}

// in_col4_512 is in_col4, masked at the end.
static WT512 void in_col4_512(const float *const *a, float *v, long vs, int n) {
	const __m512 c15 = _mm512_set1_ps(1.5f), c2 = _mm512_set1_ps(2.0f), c05 = _mm512_set1_ps(0.5f),
	             c25 = _mm512_set1_ps(2.5f);
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = wmask(n - i);
		__m512 d0 = _mm512_maskz_loadu_ps(m, a[0] + i), d1 = _mm512_maskz_loadu_ps(m, a[1] + i),
		       d2 = _mm512_maskz_loadu_ps(m, a[2] + i), d3 = _mm512_maskz_loadu_ps(m, a[3] + i),
		       d4 = _mm512_maskz_loadu_ps(m, a[4] + i), d5 = _mm512_maskz_loadu_ps(m, a[5] + i);
		__m512 d42 = _mm512_sub_ps(d4, d2);
		_mm512_mask_storeu_ps(v + i, m, _mm512_add_ps(_mm512_add_ps(d0, d4), _mm512_sub_ps(_mm512_mul_ps(c15, _mm512_sub_ps(d3, d1)), _mm512_mul_ps(c2, d2))));
		_mm512_mask_storeu_ps(v + 6 * vs + i, m, _mm512_add_ps(_mm512_sub_ps(d4, d1), _mm512_add_ps(_mm512_mul_ps(c05, d2), _mm512_mul_ps(c25, d3))));
		_mm512_mask_storeu_ps(v + 12 * vs + i, m, _mm512_add_ps(_mm512_add_ps(d4, d1), _mm512_sub_ps(_mm512_mul_ps(c05, d3), _mm512_mul_ps(c25, d2))));
		_mm512_mask_storeu_ps(v + 18 * vs + i, m, _mm512_add_ps(d42, _mm512_mul_ps(c2, _mm512_sub_ps(d3, d1))));
		_mm512_mask_storeu_ps(v + 24 * vs + i, m, _mm512_add_ps(d42, _mm512_mul_ps(c05, _mm512_sub_ps(d1, d3))));
		_mm512_mask_storeu_ps(v + 30 * vs + i, m, _mm512_add_ps(_mm512_add_ps(d1, d5), _mm512_sub_ps(_mm512_mul_ps(c15, d42), _mm512_mul_ps(c2, d3))));
	}
}

// out_row4_512 is out_row4: 16 tiles' four outputs, interleaved by two
// rounds of unpacks and a 4×4 transpose of 128-bit lanes.
static WT512 void out_row4_512(const float *st, long sn, float *d, float b, int bw, int act) {
	const __m512 c05 = _mm512_set1_ps(0.5f), c2 = _mm512_set1_ps(2.0f), c025 = _mm512_set1_ps(0.25f),
	             c4 = _mm512_set1_ps(4.0f), c0125 = _mm512_set1_ps(0.125f), c8 = _mm512_set1_ps(8.0f),
	             bv = _mm512_set1_ps(b);
	for (int i0 = 0; i0 < bw; i0 += 16) {
		__mmask16 m = wmask(bw - i0);
		__m512 m0 = _mm512_maskz_loadu_ps(m, st + i0), m1 = _mm512_maskz_loadu_ps(m, st + sn + i0),
		       m2 = _mm512_maskz_loadu_ps(m, st + 2 * sn + i0), m3 = _mm512_maskz_loadu_ps(m, st + 3 * sn + i0),
		       m4 = _mm512_maskz_loadu_ps(m, st + 4 * sn + i0), m5 = _mm512_maskz_loadu_ps(m, st + 5 * sn + i0);
		__m512 a = _mm512_add_ps(m1, m2), bb = _mm512_sub_ps(m1, m2);
		__m512 y0 = _mm512_add_ps(_mm512_add_ps(m0, a), _mm512_add_ps(m3, m4));
		__m512 y1 = _mm512_add_ps(bb, _mm512_sub_ps(_mm512_mul_ps(c05, m3), _mm512_mul_ps(c2, m4)));
		__m512 y2 = _mm512_add_ps(a, _mm512_add_ps(_mm512_mul_ps(c025, m3), _mm512_mul_ps(c4, m4)));
		__m512 y3 = _mm512_add_ps(_mm512_add_ps(bb, m5), _mm512_sub_ps(_mm512_mul_ps(c0125, m3), _mm512_mul_ps(c8, m4)));
		y0 = _mm512_add_ps(y0, bv), y1 = _mm512_add_ps(y1, bv), y2 = _mm512_add_ps(y2, bv), y3 = _mm512_add_ps(y3, bv);
		if (act == ACT_RELU) {
			__m512 z = _mm512_setzero_ps();
			y0 = _mm512_max_ps(z, y0), y1 = _mm512_max_ps(z, y1), y2 = _mm512_max_ps(z, y2), y3 = _mm512_max_ps(z, y3);
		}
		__m512 p = _mm512_unpacklo_ps(y0, y1), q = _mm512_unpackhi_ps(y0, y1);
		__m512 u = _mm512_unpacklo_ps(y2, y3), v = _mm512_unpackhi_ps(y2, y3);
		__m512 r0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(p), _mm512_castps_pd(u)));
		__m512 r1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(p), _mm512_castps_pd(u)));
		__m512 r2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(q), _mm512_castps_pd(v)));
		__m512 r3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(q), _mm512_castps_pd(v)));
		__m512 t0 = _mm512_shuffle_f32x4(r0, r1, 0x44), t1 = _mm512_shuffle_f32x4(r2, r3, 0x44);
		__m512 t2 = _mm512_shuffle_f32x4(r0, r1, 0xEE), t3 = _mm512_shuffle_f32x4(r2, r3, 0xEE);
		__m512 o[4] = {_mm512_shuffle_f32x4(t0, t1, 0x88), _mm512_shuffle_f32x4(t0, t1, 0xDD),
		               _mm512_shuffle_f32x4(t2, t3, 0x88), _mm512_shuffle_f32x4(t2, t3, 0xDD)};
		long left = 4L * (bw - i0);
		for (int k = 0; k < 4; k++)
			_mm512_mask_storeu_ps(d + 4L * i0 + 16 * k, wmask(left - 16 * k), o[k]);
	}
}
// F(2×2, 3×3): in_row, in_col and out_row.

// even2 and odd2 pick elements 0, 2, … and 1, 3, … of the 32 floats in
// z0, z1.
WINL WT512 __m512 even2(__m512 z0, __m512 z1) {
	return _mm512_permutex2var_ps(z0, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), z1);
}
WINL WT512 __m512 odd2(__m512 z0, __m512 z1) {
	return _mm512_permutex2var_ps(z0, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), z1);
}

static WT512 void in_row_512(const float *t, int nc, float *h0, float *h1, float *h2, float *h3, int bw) {
	for (int i0 = 0; i0 < bw; i0 += 16) {
		const float *s = t + 2 * i0;
		long r = nc - 2L * i0;
		__m512 z0 = _mm512_maskz_loadu_ps(wmask(r), s), z1 = _mm512_maskz_loadu_ps(wmask(r - 16), s + 16);
		__m512 w0 = _mm512_maskz_loadu_ps(wmask(r - 2), s + 2), w1 = _mm512_maskz_loadu_ps(wmask(r - 18), s + 18);
		__m512 d0 = even2(z0, z1), d1 = odd2(z0, z1), d2 = even2(w0, w1), d3 = odd2(w0, w1);
		__mmask16 m = wmask(bw - i0);
		_mm512_mask_storeu_ps(h0 + i0, m, _mm512_sub_ps(d0, d2));
		_mm512_mask_storeu_ps(h1 + i0, m, _mm512_add_ps(d1, d2));
		_mm512_mask_storeu_ps(h2 + i0, m, _mm512_sub_ps(d2, d1));
		_mm512_mask_storeu_ps(h3 + i0, m, _mm512_sub_ps(d1, d3));
	}
}

static WT512 void in_col_512(const float *a0, const float *a1, const float *a2, const float *a3, float *v0, float *v1,
                             float *v2, float *v3, int n) {
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = wmask(n - i);
		__m512 d0 = _mm512_maskz_loadu_ps(m, a0 + i), d1 = _mm512_maskz_loadu_ps(m, a1 + i),
		       d2 = _mm512_maskz_loadu_ps(m, a2 + i), d3 = _mm512_maskz_loadu_ps(m, a3 + i);
		_mm512_mask_storeu_ps(v0 + i, m, _mm512_sub_ps(d0, d2));
		_mm512_mask_storeu_ps(v1 + i, m, _mm512_add_ps(d1, d2));
		_mm512_mask_storeu_ps(v2 + i, m, _mm512_sub_ps(d2, d1));
		_mm512_mask_storeu_ps(v3 + i, m, _mm512_sub_ps(d1, d3));
	}
}

// out_row_512 is out_row, the two outputs of each tile interleaved by one
// permute per 8 tiles.
static WT512 void out_row_512(const float *s, long sn, float *r0, float *r1, float b, int bw, int act) {
	const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
	              hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
	const __m512 bv = _mm512_set1_ps(b), z = _mm512_setzero_ps();
	for (int i0 = 0; i0 < bw; i0 += 16) {
		__mmask16 m = wmask(bw - i0);
		const float *st = s + i0;
		__m512 a0 = _mm512_maskz_loadu_ps(m, st), a1 = _mm512_maskz_loadu_ps(m, st + sn),
		       a2 = _mm512_maskz_loadu_ps(m, st + 2 * sn), a3 = _mm512_maskz_loadu_ps(m, st + 3 * sn);
		__m512 e0 = _mm512_maskz_loadu_ps(m, st + 4 * sn), e1 = _mm512_maskz_loadu_ps(m, st + 5 * sn),
		       e2 = _mm512_maskz_loadu_ps(m, st + 6 * sn), e3 = _mm512_maskz_loadu_ps(m, st + 7 * sn);
		__m512 y00 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), a2), bv);
		__m512 y01 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(a1, a2), a3), bv);
		__m512 y10 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(e0, e1), e2), bv);
		__m512 y11 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(e1, e2), e3), bv);
		if (act == ACT_RELU) {
			y00 = _mm512_max_ps(z, y00), y01 = _mm512_max_ps(z, y01);
			y10 = _mm512_max_ps(z, y10), y11 = _mm512_max_ps(z, y11);
		}
		long left = 2L * (bw - i0);
		_mm512_mask_storeu_ps(r0 + 2 * i0, wmask(left), _mm512_permutex2var_ps(y00, lo, y01));
		_mm512_mask_storeu_ps(r0 + 2 * i0 + 16, wmask(left - 16), _mm512_permutex2var_ps(y00, hi, y01));
		_mm512_mask_storeu_ps(r1 + 2 * i0, wmask(left), _mm512_permutex2var_ps(y10, lo, y11));
		_mm512_mask_storeu_ps(r1 + 2 * i0 + 16, wmask(left - 16), _mm512_permutex2var_ps(y10, hi, y11));
	}
}
#endif

// wino_in_body: each input row q the block reads is transformed along x
// once (d·B for every tile column), into hb[k][q % 2][q / 2][i]: even and
// odd rows apart, so that combining them along y (Bᵀ·(d·B)) is one loop
// over the block's tiles (tile row r reads rows 2r to 2r+3).
WINL void wino_in_body(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v, long vs,
                       float *buf, int v512) {
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
			pad_row(t, plane + (long)iy * w, w, c0, nc);
#if defined(__x86_64__)
			if (v512) {
				in_row_512(t, nc, h0, h1, h2, h3, bw);
				continue;
			}
#endif
			in_row(t, h0, h1, h2, h3, bw);
		}
		float *vc = v + (long)ci * nb;
		for (int k = 0; k < 4; k++) {
			const float *e = hb + k * hk, *o = e + half;
#if defined(__x86_64__)
			if (v512) {
				in_col_512(e, o, e + bw, o + bw, vc + k * vs, vc + (4 + k) * vs, vc + (8 + k) * vs, vc + (12 + k) * vs, nb);
				continue;
			}
#endif
			in_col(e, o, e + bw, o + bw, vc + k * vs, vc + (4 + k) * vs, vc + (8 + k) * vs, vc + (12 + k) * vs, nb);
		}
	}
}

WINO_IN_CLONE(wino_in512, WT512, wino_in_body, 1)
WINO_IN_CLONE(wino_in256, WT256, wino_in_body, 0)

void mts_wino_in(int isa, const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                 long vs, float *buf) {
	WINO_PICK(isa, wino_in512, wino_in256)(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf);
}

// wino_out_body: Aᵀ·M along y into s for the whole block (s[k][j] and
// s[4+k][j]: two rows of four per tile), then along x into a tile row's
// two output rows, interleaved, with the bias; ReLU in the same pass (a NaN
// stays NaN, as in act512), other activations by mts_bias_act on the
// stored rows. Rows cut by the output's edge go through r0 and r1.
WINL void wino_out_body(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0,
                        int ty1, int tx0, int tx1, const float *bias, int act, float *buf, int v512) {
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
#if defined(__x86_64__)
			if (v512)
				out_row_512(s + (long)r * bw, nb, whole ? d0 : r0, whole ? d1 : r1, b, bw, act);
			else
#endif
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

// WINO_OUT_CLONE defines an output transform (BODY) for one ISA, with ReLU
// (the networks' usual activation) a constant in its own copy of the loops,
// and V512 whether the AVX-512 row kernels run.
#define WINO_OUT_CLONE(NAME, ATTR, BODY, V512)                                                                  \
	static ATTR void NAME(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, \
	                      int ty1, int tx0, int tx1, const float *bias, int act, float *buf) {                 \
		if (act == ACT_RELU)                                                                                \
			BODY(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, ACT_RELU, buf, V512);         \
		else                                                                                                \
			BODY(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf, V512);              \
	}
WINO_OUT_CLONE(wino_out512, WT512, wino_out_body, 1)
WINO_OUT_CLONE(wino_out256, WT256, wino_out_body, 0)

void mts_wino_out(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, int ty1,
                  int tx0, int tx1, const float *bias, int act, float *buf) {
	WINO_PICK(isa, wino_out512, wino_out256)(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);
}

// ---------------------------------------------------------------- F(4×4, 3×3)

// F(4×4, 3×3) at the points 0, 1, −1, 1/2, −2 (and ∞): Bᵀ and Aᵀ written
// out (G is winoG4 in winograd.go); the Go transforms compute the same
// expressions in the same order.
#define BT4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)   \
	do {                                                  \
		o0 = (d0 + d4) + (1.5f * (d3 - d1) - 2.0f * d2);  \
		o1 = (d4 - d1) + (0.5f * d2 + 2.5f * d3);         \
		o2 = (d4 + d1) + (0.5f * d3 - 2.5f * d2);         \
		o3 = (d4 - d2) + 2.0f * (d3 - d1);                \
		o4 = (d4 - d2) + 0.5f * (d1 - d3);                \
		o5 = (d1 + d5) + (1.5f * (d4 - d2) - 2.0f * d3);  \
	} while (0)
#define AT4(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                      \
	do {                                                             \
		float a_ = m1 + m2, b_ = m1 - m2;                            \
		o0 = (m0 + a_) + (m3 + m4);                                  \
		o1 = b_ + (0.5f * m3 - 2.0f * m4);                           \
		o2 = a_ + (0.25f * m3 + 4.0f * m4);                          \
		o3 = (b_ + m5) + (0.125f * m3 - 8.0f * m4);                  \
	} while (0)

WINL void in_row4(const float *restrict t, float *restrict h0, float *restrict h1, float *restrict h2,
                  float *restrict h3, float *restrict h4, float *restrict h5, int bw) {
	for (int i = 0; i < bw; i++) {
		const float *d = t + 4 * i;
		BT4(d[0], d[1], d[2], d[3], d[4], d[5], h0[i], h1[i], h2[i], h3[i], h4[i], h5[i]);
	}
}

WINL void in_col4(const float *const *restrict a, float *restrict v, long vs, int n) {
	const float *restrict a0 = a[0], *restrict a1 = a[1], *restrict a2 = a[2], *restrict a3 = a[3],
	                      *restrict a4 = a[4], *restrict a5 = a[5];
	float *restrict v0 = v, *restrict v1 = v + 6 * vs, *restrict v2 = v + 12 * vs, *restrict v3 = v + 18 * vs,
	                *restrict v4 = v + 24 * vs, *restrict v5 = v + 30 * vs;
	for (int i = 0; i < n; i++)
		BT4(a0[i], a1[i], a2[i], a3[i], a4[i], a5[i], v0[i], v1[i], v2[i], v3[i], v4[i], v5[i]);
}


// wino_in4_body: as wino_in_body, with input row q kept in phase q % 4 at
// index q / 4, so that row j of tile row r (q = 4r + j) is one array over
// the block's tiles.
WINL void wino_in4_body(const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v, long vs,
                        float *buf, int v512) {
	int nty = ty1 - ty0, bw = tx1 - tx0, nq = 4 * nty + 2, nb = nty * bw;
	int c0 = 4 * tx0 - 1, nc = 4 * bw + 2;
	float *t = buf, *hb = buf + nc + 2;
	long ph = (long)(nty + 1) * bw, hk = 4 * ph; // next phase, next k
	for (int ci = 0; ci < cin; ci++) {
		const float *plane = x + (long)ci * h * w;
		for (int q = 0; q < nq; q++) {
			int iy = 4 * ty0 - 1 + q;
			float *h0 = hb + (q & 3) * ph + (long)(q >> 2) * bw;
			if (iy < 0 || iy >= h) {
				for (int k = 0; k < 6; k++)
					memset(h0 + k * hk, 0, (size_t)bw * sizeof(float));
				continue;
			}
			pad_row(t, plane + (long)iy * w, w, c0, nc);
#if defined(__x86_64__)
			if (v512) {
				in_row4_512(t, nc, h0, h0 + hk, h0 + 2 * hk, h0 + 3 * hk, h0 + 4 * hk, h0 + 5 * hk, bw);
				continue;
			}
#endif
			in_row4(t, h0, h0 + hk, h0 + 2 * hk, h0 + 3 * hk, h0 + 4 * hk, h0 + 5 * hk, bw);
		}
		float *vc = v + (long)ci * nb;
		for (int k = 0; k < 6; k++) {
			const float *a[6];
			for (int j = 0; j < 6; j++)
				a[j] = hb + k * hk + (j & 3) * ph + (long)(j >> 2) * bw;
#if defined(__x86_64__)
			if (v512) {
				in_col4_512(a, vc + k * vs, vs, nb);
				continue;
			}
#endif
			in_col4(a, vc + k * vs, vs, nb);
		}
	}
}

// out_row4 writes output row l of a tile row: st[k·sn + i] is element k
// (along x) of that row of tile i.
WINL void out_row4(const float *restrict st, long sn, float *restrict d, float b, int bw, int act) {
	for (int i = 0; i < bw; i++) {
		float y0, y1, y2, y3;
		AT4(st[i], st[sn + i], st[2 * sn + i], st[3 * sn + i], st[4 * sn + i], st[5 * sn + i], y0, y1, y2, y3);
		y0 += b, y1 += b, y2 += b, y3 += b;
		if (act == ACT_RELU) {
			y0 = y0 < 0.0f ? 0.0f : y0;
			y1 = y1 < 0.0f ? 0.0f : y1;
			y2 = y2 < 0.0f ? 0.0f : y2;
			y3 = y3 < 0.0f ? 0.0f : y3;
		}
		d[4 * i] = y0;
		d[4 * i + 1] = y1;
		d[4 * i + 2] = y2;
		d[4 * i + 3] = y3;
	}
}

WINL void out_col4(const float *restrict m, long ms, float *restrict s, long nb6, int n) {
	const float *restrict m0 = m, *restrict m1 = m + 6 * ms, *restrict m2 = m + 12 * ms, *restrict m3 = m + 18 * ms,
	                      *restrict m4 = m + 24 * ms, *restrict m5 = m + 30 * ms;
	float *restrict s0 = s, *restrict s1 = s + nb6, *restrict s2 = s + 2 * nb6, *restrict s3 = s + 3 * nb6;
	for (int i = 0; i < n; i++)
		AT4(m0[i], m1[i], m2[i], m3[i], m4[i], m5[i], s0[i], s1[i], s2[i], s3[i]);
}

// wino_out4_body: Aᵀ·M along y into s (s[(6l + k)·nb + j]: row l, element k
// of tile j), then along x into each output row of a tile row.
WINL void wino_out4_body(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0,
                         int ty1, int tx0, int tx1, const float *bias, int act, float *buf, int v512) {
	int nty = ty1 - ty0, bw = tx1 - tx0, nb = nty * bw;
	int ox0 = 4 * tx0, len = ow - ox0 < 4 * bw ? ow - ox0 : 4 * bw;
	float *s = buf, *rr = buf + 24 * (long)nb;
	for (int co = co0; co < co1; co++) {
		float b = bias ? bias[co] : 0.0f;
		const float *mc = m + (long)co * nb;
		for (int k = 0; k < 6; k++)
			out_col4(mc + k * ms, ms, s + (long)k * nb, 6 * (long)nb, nb);
		for (int r = 0; r < nty; r++) {
			int oy = 4 * (ty0 + r);
			int whole = len == 4 * bw;
			for (int l = 0; l < 4 && oy + l < oh; l++) {
				float *dst = y + ((long)co * oh + oy + l) * ow + ox0;
				const float *st = s + (long)6 * l * nb + (long)r * bw;
#if defined(__x86_64__)
				if (v512)
					out_row4_512(st, nb, whole ? dst : rr, b, bw, act);
				else
#endif
					out_row4(st, nb, whole ? dst : rr, b, bw, act);
				if (!whole)
					memcpy(dst, rr, (size_t)len * sizeof(float));
				if (act != ACT_NONE && act != ACT_RELU)
					mts_bias_act(isa, dst, dst, 0, len, 0.0f, act);
			}
		}
	}
}

WINO_IN_CLONE(wino_in4_512, WT512, wino_in4_body, 1)
WINO_IN_CLONE(wino_in4_256, WT256, wino_in4_body, 0)

void mts_wino_in4(int isa, const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                  long vs, float *buf) {
	WINO_PICK(isa, wino_in4_512, wino_in4_256)(x, cin, h, w, ty0, ty1, tx0, tx1, v, vs, buf);
}

WINO_OUT_CLONE(wino_out4_512, WT512, wino_out4_body, 1)
WINO_OUT_CLONE(wino_out4_256, WT256, wino_out4_body, 0)

void mts_wino_out4(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, int ty1,
                   int tx0, int tx1, const float *bias, int act, float *buf) {
	WINO_PICK(isa, wino_out4_512, wino_out4_256)(isa, m, ms, co0, co1, y, oh, ow, ty0, ty1, tx0, tx1, bias, act, buf);
}
