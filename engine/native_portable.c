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

void mts_gemm_blocked(const gemm_kernels *kr, const float *ap, int m, int k, const float *b, int n, float *c,
                      const float *bias, int act, int i0, int i1, int j0, int j1, float *bp, const convsrc *cs) {
	int mp = (m + MR - 1) / MR, nr0 = kr->nr;
	for (int jc = j0; jc < j1; jc += NC) {
		int nb = j1 - jc < NC ? j1 - jc : NC;
		for (int pc = 0; pc < k; pc += KC) {
			int kb = k - pc < KC ? k - pc : KC;
			if (cs)
				kr->pack_b_conv(b, cs, pc, kb, jc, nb, bp);
			else
				kr->pack_b(b + (long)pc * n, n, kb, jc, nb, bp);
			const float *ablk = ap + (long)pc * mp * MR;
			int first = pc == 0, last = pc + kb == k;
			for (int i = i0; i < i1; i++) {
				int mr = m - i * MR < MR ? m - i * MR : MR;
				const float *apan = ablk + (long)i * MR * kb;
				const float *bi = bias ? bias + i * MR : 0;
				for (int jp = 0; jp < nb; jp += nr0) {
					int nr = nb - jp < nr0 ? nb - jp : nr0;
					kr->micro(kb, apan, bp + (long)jp * kb, c + (long)i * MR * n + jc + jp, n, mr, nr, first, last,
					          bi, act);
				}
			}
		}
	}
}
