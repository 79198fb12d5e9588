//go:build cgo && amd64

// Native kernels of the engine on amd64 (entry points in native.h, see
// native_cgo.go): activations, depthwise convolution, max pooling and an
// AVX-512 GEMM with prepacked weights and a fused bias + activation
// epilogue. Every function is compiled for one instruction
// set through a target attribute and runs only after mts_isa reported that
// the CPU (and the OS) support it, so the object itself runs anywhere; the
// callers in Go fall back to pure Go where no vector path fits.
//
// Within one process each kernel always takes the same path for a given
// tensor, and every element goes through the same instruction sequence
// wherever a thread's range starts (tails use masks or a padded copy), so
// results do not depend on how work is split over threads or samples.

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "native.h"

int mts_isa(void) {
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 2;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 1;
	return 0;
}

#define T512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#define T256 __attribute__((target("avx2,fma")))
#define INL inline __attribute__((always_inline))

// ---------------------------------------------------------------- AVX-512

// e^x as the engine's Go sigmoidTimes computes it: Cephes' expf (range
// reduction by ln 2 in two parts, degree-6 polynomial), x clamped to where
// e^x is a normal float32. A NaN stays NaN (max/min return their second
// operand when either is NaN).
static INL T512 __m512 exp512(__m512 x) {
	x = _mm512_max_ps(_mm512_set1_ps(-87.33654f), x);
	x = _mm512_min_ps(_mm512_set1_ps(88.72283f), x);
	__m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
	__m512 z = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	x = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.693359375f), x);
	x = _mm512_fnmadd_ps(z, _mm512_set1_ps(-2.12194440e-4f), x);
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(5.0000001201e-1f));
	__m512 xx = _mm512_mul_ps(x, x);
	__m512 e = _mm512_fmadd_ps(p, xx, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
	__m512i n = _mm512_cvtps_epi32(z);
	__m512 pow2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
	return _mm512_mul_ps(e, pow2);
}

static INL T512 __m512 relu6_512(__m512 v) {
	return _mm512_min_ps(_mm512_set1_ps(6.0f), _mm512_max_ps(_mm512_setzero_ps(), v));
}

static INL T512 __m512 act512(__m512 v, int act) {
	switch (act) {
	case ACT_RELU:
		return _mm512_max_ps(_mm512_setzero_ps(), v);
	case ACT_RELU6:
		return relu6_512(v);
	case ACT_HARDSWISH:
		return _mm512_div_ps(_mm512_mul_ps(v, relu6_512(_mm512_add_ps(v, _mm512_set1_ps(3.0f)))), _mm512_set1_ps(6.0f));
	case ACT_HARDSIGMOID:
		return _mm512_div_ps(relu6_512(_mm512_add_ps(v, _mm512_set1_ps(3.0f))), _mm512_set1_ps(6.0f));
	case ACT_SILU: {
		__m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), v));
		return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
	}
	case ACT_SIGMOID: {
		__m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), v));
		return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
	}
	}
	return v;
}

static INL __mmask16 tailmask(long n) { return n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1); }

// y = act(x + b) (x2 == 0) or act(x + x2) over n elements.
static INL T512 void bias_act512_t(float *y, const float *x, const float *x2, long n, float b, int act) {
	__m512 bv = _mm512_set1_ps(b);
	for (long i = 0; i < n; i += 16) {
		__mmask16 m = tailmask(n - i);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);
		v = x2 ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, x2 + i)) : _mm512_add_ps(v, bv);
		_mm512_mask_storeu_ps(y + i, m, act512(v, act));
	}
}

static T512 void bias_act512(float *y, const float *x, const float *x2, long n, float b, int act) {
	switch (act) {
	case ACT_NONE: bias_act512_t(y, x, x2, n, b, ACT_NONE); break;
	case ACT_RELU: bias_act512_t(y, x, x2, n, b, ACT_RELU); break;
	case ACT_RELU6: bias_act512_t(y, x, x2, n, b, ACT_RELU6); break;
	case ACT_HARDSWISH: bias_act512_t(y, x, x2, n, b, ACT_HARDSWISH); break;
	case ACT_HARDSIGMOID: bias_act512_t(y, x, x2, n, b, ACT_HARDSIGMOID); break;
	case ACT_SILU: bias_act512_t(y, x, x2, n, b, ACT_SILU); break;
	case ACT_SIGMOID: bias_act512_t(y, x, x2, n, b, ACT_SIGMOID); break;
	}
}

