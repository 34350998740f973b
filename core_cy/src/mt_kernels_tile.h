/* Tiled ops (issue 11): an FC layer whose weight is split by output rows into
 * chunk tensors, each its own tensor so swap streams them through RAM one at a
 * time. Every tile runs the ordinary GEMM entry points on a row range of the
 * whole layer, so results are bit-identical to the untiled ops:
 *   forward: each y[s][o] is one order-2 dot product of its own (rows are
 *            independent), written into the whole Y with leading dimension OUT;
 *   grad:    rows of dW are independent sums over the samples (order 1);
 *   deriv:   dx[s][i] = sum over o ascending of dy[s][o] w[o][i] is order 1,
 *            sequential over o: tile 0 starts from +0.0f, later tiles continue
 *            from the partial sums in dX (from_c), the same additions in the
 *            same order as one untiled call;
 *   Adam:    every chunk of one parameter takes the same step number (the
 *            step counter is stored by the last chunk only).
 * Params p = [N, IN, OUT, O0, ROWS]: the tile holds output rows [O0, O0+ROWS)
 * of an N x IN -> N x OUT layer. */
#ifndef MT_KERNELS_TILE_H
#define MT_KERNELS_TILE_H

#include "mt_ops.h"
#include "mt_kernels.h"

mt_status mt_tile_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_adam_tile_needs(const mt_op *op, mt_op_needs *needs);
void mt_run_fc_fwd_tile(const mt_op *op, void *const *slot, int mode);
void mt_run_fc_grad_tile(const mt_op *op, void *const *slot, int mode);
void mt_run_fc_deriv_tile(const mt_op *op, void *const *slot, int mode);
void mt_run_adam_apply_tile(const mt_op *op, void *const *slot, int mode);

/* The kernels themselves, on plain pointers (tests call them directly). */
void mt_fc_fwd_tile(const float *x, const float *w_rows, const float *b, float *y,
                    int n, int in, int out, int o0, int rows);
void mt_fc_grad_tile(const float *x, const float *dy, float *dw_rows, float *db,
                     int n, int in, int out, int o0, int rows);
void mt_fc_deriv_tile(const float *dy, const float *w_rows, float *dx,
                      int n, int in, int out, int o0, int rows, int from_dx);

/* Conv tiles (mt_kernels_tile_conv.c, whose header comment says why they
 * give the untiled bits): output channels [O0, O0+ROWS) of a dense conv,
 * p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, O0, SB, ROWS]. */
void mt_run_conv_fwd_tile(const mt_op *op, void *const *slot, int mode);
void mt_run_conv_grad_tile(const mt_op *op, void *const *slot, int mode);
void mt_run_conv_deriv_tile(const mt_op *op, void *const *slot, int mode);
void mt_conv_fwd_tile(const mt_conv_shape *s, const float *x, const float *w_rows,
                      const float *b, float *y, void *scratch, uint32_t scratch_bytes,
                      int o0, int rows);
void mt_conv_grad_tile(const mt_conv_shape *s, const float *x, const float *dy, float *dw_rows,
                       float *db, void *scratch, uint32_t scratch_bytes, int o0, int rows);
void mt_conv_deriv_tile(const mt_conv_shape *s, const float *dy, const float *w_rows, float *dx,
                        void *scratch, uint32_t scratch_bytes, int o0, int rows, int from_dx);

#endif
