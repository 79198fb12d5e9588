//go:build cgo && (amd64 || arm64)

// The parts of the native kernels that need no vector instructions, shared
// by native.c (amd64) and native_arm64.c: plane padding, weight packing and
// the GEMM's loop over blocks (native.h says how the GEMM is blocked).

#include <string.h>

#include "native.h"

int mts_dw_pitch(int pw, int s) { return (pw + s - 1) / s + 24; }

void mts_pad_plane(float *buf, const float *x, int h, int w, int pad, int s, int rows, int pitch, float fill) {
	for (int r = 0; r < rows; r++) {
		float *dst = buf + (long)r * s * pitch;
		int iy = r - pad;
		if (iy < 0 || iy >= h) {
			for (int i = 0; i < s * pitch; i++)
				dst[i] = fill;
			continue;
		}
		const float *src = x + (long)iy * w;
		if (s == 1) {
			for (int i = 0; i < pad; i++)
				dst[i] = fill;
			memcpy(dst + pad, src, (size_t)w * sizeof(float));
			for (int i = pad + w; i < pitch; i++)
				dst[i] = fill;
			continue;
		}
		// s == 2: padded column j goes to phase j & 1, index j >> 1. The
		// padded row is built in t, then split without branches.
		float t[2 * pitch];
		float *e = dst, *o = dst + pitch;
		for (int i = 0; i < pad; i++)
			t[i] = fill;
		memcpy(t + pad, src, (size_t)w * sizeof(float));
		for (int i = pad + w; i < 2 * pitch; i++)
			t[i] = fill;
		for (int i = 0; i < pitch; i++) {
			e[i] = t[2 * i];
			o[i] = t[2 * i + 1];
		}
	}
}

// mts_bias_act_rows: rows [r0, r1) of y (each hw long) get bias[r] (or none)
// and the activation.
void mts_bias_act_rows(int isa, float *y, long hw, const float *bias, int r0, int r1, int act) {
	for (int r = r0; r < r1; r++) {
		float *row = y + (long)r * hw;
		mts_bias_act(isa, row, row, 0, hw, bias ? bias[r] : 0.0f, act);
	}
}

int mts_gemm_mr(void) { return MR; }

// mts_pack_a_size is the packed size of an m×k A in floats.
long mts_pack_a_size(int m, int k) { return (long)((m + MR - 1) / MR) * MR * k; }

// mts_pack_b_size is the B scratch one thread needs, in floats (plus 16 for
// alignment, added by the caller).
long mts_pack_b_size(void) { return (long)KC * NC; }

void mts_pack_a(const float *a, int m, int k, float *ap) {
	int mp = (m + MR - 1) / MR;
	for (int pc = 0; pc < k; pc += KC) {
		int kb = k - pc < KC ? k - pc : KC;
		float *blk = ap + (long)pc * mp * MR;
		for (int i = 0; i < mp; i++) {
			float *pan = blk + (long)i * MR * kb;
			for (int p = 0; p < kb; p++)
				for (int r = 0; r < MR; r++) {
					int row = i * MR + r;
					pan[p * MR + r] = row < m ? a[(long)row * k + pc + p] : 0.0f;
				}
		}
	}
}

int mts_conv_segs(const convsrc *g, int j0, int nb, int kb, int nr, int maxlen, bseg *segs) {
	int ns = 0;
	for (int jj = 0; jj < nb;) {
		int j = j0 + jj, oy = j / g->ow, ox = j % g->ow;
		int seg = g->ow - ox, room = nr - jj % nr;
		if (seg > room) seg = room;
		if (seg > maxlen) seg = maxlen;
		if (seg > nb - jj) seg = nb - jj;
		segs[ns].oy = oy;
		segs[ns].ox = ox;
		segs[ns].dst = (jj / nr) * nr * kb + jj % nr;
		segs[ns].len = seg;
		ns++;
		jj += seg;
	}
	return ns;
}

void mts_zero_panel_tail(float *bp, int nb, int kb, int nr) {
	if (nb % nr == 0)
		return;
	float *pan = bp + (long)(nb / nr) * nr * kb;
	for (int p = 0; p < kb; p++)
		memset(pan + (long)p * nr + nb % nr, 0, (size_t)(nr - nb % nr) * sizeof(float));
}

// gemm_kblock multiplies rows of panels [i0, i1) of one KC block of A
// (ablk, kb deep) by a packed block of B (nb columns) into C.
static void gemm_kblock(const gemm_kernels *kr, const float *ablk, int m, int kb, const float *bp, int nb, float *c,
                        int n, const float *bias, int act, int i0, int i1, int first, int last) {
	for (int i = i0; i < i1; i++) {
		int mr = m - i * MR < MR ? m - i * MR : MR;
		const float *apan = ablk + (long)i * MR * kb;
		const float *bi = bias ? bias + i * MR : 0;
		for (int jp = 0; jp < nb; jp += kr->nr) {
			int nr = nb - jp < kr->nr ? nb - jp : kr->nr;
			kr->micro(kb, apan, bp + (long)jp * kb, c + (long)i * MR * n + jp, n, mr, nr, first, last, bi, act);
		}
	}
}

// pack_kblock packs rows [pc, pc+kb) and columns [j0, j0+nb) of B (or of
// the im2col matrix of b).
static void pack_kblock(const gemm_kernels *kr, const float *b, int n, const convsrc *cs, int pc, int kb, int j0, int nb,
                        float *bp) {
	if (cs)
		kr->pack_b_conv(b, cs, pc, kb, j0, nb, bp);
	else
		kr->pack_b(b + (long)pc * n, n, kb, j0, nb, bp);
}

void mts_gemm(const float *ap, int m, int k, const float *b, int n, float *c, const float *bias, int act,
              int i0, int i1, int j0, int j1, float *bp, const convsrc *cs) {
	const gemm_kernels *kr = &mts_gemm_kernels;
	int mp = (m + MR - 1) / MR;
	for (int jc = j0; jc < j1; jc += NC) {
		int nb = j1 - jc < NC ? j1 - jc : NC;
		for (int pc = 0; pc < k; pc += KC) {
			int kb = k - pc < KC ? k - pc : KC;
			pack_kblock(kr, b, n, cs, pc, kb, jc, nb, bp);
			gemm_kblock(kr, ap + (long)pc * mp * MR, m, kb, bp, nb, c + jc, n, bias, act, i0, i1, pc == 0,
			            pc + kb == k);
		}
	}
}

// npad is n rounded up to whole B panels: the floats a packed KC row of
// mts_gemm_pack takes.
static long npad(int n) {
	long nr = mts_gemm_kernels.nr;
	return (n + nr - 1) / nr * nr;
}

long mts_gemm_packed_size(int k, int n) { return (long)k * npad(n); }

void mts_gemm_pack(const float *b, int k, int n, const convsrc *cs, int q0, int q1, float *bp) {
	for (int pc = q0 * KC; pc < k && pc < q1 * KC; pc += KC)
		pack_kblock(&mts_gemm_kernels, b, n, cs, pc, k - pc < KC ? k - pc : KC, 0, n, bp + pc * npad(n));
}

void mts_gemm_packed(const float *ap, int m, int k, const float *bp, int n, float *c, const float *bias, int act,
                     int i0, int i1) {
	int mp = (m + MR - 1) / MR;
	for (int pc = 0; pc < k; pc += KC) {
		int kb = k - pc < KC ? k - pc : KC;
		gemm_kblock(&mts_gemm_kernels, ap + (long)pc * mp * MR, m, kb, bp + pc * npad(n), n, c, n, bias, act, i0,
		            i1, pc == 0, pc + kb == k);
	}
}