// ---------------------------------------------------------------- AVX2

static INL T256 __m256 exp256(__m256 x) {
	x = _mm256_max_ps(_mm256_set1_ps(-87.33654f), x);
	x = _mm256_min_ps(_mm256_set1_ps(88.72283f), x);
	__m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
	__m256 z = _mm256_floor_ps(fx);
	x = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.693359375f), x);
	x = _mm256_fnmadd_ps(z, _mm256_set1_ps(-2.12194440e-4f), x);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1f));
	__m256 xx = _mm256_mul_ps(x, x);
	__m256 e = _mm256_fmadd_ps(p, xx, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
	__m256i n = _mm256_cvtps_epi32(z);
	__m256 pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
	return _mm256_mul_ps(e, pow2);
}

static INL T256 __m256 relu6_256(__m256 v) {
	return _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(_mm256_setzero_ps(), v));
}

static INL T256 __m256 act256(__m256 v, int act) {
	switch (act) {
	case ACT_RELU:
		return _mm256_max_ps(_mm256_setzero_ps(), v);
	case ACT_RELU6:
		return relu6_256(v);
	case ACT_HARDSWISH:
		return _mm256_div_ps(_mm256_mul_ps(v, relu6_256(_mm256_add_ps(v, _mm256_set1_ps(3.0f)))), _mm256_set1_ps(6.0f));
	case ACT_HARDSIGMOID:
		return _mm256_div_ps(relu6_256(_mm256_add_ps(v, _mm256_set1_ps(3.0f))), _mm256_set1_ps(6.0f));
	case ACT_SILU: {
		__m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
		return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
	}
	case ACT_SIGMOID: {
		__m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
		return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
	}
	}
	return v;
}

static INL T256 void bias_act256_t(float *y, const float *x, const float *x2, long n, float b, int act) {
	__m256 bv = _mm256_set1_ps(b);
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		v = x2 ? _mm256_add_ps(v, _mm256_loadu_ps(x2 + i)) : _mm256_add_ps(v, bv);
		_mm256_storeu_ps(y + i, act256(v, act));
	}
	if (i < n) { // the tail through the same vector code
		float t[8] = {0}, t2[8] = {0};
		memcpy(t, x + i, (n - i) * sizeof(float));
		if (x2)
			memcpy(t2, x2 + i, (n - i) * sizeof(float));
		__m256 v = _mm256_loadu_ps(t);
		v = x2 ? _mm256_add_ps(v, _mm256_loadu_ps(t2)) : _mm256_add_ps(v, bv);
		_mm256_storeu_ps(t, act256(v, act));
		memcpy(y + i, t, (n - i) * sizeof(float));
	}
}

static T256 void bias_act256(float *y, const float *x, const float *x2, long n, float b, int act) {
	switch (act) {
	case ACT_NONE: bias_act256_t(y, x, x2, n, b, ACT_NONE); break;
	case ACT_RELU: bias_act256_t(y, x, x2, n, b, ACT_RELU); break;
	case ACT_RELU6: bias_act256_t(y, x, x2, n, b, ACT_RELU6); break;
	case ACT_HARDSWISH: bias_act256_t(y, x, x2, n, b, ACT_HARDSWISH); break;
	case ACT_HARDSIGMOID: bias_act256_t(y, x, x2, n, b, ACT_HARDSIGMOID); break;
	case ACT_SILU: bias_act256_t(y, x, x2, n, b, ACT_SILU); break;
	case ACT_SIGMOID: bias_act256_t(y, x, x2, n, b, ACT_SIGMOID); break;
	}
}

// mts_bias_act: y[i] = act(x[i] + b), or act(x[i] + x2[i]) when x2 is set.
void mts_bias_act(int isa, float *y, const float *x, const float *x2, long n, float b, int act) {
	if (isa >= 2)
		bias_act512(y, x, x2, n, b, act);
	else
		bias_act256(y, x, x2, n, b, act);
}

static T512 void scale_shift512(float *y, const float *x, long n, float sc, float sh, int act) {
	__m512 sv = _mm512_set1_ps(sc), tv = _mm512_set1_ps(sh);
	for (long i = 0; i < n; i += 16) {
		__mmask16 m = tailmask(n - i);
		__m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), sv, tv);
		_mm512_mask_storeu_ps(y + i, m, v);
	}
	bias_act512(y, y, 0, n, 0.0f, act);
}

