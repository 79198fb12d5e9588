// The Winograd F(2×2, 3×3) transforms of 3×3 stride-1 convolutions (see
// winograd.go): the input tiles into the GEMMs' B matrices, and their C
// matrices back into the output with bias and activation. winograd.c.

#ifndef MTS_WINOGRAD_H
#define MTS_WINOGRAD_H

// mts_wino_in transforms the tiles of rows [ty0, ty1) and columns
// [tx0, tx1) of x (cin planes h×w, padding 1) into v: element ξ of tile j
// (row-major in the block) of channel ci goes to v[ξ·vs + ci·nb + j], nb
// the block's tile count. buf is the thread's scratch, winoBufElems floats
// (winograd.go).
void mts_wino_in(int isa, const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                 long vs, float *buf);

// mts_wino_out transforms rows [co0, co1) of m (element ξ of tile j of
// channel co at m[ξ·ms + co·nb + j]) into the 2×2 outputs of y (oh×ow
// planes), adding bias[co] (bias may be 0) and applying act.
void mts_wino_out(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, int ty1,
                  int tx0, int tx1, const float *bias, int act, float *buf);

// mts_wino_in4 and mts_wino_out4 are the same for F(4×4, 3×3): 36
// elements per tile, 4×4 outputs.
void mts_wino_in4(int isa, const float *x, int cin, int h, int w, int ty0, int ty1, int tx0, int tx1, float *v,
                  long vs, float *buf);
void mts_wino_out4(int isa, const float *m, long ms, int co0, int co1, float *y, int oh, int ow, int ty0, int ty1,
                   int tx0, int tx1, const float *bias, int act, float *buf);

#endif
