// The native kernels' one interface (see native_cgo.go): the entry points Go
// calls, which native.c implements with AVX2/AVX-512 on amd64 and
// native_arm64.c with NEON on arm64, and what both share through
// native_portable.c (plane padding, weight packing, the GEMM's blocking).

#ifndef MTS_NATIVE_H
#define MTS_NATIVE_H

enum { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_HARDSWISH, ACT_HARDSIGMOID, ACT_SILU, ACT_SIGMOID };

// convsrc describes B as the implicit im2col matrix of one image (c×h×w):
// row p = (ci, ky, kx), column j = (oy, ox).
typedef struct {
	int h, w, oh, ow, k, stride, pad, dil;
} convsrc;

// ---------------------------------------------------------------- entry points

// mts_isa: 0 no vector kernels, 1 vector kernels without the GEMM (AVX2+FMA),
// 2 vector kernels and the GEMM (AVX-512, or NEON on arm64).
int mts_isa(void);
void mts_bias_act(int isa, float *y, const float *x, const float *x2, long n, float b, int act);
void mts_scale_shift_act(int isa, float *y, const float *x, long n, float sc, float sh, int act);
void mts_mean_planes(int isa, const float *x, float *y, long p0, long p1, long hw);
void mts_bias_act_rows(int isa, float *y, long hw, const float *bias, int r0, int r1, int act);
int mts_dw_pitch(int pw, int s);
void mts_depthwise(int isa, const float *x, float *y, const float *w, const float *bias, float *buf,
                   int p0, int p1, int C, int h, int wd, int oh, int ow, int K, int S, int pad, int act);
void mts_maxpool(int isa, const float *x, float *y, float *buf, int p0, int p1, int h, int wd, int oh, int ow,
                 int K, int S, int pad);
int mts_gemm_mr(void);
long mts_pack_a_size(int m, int k);
long mts_pack_b_size(void);
void mts_pack_a(const float *a, int m, int k, float *ap);
// mts_gemm computes rows of panels [i0, i1) and columns [j0, j1) of
// C[m×n] = A[m×k]·B[k×n], then bias per row and activation. A is packed by
// mts_pack_a; bp is the thread's B scratch (64-byte aligned,
// mts_pack_b_size floats); B is a k×n matrix, or the im2col matrix of the
// image b when cs is set.
void mts_gemm(const float *ap, int m, int k, const float *b, int n, float *c, const float *bias, int act,
              int i0, int i1, int j0, int j1, float *bp, const convsrc *cs);
// The same GEMM with B (n ≤ NC columns) packed once for every thread:
// mts_gemm_pack packs KC blocks [q0, q1) of B (or of the im2col matrix)
// into bp (mts_gemm_packed_size floats, 64-byte aligned), then
// mts_gemm_packed computes rows of panels [i0, i1) from it.
long mts_gemm_packed_size(int k, int n);
void mts_gemm_pack(const float *b, int k, int n, const convsrc *cs, int q0, int q1, float *bp);
void mts_gemm_packed(const float *ap, int m, int k, const float *bp, int n, float *c, const float *bias, int act,
                     int i0, int i1);

// ---------------------------------------------------------------- shared by the ISAs

// The GEMM's blocking: A (the weights) is packed once, for each block of KC
// columns, in panels of MR rows stored column by column (zero rows pad the
// last panel). B is packed per call, KC rows by up to NC columns, in panels
// of an ISA's own width NR. The micro-kernel keeps an MR×NR tile of C in
// registers for KC rank-1 updates; C is read back only between KC blocks.
#define MR 12
#define KC 256
#define NC 512

// gemm_kernels is what an ISA brings to the GEMM.
typedef struct {
	int nr; // B panel width
	// pack_b packs rows [0, kb) and columns [j0, j0+nb) of b (row pitch
	// ldb) into nr-column panels, zero columns past nb.
	void (*pack_b)(const float *b, int ldb, int kb, int j0, int nb, float *bp);
	// pack_b_conv does the same for rows [pc, pc+kb) of the im2col matrix.
	void (*pack_b_conv)(const float *img, const convsrc *g, int pc, int kb, int j0, int nb, float *bp);
	// micro computes the C tile of mr ≤ MR rows and nr columns: sets it
	// (first) or adds to it, then adds bias and applies act (last).
	void (*micro)(int kb, const float *ap, const float *bp, float *c, long ldc, int mr, int nr, int first, int last,
	              const float *bias, int act);
} gemm_kernels;

// mts_gemm_kernels is the ISA's (native.c, native_arm64.c); native_portable.c
// blocks mts_gemm, mts_gemm_pack and mts_gemm_packed around them.
extern const gemm_kernels mts_gemm_kernels;

// A run of consecutive im2col columns within one output row and one panel:
// output (oy, ox) onwards, len columns, stored from dst in the packed block.
typedef struct {
	int oy, ox, dst, len;
} bseg;

// mts_conv_segs splits columns [j0, j0+nb) into runs of at most maxlen
// within nr-column panels of a block kb rows deep; segs holds at least
// nb + nb/maxlen + 4 runs. It returns the number of runs.
int mts_conv_segs(const convsrc *g, int j0, int nb, int kb, int nr, int maxlen, bseg *segs);