static T256 void scale_shift256(float *y, const float *x, long n, float sc, float sh, int act) {
	__m256 sv = _mm256_set1_ps(sc), tv = _mm256_set1_ps(sh);
	long i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), sv, tv));
	for (; i < n; i++) // tails never move: a plane is one call
		y[i] = __builtin_fmaf(x[i], sc, sh);
	bias_act256(y, y, 0, n, 0.0f, act);
}

// mts_scale_shift_act: y[i] = act(x[i]·s + t), a standalone batch norm.
void mts_scale_shift_act(int isa, float *y, const float *x, long n, float sc, float sh, int act) {
	if (isa >= 2)
		scale_shift512(y, x, n, sc, sh, act);
	else
		scale_shift256(y, x, n, sc, sh, act);
}

static T512 void mean512(const float *x, float *y, long p0, long p1, long hw) {
	for (long pl = p0; pl < p1; pl++) {
		const float *r = x + pl * hw;
		__m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
		long i = 0;
		for (; i + 32 <= hw; i += 32) {
			a0 = _mm512_add_ps(a0, _mm512_loadu_ps(r + i));
			a1 = _mm512_add_ps(a1, _mm512_loadu_ps(r + i + 16));
		}
		for (; i < hw; i += 16)
			a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(tailmask(hw - i), r + i));
		y[pl] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) / (float)hw;
	}
}

// mts_mean_planes: y[p] = mean of plane p (hw values) for p in [p0, p1):
// adaptive average pooling to 1×1.
void mts_mean_planes(int isa, const float *x, float *y, long p0, long p1, long hw) {
	if (isa >= 2) {
		mean512(x, y, p0, p1, hw);
		return;
	}
	for (long pl = p0; pl < p1; pl++) {
		const float *r = x + pl * hw;
		float a[8] = {0};
		long i = 0;
		for (; i + 8 <= hw; i += 8)
			for (int l = 0; l < 8; l++)
				a[l] += r[i + l];
		for (; i < hw; i++)
			a[0] += r[i];
		y[pl] = (((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))) / (float)hw;
	}
}

// ---------------------------------------------------------------- depthwise

// range16 is the mask of lanes q with 0 ≤ c+q < w.
static INL __mmask16 range16(long c, long w) {
	long lo = -c, hi = w - c;
	uint32_t m = 0xFFFF;
	if (lo > 0) m &= lo >= 16 ? 0 : ~((1u << lo) - 1);
	if (hi < 16) m &= hi <= 0 ? 0 : ((1u << hi) - 1);
	return (__mmask16)m;
}

// dw_pad_plane512 is mts_pad_plane with the stride-2 split done 16 lanes at a
// time, loading straight from the image with masks (a staging copy of each
// row stalled every load on store forwarding: 9% of mobilenet_v3_small).
static T512 void dw_pad_plane512(float *buf, const float *x, int h, int w, int pad, int s, int rows, int pitch, float fill) {
	if (s != 2) {
		mts_pad_plane(buf, x, h, w, pad, s, rows, pitch, fill);
		return;
	}
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	const __m512 fv = _mm512_set1_ps(fill);
	for (int r = 0; r < rows; r++) {
		float *e = buf + (long)r * 2 * pitch, *o = e + pitch;
		int iy = r - pad;
		if (iy < 0 || iy >= h) {
			for (int i = 0; i < 2 * pitch; i += 16)
				_mm512_mask_storeu_ps(e + i, tailmask(2 * pitch - i), fv);
			continue;
		}
		const float *src = x + (long)iy * w;
		for (int i = 0; i < pitch; i += 16) {
			long c = 2L * i - pad; // the image column of padded column 2i
			__m512 a = _mm512_mask_loadu_ps(fv, range16(c, w), src + c);
			__m512 b = _mm512_mask_loadu_ps(fv, range16(c + 16, w), src + c + 16);
			__mmask16 m = tailmask(pitch - i);
			_mm512_mask_storeu_ps(e + i, m, _mm512_permutex2var_ps(a, even, b));
			_mm512_mask_storeu_ps(o + i, m, _mm512_permutex2var_ps(a, odd, b));
		}
	}
}

