/* Fully connected kernels on the GEMM layer (mt_gemm.h), whose header fixes
 * the summation orders:
 *   fwd:   y[s,o] = dot(x[s,:], w[o,:]) (order 2: 8 lanes, fixed tree, tail)
 *          + b[o];
 *   grad:  dw[o,i] = sum over s ascending of dy[s,o] x[s,i] (order 1, from 0);
 *   deriv: dx[s,i] = sum over o ascending of dy[s,o] w[o,i] (order 1, from 0).
 * Each GEMM reads its operands in their natural layouts (the weight matrix
 * is out x in, rows contiguous); mt_fc_fwd_packed first copies them into
 * arena scratch where that saves shuffles (mt_gemm_dot_packed). */
#include <string.h>
#include "mt_kernels.h"
#include "mt_gemm.h"
#include "mt_program.h"

/* scratch NULL: the dot products straight from x and w */
static void fc_fwd(const float *x, const float *w, const float *b, float *y, int n, int in,
                   int out, void *scratch, unsigned long scratch_bytes)
{
    mt_gemm_dot_args g = {0};
    int s, o;
    g.x = x; g.ldx = in;
    g.w = w; g.ldw = in;
    g.y = y; g.ldy = out;
    g.ns = n; g.no = out; g.kn = in;
    if (scratch)
        mt_gemm_dot_packed(&g, scratch, scratch_bytes);
    else
        mt_gemm_dot(&g);
    if (b)
        for (s = 0; s < n; s++)
            for (o = 0; o < out; o++)
                y[(long)s * out + o] += b[o];
}

void mt_fc_fwd(const float *x, const float *w, const float *b,
               float *y, int n, int in, int out)
{
    fc_fwd(x, w, b, y, n, in, out, 0, 0);
}

uint64_t mt_fc_packed_scratch_bytes(int n, int in, int regions)
{
    return mt_gemm_dot_scratch_bytes(n, in, regions);
}

void mt_fc_fwd_packed(const float *x, const float *w, const float *b, float *y,
                      int n, int in, int out, void *scratch, uint32_t scratch_bytes)
{
    fc_fwd(x, w, b, y, n, in, out, scratch, scratch_bytes);
}

/* c (rows x cols, leading dimension cols) = sum_k A(r,k) B(k,j) from 0 */
static void gemm_from_zero(float *c, int rows, int cols, const float *a, long ak, long ar,
                           const float *b, int kn)
{
    mt_gemm_acc_args g;
    g.c = c; g.ldc = cols;
    g.a = a; g.ak = ak; g.ar = ar;
    g.b = b; g.ldb = cols;
    g.rows = rows; g.cols = cols; g.kn = kn; g.from_c = 0;
    mt_gemm_acc(&g);
}

void mt_fc_grad(const float *x, const float *dy, float *dw, float *db,
                int n, int in, int out)
{
    int s, o;
    /* dw[o,:] = sum_s dy[s,o] x[s,:] */
    gemm_from_zero(dw, out, in, dy, out, 1, x, n);
    if (db) {
        memset(db, 0, sizeof(float) * (size_t)out);
        for (s = 0; s < n; s++)
            for (o = 0; o < out; o++)
                db[o] += dy[(long)s * out + o];
    }
}

void mt_fc_deriv(const float *dy, const float *w, float *dx, int n, int in, int out)
{
    /* dx[s,:] = sum_o dy[s,o] w[o,:] */
    gemm_from_zero(dx, n, in, dy, 1, out, w, out);
}