// mts_zero_panel_tail zeroes the columns past nb of the last nr-column
// panel of a packed block kb rows deep.
void mts_zero_panel_tail(float *bp, int nb, int kb, int nr);

// The padded copy of a plane for stride s: row r holds s phases of pitch
// floats each; phase q, index i is padded column i·s + q. Outputs then read
// contiguous vectors from a phase row: tap kx of output ox is phase kx % s at
// index ox + kx / s. pitch (mts_dw_pitch) leaves slack so vector loads past
// the last output stay in the row (their lanes are not stored).
void mts_pad_plane(float *buf, const float *x, int h, int w, int pad, int s, int rows, int pitch, float fill);

// DW_BODY is a depthwise K×K convolution of one padded plane (buf) into y,
// LANES outputs at a time; POOL_BODY the max pooling. Each ISA gives its
// vector type and operations.
//
// DW_ROWS output rows are in flight at once: one row alone is a chain of
// K·K dependent FMAs, which ran at the FMA's latency, not its throughput
// (4–8× slower on 7×7 planes). Each output still sums its taps in the same
// order. A block past the last row recomputes the last row (not stored),
// so that no load leaves the padded plane.
#define DW_ROWS 4
#define DW_BODY(VEC, LOAD, FMA, SET1, ACT, STORE_TAIL)                                                  \
	for (int oy0 = 0; oy0 < oh; oy0 += DW_ROWS) {                                                         \
		int nrow = oh - oy0 < DW_ROWS ? oh - oy0 : DW_ROWS;                                                \
		const float *rows_[DW_ROWS];                                                                       \
		for (int r = 0; r < DW_ROWS; r++)                                                                  \
			rows_[r] = buf + (long)((r < nrow ? oy0 + r : oh - 1) * S) * S * pitch;                         \
		for (int ox = 0; ox < ow; ox += LANES) {                                                           \
			VEC a_[DW_ROWS];                                                                               \
			for (int r = 0; r < DW_ROWS; r++)                                                              \
				a_[r] = SET1(b);                                                                           \
			for (int ky = 0; ky < K; ky++)                                                                 \
				for (int kx = 0; kx < K; kx++) {                                                           \
					VEC wv_ = SET1(wt[ky * K + kx]);                                                       \
					long off_ = (long)ky * S * pitch + (kx % S) * pitch + kx / S + ox;                     \
					for (int r = 0; r < DW_ROWS; r++)                                                      \
						a_[r] = FMA(wv_, LOAD(rows_[r] + off_), a_[r]);                                    \
				}                                                                                          \
			for (int r = 0; r < nrow; r++) {                                                               \
				float *yr = y + (long)(oy0 + r) * ow;                                                      \
				VEC acc = ACT(a_[r], act);                                                                 \
				STORE_TAIL;                                                                                \
			}                                                                                              \
		}                                                                                                  \
	}

// Max pooling (K×K, stride 1 or 2, no dilation) through the same padded
// copy, filled with −∞ (PyTorch pads max pooling with −∞). A NaN wins, as
// in PyTorch: ISNAN_BLEND keeps a NaN tap where MAX would drop it.
#define POOL_BODY(VEC, LOADU, MAX, SET1, ISNAN_BLEND, STORE_TAIL)                                     \
	for (int oy = 0; oy < oh; oy++) {                                                                \
		float *yr = y + (long)oy * ow;                                                                \
		for (int ox = 0; ox < ow; ox += LANES) {                                                      \
			VEC acc = SET1(-__builtin_inff());                                                        \
			for (int ky = 0; ky < K; ky++) {                                                          \
				const float *row = buf + (long)(oy * S + ky) * S * pitch + ox;                        \
				for (int kx = 0; kx < K; kx++) {                                                      \
					VEC v = LOADU(row + (kx % S) * pitch + kx / S);                                   \
					acc = MAX(v, acc);                                                                \
					acc = ISNAN_BLEND(acc, v);                                                        \
				}                                                                                     \
			}                                                                                         \
			STORE_TAIL;                                                                               \
		}                                                                                             \
	}

// DW_DISPATCH calls FN(..., K, S, a) with the activation a a constant, so
// that the compiler drops the other activations from the loops.
#define DW_DISPATCH(FN, K, S)                                                       \
	switch (act) {                                                              \
	case ACT_NONE: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_NONE); break;     \
	case ACT_RELU: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_RELU); break;     \
	case ACT_RELU6: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_RELU6); break;   \
	case ACT_HARDSWISH: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_HARDSWISH); break; \
	case ACT_HARDSIGMOID: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_HARDSIGMOID); break; \
	case ACT_SILU: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_SILU); break;     \
	case ACT_SIGMOID: FN(buf, y, wt, b, oh, ow, pitch, K, S, ACT_SIGMOID); break; \
	}

// DW_KS defines FN_K_S, the kernel for one window and stride; T_FN is the
// ISA's target attribute (empty where the baseline has the vectors).
#define DW_KS(FN, K, S) static T_##FN void FN##_##K##_##S(const float *buf, float *y, const float *wt, float b, int oh, int ow, int pitch, int act) { DW_DISPATCH(FN##_t, K, S) }

#endif