#define LANES 16
static INL T512 void dw512_t(const float *buf, float *y, const float *wt, float b, int oh, int ow, int pitch, int K, int S, int act) {
	DW_BODY(__m512, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_set1_ps, act512,
	        _mm512_mask_storeu_ps(yr + ox, tailmask(ow - ox), acc))
}
#undef LANES
#define LANES 8
static INL T256 void dw256_t(const float *buf, float *y, const float *wt, float b, int oh, int ow, int pitch, int K, int S, int act) {
	DW_BODY(__m256, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_set1_ps, act256,
	        if (ox + 8 <= ow) _mm256_storeu_ps(yr + ox, acc); else {
		        float t[8];
		        _mm256_storeu_ps(t, acc);
		        memcpy(yr + ox, t, (size_t)(ow - ox) * sizeof(float));
	        })
}
#undef LANES

// dw512_direct_t is the stride-1 depthwise kernel without a padded copy:
// taps on rows outside the image read zrow (w zeros), taps on columns
// outside it are masked to zero — the zeros PyTorch pads with. DWD_ROWS
// output rows are in flight at once: one row alone is a chain of K·K
// dependent FMAs, which ran at the FMA's latency (and per-tap row checks
// cost as much again). Rows past the last are computed, not stored.
#define DWD_ROWS 8
static INL T512 void dw512_direct_t(const float *x, float *y, const float *wt, float b, int h, int w, int oh, int ow,
                                    int pad, int K, int act, const float *zrow) {
	for (int oy0 = 0; oy0 < oh; oy0 += DWD_ROWS) {
		int nrow = oh - oy0 < DWD_ROWS ? oh - oy0 : DWD_ROWS;
		for (int ox = 0; ox < ow; ox += 16) {
			__mmask16 mk[5];
			for (int kx = 0; kx < K; kx++) {
				int ix0 = ox + kx - pad, lo = -ix0, hi = w - ix0;
				uint32_t m = 0xFFFF;
				if (lo > 0) m &= lo >= 16 ? 0 : ~((1u << lo) - 1);
				if (hi < 16) m &= hi <= 0 ? 0 : ((1u << hi) - 1);
				mk[kx] = (__mmask16)m;
			}
			__m512 acc[DWD_ROWS];
#pragma GCC unroll 8
			for (int r = 0; r < DWD_ROWS; r++)
				acc[r] = _mm512_set1_ps(b);
			for (int ky = 0; ky < K; ky++) {
				const float *rp[DWD_ROWS];
#pragma GCC unroll 8
				for (int r = 0; r < DWD_ROWS; r++) {
					int iy = oy0 + r + ky - pad;
					rp[r] = (iy >= 0 && iy < h ? x + (long)iy * w : zrow) + ox - pad;
				}
#pragma GCC unroll 5
				for (int kx = 0; kx < K; kx++) {
					__m512 wv = _mm512_set1_ps(wt[ky * K + kx]);
#pragma GCC unroll 8
					for (int r = 0; r < DWD_ROWS; r++)
						acc[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk[kx], rp[r] + kx), acc[r]);
				}
			}
#pragma GCC unroll 8
			for (int r = 0; r < DWD_ROWS; r++)
				if (r < nrow)
					_mm512_mask_storeu_ps(y + (long)(oy0 + r) * ow + ox, tailmask(ow - ox), act512(acc[r], act));
		}
	}
}

#define DWD_DISPATCH(K)                                                                          \
	switch (act) {                                                                               \
	case ACT_NONE: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_NONE, zrow); break;           \
	case ACT_RELU: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_RELU, zrow); break;           \
	case ACT_RELU6: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_RELU6, zrow); break;         \
	case ACT_HARDSWISH: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_HARDSWISH, zrow); break; \
	case ACT_HARDSIGMOID: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_HARDSIGMOID, zrow); break; \
	case ACT_SILU: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_SILU, zrow); break;           \
	case ACT_SIGMOID: dw512_direct_t(x, y, wt, b, h, w, oh, ow, pad, K, ACT_SIGMOID, zrow); break;     \
	}
static T512 void dw512_direct3(const float *x, float *y, const float *wt, float b, int h, int w, int oh, int ow, int pad, int act, const float *zrow) { DWD_DISPATCH(3) }
static T512 void dw512_direct5(const float *x, float *y, const float *wt, float b, int h, int w, int oh, int ow, int pad, int act, const float *zrow) { DWD_DISPATCH(5) }

