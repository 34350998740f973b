/* Tile kernels (mt_kernels_tile.h): row ranges of the FC kernels on the two
 * GEMM entry points of mt_gemm.h, and Adam over one chunk of a parameter. */
#include <string.h>
#include "mt_kernels_tile.h"
#include "mt_kernels.h"
#include "mt_gemm.h"

#define F32 4u
#define SIZE_LIMIT ((uint64_t)1 << 40)

static uint64_t mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > SIZE_LIMIT / a) return SIZE_LIMIT;
    return a * b;
}

void mt_fc_fwd_tile(const float *x, const float *w_rows, const float *b, float *y,
                    int n, int in, int out, int o0, int rows)
{
    mt_gemm_dot_args g = {0};
    g.x = x; g.ldx = in;
    g.w = w_rows; g.ldw = in;
    g.y = y + o0; g.ldy = out;
    g.ns = n; g.no = rows; g.kn = in;
    mt_gemm_dot(&g);
    if (b)   /* the bias after the dot, as mt_fc_fwd adds it */
        for (int s = 0; s < n; s++)
            for (int r = 0; r < rows; r++)
                y[(long)s * out + o0 + r] += b[o0 + r];
}

void mt_fc_grad_tile(const float *x, const float *dy, float *dw_rows, float *db,
                     int n, int in, int out, int o0, int rows)
{
    /* dw[r,:] = sum_s dy[s,o0+r] x[s,:] */
    mt_gemm_acc_args g;
    g.c = dw_rows; g.ldc = in;
    g.a = dy + o0; g.ak = out; g.ar = 1;
    g.b = x; g.ldb = in;
    g.rows = rows; g.cols = in; g.kn = n; g.from_c = 0;
    mt_gemm_acc(&g);
    if (db) {   /* the whole bias gradient, exactly mt_fc_grad's loop */
        memset(db, 0, sizeof(float) * (size_t)out);
        for (int s = 0; s < n; s++)
            for (int o = 0; o < out; o++)
                db[o] += dy[(long)s * out + o];
    }
}

void mt_fc_deriv_tile(const float *dy, const float *w_rows, float *dx,
                      int n, int in, int out, int o0, int rows, int from_dx)
{
    /* dx[s,:] (+)= sum_{r ascending} dy[s,o0+r] w[r,:] */
    mt_gemm_acc_args g;
    g.c = dx; g.ldc = in;
    g.a = dy + o0; g.ak = 1; g.ar = out;
    g.b = w_rows; g.ldb = in;
    g.rows = n; g.cols = in; g.kn = rows; g.from_c = from_dx;
    mt_gemm_acc(&g);
}

/* p = [N, IN, OUT, O0, ROWS]; slots as FC_FWD [X, Wc, B?, Y] (B whole),
 * FC_GRAD [X, dY, dWc, dB?] (dB whole), FC_DERIV [dY, Wc, dX]. */
mt_status mt_tile_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    for (int i = 0; i < 3; i++)
        if (p[i] <= 0) return MT_ERR_BAD_OP;
    if (p[3] < 0 || p[4] <= 0 || (int64_t)p[3] + p[4] > p[2]) return MT_ERR_BAD_OP;
    uint64_t x = mul(mul(p[0], p[1]), F32), y = mul(mul(p[0], p[2]), F32);
    uint64_t w = mul(mul(p[4], p[1]), F32), b = mul(p[2], F32);
    const uint64_t fwd[4] = {x, w, b, y}, grad[4] = {x, y, w, b}, deriv[3] = {y, w, x};
    const uint64_t *sizes = deriv;
    int n = 3;
    if (op->kind == MT_OP_FC_FWD_TILE || op->kind == MT_OP_FC_FWD_TILE_NEXT) sizes = fwd, n = 4;
    else if (op->kind == MT_OP_FC_GRAD_TILE) sizes = grad, n = 4;
    needs->n_slots = (uint8_t)n;
    for (int i = 0; i < n; i++) needs->need[i] = sizes[i];
    return MT_OK;
}

/* p = [NUMEL, CLEAR, LAST]: ADAM_APPLY's rule plus LAST in {0, 1}. */
mt_status mt_adam_tile_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || (p[1] != 0 && p[1] != 1) || (p[2] != 0 && p[2] != 1)) return MT_ERR_BAD_OP;
    uint64_t w = mul(p[0], F32);
    needs->n_slots = 5;
    for (int i = 0; i < 4; i++) needs->need[i] = w;
    needs->need[4] = 4;   /* the parameter's uint32 step, shared by its chunks */
    return MT_OK;
}

void mt_run_fc_fwd_tile(const mt_op *op, void *const *slot, int mode)
{
    const int32_t *p = op->p;
    (void)mode;
    mt_fc_fwd_tile(slot[0], slot[1], slot[2], slot[3], p[0], p[1], p[2], p[3], p[4]);
}

void mt_run_fc_grad_tile(const mt_op *op, void *const *slot, int mode)
{
    const int32_t *p = op->p;
    (void)mode;
    mt_fc_grad_tile(slot[0], slot[1], slot[2], slot[3], p[0], p[1], p[2], p[3], p[4]);
}

void mt_run_fc_deriv_tile(const mt_op *op, void *const *slot, int mode)
{
    const int32_t *p = op->p;
    (void)mode;
    mt_fc_deriv_tile(slot[0], slot[1], slot[2], p[0], p[1], p[2], p[3], p[4],
                     op->kind == MT_OP_FC_DERIV_TILE_NEXT);
}

void mt_run_adam_apply_tile(const mt_op *op, void *const *slot, int mode)
{
    uint32_t *step = slot[4], chunk_step = *step;
    float *dw = slot[1];
    (void)mode;
    mt_adam_apply(slot[0], dw, slot[2], slot[3], &chunk_step, op->p[0],
                  op->f[0], op->f[1], op->f[2], op->f[3]);
    if (op->p[2]) *step = chunk_step;
    if (op->p[1])
        for (int32_t i = 0; i < op->p[0]; i++) dw[i] = 0.0f;
}
