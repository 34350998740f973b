/* Fully connected kernels, register blocked. Every reduction has an order
 * fixed by this code and independent of the blocking:
 *   fwd:   y[s,o] = (((l0 + l1) + (l2 + l3)) + t) + b[o], where lane k sums
 *          x[s,i] w[o,i] over i == k (mod 4), i < in - in%4, in ascending i,
 *          and t sums the last in%4 terms in ascending i;
 *   grad:  dw[o,i] = sum over s ascending of dy[s,o] x[s,i] (starting from 0);
 *   deriv: dx[s,i] = sum over o ascending of dy[s,o] w[o,i] (starting from 0).
 * Blocks of samples x outputs (fwd) or rows x 8 columns (grad, deriv) keep
 * their accumulators in registers, so every load feeds several outputs; the
 * blocks only share loads, so a value never depends on which block made it
 * (the compiler vectorizes across independent accumulators only). */
#include <string.h>
#include "mt_kernels.h"
#include "mt_kernel_util.h"
#include "mt_program.h"


/* ---- forward: NS samples x NO outputs per block, 4 lanes each ---- */

#define FC_DOT(NAME, NS, NO)                                                     \
MT_BLOCK static void NAME(const float *restrict x, const float *restrict w,               \
                 float *restrict y, int in, int out)                             \
{                                                                                \
    float acc[NS][NO][4];                                                        \
    float tl[NS][NO];                                                            \
    int i = 0, a, c, k;                                                          \
    for (a = 0; a < NS; a++)                                                     \
        for (c = 0; c < NO; c++) {                                               \
            tl[a][c] = 0.0f;                                                     \
            for (k = 0; k < 4; k++)                                              \
                acc[a][c][k] = 0.0f;                                             \
        }                                                                        \
    for (; i + 4 <= in; i += 4)                                                  \
        for (a = 0; a < NS; a++)                                                 \
            for (c = 0; c < NO; c++)                                             \
                for (k = 0; k < 4; k++)                                          \
                    acc[a][c][k] += x[(long)a * in + i + k] * w[(long)c * in + i + k]; \
    for (; i < in; i++)                                                          \
        for (a = 0; a < NS; a++)                                                 \
            for (c = 0; c < NO; c++)                                             \
                tl[a][c] += x[(long)a * in + i] * w[(long)c * in + i];           \
    for (a = 0; a < NS; a++)                                                     \
        for (c = 0; c < NO; c++)                                                 \
            y[(long)a * out + c] = ((acc[a][c][0] + acc[a][c][1]) +              \
                                    (acc[a][c][2] + acc[a][c][3])) + tl[a][c];   \
}

FC_DOT(dot_2x4, 2, 4)
FC_DOT(dot_2x1, 2, 1)
FC_DOT(dot_1x4, 1, 4)
FC_DOT(dot_1x1, 1, 1)

void mt_fc_fwd(const float *x, const float *w, const float *b,
               float *y, int n, int in, int out)
{
    int s, o;
    for (s = 0; s < n; s += 2) {
        const float *xr = x + (long)s * in;
        float *yr = y + (long)s * out;
        int two = s + 2 <= n;
        for (o = 0; o + 4 <= out; o += 4) {
            if (two)
                dot_2x4(xr, w + (long)o * in, yr + o, in, out);
            else
                dot_1x4(xr, w + (long)o * in, yr + o, in, out);
        }
        for (; o < out; o++) {
            if (two)
                dot_2x1(xr, w + (long)o * in, yr + o, in, out);
            else
                dot_1x1(xr, w + (long)o * in, yr + o, in, out);
        }
        if (b) {
            int a;
            for (a = 0; a < (two ? 2 : 1); a++)
                for (o = 0; o < out; o++)
                    yr[(long)a * out + o] += b[o];
        }
    }
}


/* rows x cols destination (leading dimension cols); see AXPY_BLOCK */
static void axpy_rows(float *dst, int rows, int cols, const float *src, long ls,
                      const float *coef, long ck, long cr, int kn)
{
    int r, j;
    for (r = 0; r < rows; r += 4) {
        int four = r + 4 <= rows;
        float *d = dst + (long)r * cols;
        const float *cf = coef + (long)r * cr;
        for (j = 0; j + 8 <= cols; j += 8) {
            if (four)
                mt_block_4x8(d + j, cols, src + j, ls, cf, ck, cr, kn, 0);
            else {
                int q;
                for (q = r; q < rows; q++)
                    mt_block_1x8(d + (long)(q - r) * cols + j, cols, src + j, ls,
                            cf + (long)(q - r) * cr, ck, cr, kn, 0);
            }
        }
        for (; j + 4 <= cols; j += 4) {
            if (four)
                mt_block_4x4(d + j, cols, src + j, ls, cf, ck, cr, kn, 0);
            else {
                int q;
                for (q = r; q < rows; q++)
                    mt_block_1x4(d + (long)(q - r) * cols + j, cols, src + j, ls,
                            cf + (long)(q - r) * cr, ck, cr, kn, 0);
            }
        }
        for (; j < cols; j++) {
            if (four)
                mt_block_4x1(d + j, cols, src + j, ls, cf, ck, cr, kn, 0);
            else {
                int q;
                for (q = r; q < rows; q++)
                    mt_block_1x1(d + (long)(q - r) * cols + j, cols, src + j, ls,
                            cf + (long)(q - r) * cr, ck, cr, kn, 0);
            }
        }
    }
}

void mt_fc_grad(const float *x, const float *dy, float *dw, float *db,
                int n, int in, int out)
{
    int s, o;
    /* dw[o,:] = sum_s dy[s,o] x[s,:] */
    if (n > 0)
        axpy_rows(dw, out, in, x, in, dy, out, 1, n);
    else
        memset(dw, 0, sizeof(float) * (size_t)in * (size_t)out);
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
    if (out > 0)
        axpy_rows(dx, n, in, w, in, dy, 1, out, out);
    else
        memset(dx, 0, sizeof(float) * (size_t)n * (size_t)in);
}