#define T_dw512 T512
#define T_dw256 T256
DW_KS(dw512, 3, 1)
DW_KS(dw512, 3, 2)
DW_KS(dw512, 5, 1)
DW_KS(dw512, 5, 2)
DW_KS(dw256, 3, 1)
DW_KS(dw256, 3, 2)
DW_KS(dw256, 5, 1)
DW_KS(dw256, 5, 2)

// mts_depthwise convolves planes [p0, p1) (sample·C + channel) of x, each
// h×w with its own K×K filter (K 3 or 5, stride 1 or 2, no dilation), into
// y (oh×ow planes), adding bias and applying act. buf is the thread's
// scratch of (oh−1)·s+K rows of s·mts_dw_pitch floats.
void mts_depthwise(int isa, const float *x, float *y, const float *w, const float *bias, float *buf,
                   int p0, int p1, int C, int h, int wd, int oh, int ow, int K, int S, int pad, int act) {
	int pw = wd + 2 * pad;
	int pitch = mts_dw_pitch(pw, S);
	int rows = (oh - 1) * S + K;
	const float *zrow = buf; // the direct kernel's row of zeros (it needs no padded copy)
	if (isa >= 2 && S == 1)
		memset(buf, 0, (size_t)wd * sizeof(float));
	for (int plane = p0; plane < p1; plane++) {
		int c = plane % C;
		if (isa >= 2 && S == 1) {
			const float *xp = x + (long)plane * h * wd;
			float *yp = y + (long)plane * oh * ow;
			const float *wt = w + c * K * K;
			float b = bias ? bias[c] : 0.0f;
			if (K == 3)
				dw512_direct3(xp, yp, wt, b, h, wd, oh, ow, pad, act, zrow);
			else
				dw512_direct5(xp, yp, wt, b, h, wd, oh, ow, pad, act, zrow);
			continue;
		}
		if (isa >= 2)
			dw_pad_plane512(buf, x + (long)plane * h * wd, h, wd, pad, S, rows, pitch, 0.0f);
		else
			mts_pad_plane(buf, x + (long)plane * h * wd, h, wd, pad, S, rows, pitch, 0.0f);
		float *yp = y + (long)plane * oh * ow;
		const float *wt = w + c * K * K;
		float b = bias ? bias[c] : 0.0f;
		if (isa >= 2) {
			if (K == 3 && S == 1) dw512_3_1(buf, yp, wt, b, oh, ow, pitch, act);
			else if (K == 3) dw512_3_2(buf, yp, wt, b, oh, ow, pitch, act);
			else if (S == 1) dw512_5_1(buf, yp, wt, b, oh, ow, pitch, act);
			else dw512_5_2(buf, yp, wt, b, oh, ow, pitch, act);
		} else {
			if (K == 3 && S == 1) dw256_3_1(buf, yp, wt, b, oh, ow, pitch, act);
			else if (K == 3) dw256_3_2(buf, yp, wt, b, oh, ow, pitch, act);
			else if (S == 1) dw256_5_1(buf, yp, wt, b, oh, ow, pitch, act);
			else dw256_5_2(buf, yp, wt, b, oh, ow, pitch, act);
		}
	}
}

static INL T512 __m512 nan_blend512(__m512 acc, __m512 v) {
	return _mm512_mask_mov_ps(acc, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}
static INL T256 __m256 nan_blend256(__m256 acc, __m256 v) {
	return _mm256_blendv_ps(acc, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

#define LANES 16
static INL T512 void pool512(const float *buf, float *y, int oh, int ow, int pitch, int K, int S) {
	POOL_BODY(__m512, _mm512_loadu_ps, _mm512_max_ps, _mm512_set1_ps, nan_blend512,
	          _mm512_mask_storeu_ps(yr + ox, tailmask(ow - ox), acc))
}
#undef LANES
#define LANES 8
static INL T256 void pool256(const float *buf, float *y, int oh, int ow, int pitch, int K, int S) {
	POOL_BODY(__m256, _mm256_loadu_ps, _mm256_max_ps, _mm256_set1_ps, nan_blend256,
	          if (ox + 8 <= ow) _mm256_storeu_ps(yr + ox, acc); else {
		          float t[8];
		          _mm256_storeu_ps(t, acc);
		          memcpy(yr + ox, t, (size_t)(ow - ox) * sizeof(float));
	          })
}
#undef LANES

static T512 void pool512_any(const float *buf, float *y, int oh, int ow, int pitch, int K, int S) {
	if (K == 3 && S == 2)
		pool512(buf, y, oh, ow, pitch, 3, 2);
	else if (K == 3 && S == 1)
		pool512(buf, y, oh, ow, pitch, 3, 1);
	else
		pool512(buf, y, oh, ow, pitch, K, S);
}

static T256 void pool256_any(const float *buf, float *y, int oh, int ow, int pitch, int K, int S) {
	if (K == 3 && S == 2)
		pool256(buf, y, oh, ow, pitch, 3, 2);
	else if (K == 3 && S == 1)
		pool256(buf, y, oh, ow, pitch, 3, 1);
	else
		pool256(buf, y, oh, ow, pitch, K, S);
}

// mts_maxpool pools planes [p0, p1) of x (h×w) into y (oh×ow); buf is the
// thread's scratch, sized as for mts_depthwise.
void mts_maxpool(int isa, const float *x, float *y, float *buf, int p0, int p1, int h, int wd, int oh, int ow,
                 int K, int S, int pad) {
	int pw = wd + 2 * pad;
	int pitch = mts_dw_pitch(pw, S);
	int rows = (oh - 1) * S + K;
	for (int plane = p0; plane < p1; plane++) {
		if (isa >= 2)
			dw_pad_plane512(buf, x + (long)plane * h * wd, h, wd, pad, S, rows, pitch, -__builtin_inff());
		else
			mts_pad_plane(buf, x + (long)plane * h * wd, h, wd, pad, S, rows, pitch, -__builtin_inff());
		if (isa >= 2)
			pool512_any(buf, y + (long)plane * oh * ow, oh, ow, pitch, K, S);
		else
			pool256_any(buf, y + (long)plane * oh * ow, oh, ow, pitch, K, S);
	}
}

// ---------------------------------------------------------------- GEMM

// The AVX-512 GEMM (blocking in native.h): B panels of NR = 32 columns, an
// MR×NR tile of C in 24 zmm registers.
#define NR 32
#define APF 32 // A prefetch distance in rank-1 updates (~1.5 KB)

static T512 void pack_b512(const float *b, int ldb, int kb, int j0, int nb, float *bp) {
	for (int jp = 0; jp < nb; jp += NR) {
		int w = nb - jp < NR ? nb - jp : NR;
		float *dst = bp + (long)jp * kb;
		const float *src = b + j0 + jp;
		if (w == NR) {
			for (int p = 0; p < kb; p++) {
				_mm512_store_ps(dst + p * NR, _mm512_loadu_ps(src + (long)p * ldb));
				_mm512_store_ps(dst + p * NR + 16, _mm512_loadu_ps(src + (long)p * ldb + 16));
			}
		} else {
			__mmask16 m0 = tailmask(w), m1 = tailmask(w > 16 ? w - 16 : 0);
			if (w <= 16)
				m1 = 0;
			for (int p = 0; p < kb; p++) {
				_mm512_store_ps(dst + p * NR, _mm512_maskz_loadu_ps(m0, src + (long)p * ldb));
				_mm512_store_ps(dst + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + (long)p * ldb + 16));
			}
		}
	}
}

// micro512_t: C tile (mr ≤ MR rows, nr ≤ NR columns) = / += Ap·Bp. The
// first nb = nr - nt columns take NZ zmm per row (A broadcast, B a vector);
// the last nt ≤ NT columns (NT ≤ 4) take one zmm each the other way round
// (A's column of MRC rows a vector, B broadcast). A panel's narrow tail
// (resnet18 layer4: 49 = 32 + 17 columns, layer3: 196 = 6·32 + 4) then
// costs 12 + 1 or 4 FMAs per rank-1 update instead of the full 24.
static INL T512 void micro512_t(int kb, const float *ap, const float *bp, float *c, long ldc, int mr, int nr,
                                int first, int last, const float *bias, int act, const int MRC, const int NZ,
                                const int NT, int nt) {
	__m512 c0[MR], c1[MR], cv[4];
	int nb = nr - nt;
	const __mmask16 am = (__mmask16)((1u << MRC) - 1);
#pragma GCC unroll 12
	for (int r = 0; r < MRC; r++) {
		c0[r] = _mm512_setzero_ps();
		c1[r] = _mm512_setzero_ps();
	}
#pragma GCC unroll 4
	for (int j = 0; j < NT; j++)
		cv[j] = _mm512_setzero_ps();
	for (int p = 0; p < kb; p++) {
		const float *a = ap + p * MR;
		// A streams from memory once per column block, and wide-K layers
		// with few columns (resnet's last stages: 512×4608 weights, 49
		// columns) waited on it: the hardware prefetcher stops at page
		// boundaries. Ask for the line APF rank-1 updates ahead.
		_mm_prefetch((const char *)(a + APF * MR), _MM_HINT_T0);
		if (NZ > 0) {
			__m512 b0 = _mm512_load_ps(bp + p * NR), b1 = b0;
			if (NZ > 1)
				b1 = _mm512_load_ps(bp + p * NR + 16);
#pragma GCC unroll 12
			for (int r = 0; r < MRC; r++) {
				__m512 av = _mm512_set1_ps(a[r]);
				c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
				if (NZ > 1)
					c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
			}
		}
		if (NT > 0) {
			// Masked: the last panel's column may end the buffer.
			__m512 acol = _mm512_maskz_loadu_ps(am, a);
#pragma GCC unroll 4
			for (int j = 0; j < NT; j++)
				cv[j] = _mm512_fmadd_ps(acol, _mm512_set1_ps(bp[p * NR + nb + j]), cv[j]);
		}
	}
	if (NZ > 0) {
		__mmask16 m0 = nb >= 16 ? 0xFFFF : tailmask(nb), m1 = nb > 16 ? tailmask(nb - 16) : 0;
#pragma GCC unroll 12
		for (int r = 0; r < MRC; r++) {
			if (r >= mr)
				break;
			float *cr = c + r * ldc;
			__m512 v0 = c0[r], v1 = c1[r];
			if (!first) {
				v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
				if (NZ > 1)
					v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
			}
			if (last) {
				if (bias) {
					__m512 bv = _mm512_set1_ps(bias[r]);
					v0 = _mm512_add_ps(v0, bv);
					v1 = _mm512_add_ps(v1, bv);
				}
				v0 = act512(v0, act);
				if (NZ > 1)
					v1 = act512(v1, act);
			}
			_mm512_mask_storeu_ps(cr, m0, v0);
			if (NZ > 1)
				_mm512_mask_storeu_ps(cr + 16, m1, v1);
		}
	}
	if (NT > 0) {
		// Lane r of cv[j] is C[r][nb+j]: rows are ldc apart.
		__mmask16 rm = tailmask(mr);
		__m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
		                                 _mm512_set1_epi32((int)ldc));
		__m512 bv = _mm512_setzero_ps();
		if (last && bias)
			bv = _mm512_maskz_loadu_ps(rm, bias);
#pragma GCC unroll 4
		for (int j = 0; j < NT; j++) {
			if (j >= nt)
				break;
			float *cj = c + nb + j;
			__m512 v = cv[j];
			if (!first)
				v = _mm512_add_ps(v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rm, idx, cj, 4));
			if (last)
				v = act512(_mm512_add_ps(v, bv), act);
			_mm512_mask_i32scatter_ps(cj, rm, idx, v, 4);
		}
	}
}

#define MICRO512(MRC, NZ, NT)                                                                                   \
	static T512 void micro512_##MRC##_##NZ##_##NT(int kb, const float *ap, const float *bp, float *c, long ldc,  \
	                                              int mr, int nr, int first, int last, const float *bias, int act, \
	                                              int nt) {                                                     \
		micro512_t(kb, ap, bp, c, ldc, mr, nr, first, last, bias, act, MRC, NZ, NT, nt);                         \
	}
#define MICRO512_ROWS(MRC)                                                                                      \
	MICRO512(MRC, 2, 0)                                                                                         \
	MICRO512(MRC, 1, 0) MICRO512(MRC, 1, 1) MICRO512(MRC, 1, 2) MICRO512(MRC, 1, 4)                             \
	    MICRO512(MRC, 0, 1) MICRO512(MRC, 0, 2) MICRO512(MRC, 0, 4)
MICRO512_ROWS(12)
MICRO512_ROWS(8)
MICRO512_ROWS(4)

typedef void (*micro512_fn)(int, const float *, const float *, float *, long, int, int, int, int, const float *, int,
                            int);
#define MICRO512_TABLE(MRC)                                                                                     \
	{micro512_##MRC##_2_0, micro512_##MRC##_1_0, micro512_##MRC##_1_1, micro512_##MRC##_1_2,                     \
	 micro512_##MRC##_1_4, micro512_##MRC##_0_1, micro512_##MRC##_0_2, micro512_##MRC##_0_4}
static const micro512_fn micro512_tab[3][8] = {MICRO512_TABLE(4), MICRO512_TABLE(8), MICRO512_TABLE(12)};

// pack_b_conv packs rows [pc, pc+kb) and columns [j0, j0+nb) of the im2col
// matrix of img straight into NR-column panels, zeros where the window hangs
// over the padding.
static T512 void pack_b_conv(const float *img, const convsrc *g, int pc, int kb, int j0, int nb, float *bp) {
	int kk = g->k * g->k;
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	// The runs are the same for every row p of the block: find them once.
	bseg segs[NC + NC / 16 + 4];
	int ns = mts_conv_segs(g, j0, nb, kb, NR, 16, segs); // one vector per run
	for (int p = 0; p < kb; p++) {
		int row = pc + p, ci = row / kk, ky = row % kk / g->k, kx = row % g->k;
		const float *plane = img + (long)ci * g->h * g->w;
		int offy = ky * g->dil - g->pad, offx = kx * g->dil - g->pad;
		float *bpp = bp + (long)p * NR;
		for (int si = 0; si < ns; si++) {
			const bseg *sg = &segs[si];
			float *dst = bpp + sg->dst;
			__mmask16 mo = tailmask(sg->len);
			int iy = sg->oy * g->stride + offy;
			if (iy < 0 || iy >= g->h) {
				_mm512_mask_storeu_ps(dst, mo, _mm512_setzero_ps());
				continue;
			}
			const float *src = plane + (long)iy * g->w;
			int ix0 = sg->ox * g->stride + offx;
			int lo = -ix0, hi = g->w - ix0; // valid source offsets q in [lo, hi)
			__m512 v;
			if (g->stride == 1) {
				uint32_t mq = mo;
				if (lo > 0) mq &= lo >= 16 ? 0 : ~((1u << lo) - 1);
				if (hi < 16) mq &= hi <= 0 ? 0 : ((1u << hi) - 1);
				v = _mm512_maskz_loadu_ps((__mmask16)mq, src + ix0);
			} else if (g->stride == 2) {
				uint32_t m0 = 0xFFFF, m1 = 0xFFFF;
				if (lo > 0) { m0 &= lo >= 16 ? 0 : ~((1u << lo) - 1); m1 &= lo >= 32 ? 0 : lo <= 16 ? 0xFFFF : ~((1u << (lo - 16)) - 1); }
				if (hi < 32) { m1 &= hi <= 16 ? 0 : ((1u << (hi - 16)) - 1); m0 &= hi >= 16 ? 0xFFFF : hi <= 0 ? 0 : ((1u << hi) - 1); }
				__m512 a = _mm512_maskz_loadu_ps((__mmask16)m0, src + ix0);
				__m512 b = _mm512_maskz_loadu_ps((__mmask16)m1, src + ix0 + 16);
				v = _mm512_permutex2var_ps(a, even, b);
			} else {
				float t[16] = {0};
				for (int q = 0; q < sg->len; q++) {
					int ix = ix0 + q * g->stride;
					t[q] = (ix >= 0 && ix < g->w) ? src[ix] : 0.0f;
				}
				v = _mm512_loadu_ps(t);
			}
			_mm512_mask_storeu_ps(dst, mo, v);
		}
	}
	mts_zero_panel_tail(bp, nb, kb, NR);
}

// micro512 takes the narrowest kernel that covers the tile's rows, and for
// nr ≤ NR columns: whole vectors (the last masked), or one vector and a tail
// of up to 4 columns computed as columns of A (17 = 16 + 1, 4 = 0 + 4).
static void micro512(int kb, const float *ap, const float *bp, float *c, long ldc, int mr, int nr, int first,
                     int last, const float *bias, int act) {
	int row = mr > 8 ? 2 : mr > 4 ? 1 : 0;
	int t = nr % 16, nz = nr / 16, k, nt = 0;
	if (t == 0 || t > 4 || nz > 1)
		k = nr > 16 ? 0 : 1;
	else {
		nt = t;
		int nti = t == 1 ? 0 : t == 2 ? 1 : 2; // a tail of 3 runs the 4 kernel on the panel's zero column
		k = (nz == 1 ? 2 : 5) + nti;
	}
	micro512_tab[row][k](kb, ap, bp, c, ldc, mr, nr, first, last, bias, act, nt);
}

const gemm_kernels mts_gemm_kernels = {NR, pack_b512, pack_b_conv, micro512};
