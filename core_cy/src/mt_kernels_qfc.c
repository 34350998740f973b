/* Integer fully connected kernels (docs/int8.md): int8 or int16 activations
 * and weights, exact integer sums, requantized forward output, g16 gradients.
 * Integer sums are exact, so their order is free; g16 outputs take two passes
 * (the first finds the largest sum, the second recomputes and writes) so no
 * scratch is needed. Sums over inputs run in chunks of CHUNK columns whose
 * accumulators live on the stack. */
#include <stddef.h>
#include "mt_kernels_q.h"
#include "mt_requant.h"

#define CHUNK 64

/* ---- forward: y = sat(zy + requant(sum_i (x - zx) w + b, M[o], sh[o])) ---- */

#define QFC_FWD(NAME, T, ACC, SAT)                                                   \
static void NAME(const T *x, const T *w, const int32_t *b, T *y, const int32_t *rq, \
                 int n, int in, int out, int zx, int zy)                             \
{                                                                                    \
    const int32_t *mult = rq, *shift = rq + out;                                     \
    for (int s = 0; s < n; s++) {                                                    \
        const T *xr = x + (size_t)s * in;                                            \
        for (int o = 0; o < out; o++) {                                              \
            const T *wr = w + (size_t)o * in;                                        \
            ACC acc = 0;                                                             \
            for (int i = 0; i < in; i++)                                             \
                acc += (ACC)(xr[i] - zx) * wr[i];                                    \
            int64_t total = (int64_t)acc + (b ? b[o] : 0);                           \
            y[(size_t)s * out + o] = SAT(zy + mt_requant(total, mult[o], shift[o])); \
        }                                                                            \
    }                                                                                \
}

/* int8: |x - zx| <= 255, |w| <= 128, in <= 65536: the int32 sum cannot overflow */
QFC_FWD(fwd8, int8_t, int32_t, mt_sat8)
QFC_FWD(fwd16, int16_t, int64_t, mt_sat16)

void mt_qfc_fwd(int e, const void *x, const void *w, const int32_t *b, void *y,
                const int32_t *rq, int n, int in, int out, int zx, int zy)
{
    if (e == 1) fwd8(x, w, b, y, rq, n, in, out, zx, zy);
    else fwd16(x, w, b, y, rq, n, in, out, zx, zy);
}

/* ---- weight gradient: a[o,i] = sum_s dy[s,o] (x[s,i] - zx) ---- */

/* Sums for columns [i0, i0 + len) of row o into acc. */
#define QFC_GRAD_ROW(NAME, T)                                                        \
static void NAME(const T *x, const int16_t *dy, int64_t *acc, int n, int in, int out, \
                 int zx, int o, int i0, int len)                                     \
{                                                                                    \
    for (int k = 0; k < len; k++) acc[k] = 0;                                        \
    for (int s = 0; s < n; s++) {                                                    \
        int32_t d = dy[(size_t)s * out + o];                                         \
        const T *xr = x + (size_t)s * in + i0;                                       \
        for (int k = 0; k < len; k++) acc[k] += (int64_t)d * (xr[k] - zx);           \
    }                                                                                \
}

QFC_GRAD_ROW(grad_row8, int8_t)
QFC_GRAD_ROW(grad_row16, int16_t)

static void grad_row(int e, const void *x, const int16_t *dy, int64_t *acc, int n, int in,
                     int out, int zx, int o, int i0, int len)
{
    if (e == 1) grad_row8(x, dy, acc, n, in, out, zx, o, i0, len);
    else grad_row16(x, dy, acc, n, in, out, zx, o, i0, len);
}

/* Pass 0 returns the largest |sum|; pass 1 writes the sums shifted by `shift`. */
static uint64_t grad_pass(int e, const void *x, const int16_t *dy, int16_t *dw, int n,
                          int in, int out, int zx, int shift)
{
    int64_t acc[CHUNK];
    uint64_t max_abs = 0;
    for (int o = 0; o < out; o++)
        for (int i0 = 0; i0 < in; i0 += CHUNK) {
            int len = in - i0 < CHUNK ? in - i0 : CHUNK;
            grad_row(e, x, dy, acc, n, in, out, zx, o, i0, len);
            for (int k = 0; k < len; k++) {
                uint64_t a = mt_abs64(acc[k]);
                if (a > max_abs) max_abs = a;
                if (dw) dw[(size_t)o * in + i0 + k] = mt_sat16(mt_round_shift(acc[k], shift));
            }
        }
    return max_abs;
}

static int64_t bias_sum(const int16_t *dy, int n, int out, int o)
{
    int64_t a = 0;
    for (int s = 0; s < n; s++) a += dy[(size_t)s * out + o];
    return a;
}

static void bias_grad(const int16_t *dy, int32_t e_dy, void *db, int n, int out)
{
    uint64_t max_abs = 0;
    for (int o = 0; o < out; o++) {
        uint64_t a = mt_abs64(bias_sum(dy, n, out, o));
        if (a > max_abs) max_abs = a;
    }
    int shift = mt_g16_shift(max_abs);
    int16_t *vals = mt_g16_vals(db);
    for (int o = 0; o < out; o++) vals[o] = mt_sat16(mt_round_shift(bias_sum(dy, n, out, o), shift));
    mt_g16_set_exp(db, (int64_t)e_dy + shift);
}

void mt_qfc_grad(int e, const void *x, const void *dy, void *dw, void *db,
                 int n, int in, int out, int zx)
{
    const int16_t *dyv = mt_g16_cvals(dy);
    int32_t e_dy = mt_g16_exp(dy);
    int shift = mt_g16_shift(grad_pass(e, x, dyv, NULL, n, in, out, zx, 0));
    grad_pass(e, x, dyv, mt_g16_vals(dw), n, in, out, zx, shift);
    mt_g16_set_exp(dw, (int64_t)e_dy + shift);
    if (db) bias_grad(dyv, e_dy, db, n, out);
}

/* ---- input derivative: a[s,i] = sum_o dy[s,o] m_w[o] w[o,i] ---- */

#define QFC_DERIV_ROW(NAME, T)                                                       \
static void NAME(const int16_t *dy, const T *w, const int32_t *ws, int64_t *acc,     \
                 int in, int out, int s, int i0, int len)                            \
{                                                                                    \
    for (int k = 0; k < len; k++) acc[k] = 0;                                        \
    for (int o = 0; o < out; o++) {                                                  \
        int32_t m = ws[o] < 0 ? 0 : ws[o] > 32767 ? 32767 : ws[o];                   \
        int64_t d = (int64_t)dy[(size_t)s * out + o] * m;                            \
        const T *wr = w + (size_t)o * in + i0;                                       \
        for (int k = 0; k < len; k++) acc[k] += d * wr[k];                           \
    }                                                                                \
}

QFC_DERIV_ROW(deriv_row8, int8_t)
QFC_DERIV_ROW(deriv_row16, int16_t)

static uint64_t deriv_pass(int e, const int16_t *dy, const void *w, const int32_t *ws,
                           int16_t *dx, int n, int in, int out, int shift)
{
    int64_t acc[CHUNK];
    uint64_t max_abs = 0;
    for (int s = 0; s < n; s++)
        for (int i0 = 0; i0 < in; i0 += CHUNK) {
            int len = in - i0 < CHUNK ? in - i0 : CHUNK;
            if (e == 1) deriv_row8(dy, w, ws, acc, in, out, s, i0, len);
            else deriv_row16(dy, w, ws, acc, in, out, s, i0, len);
            for (int k = 0; k < len; k++) {
                uint64_t a = mt_abs64(acc[k]);
                if (a > max_abs) max_abs = a;
                if (dx) dx[(size_t)s * in + i0 + k] = mt_sat16(mt_round_shift(acc[k], shift));
            }
        }
    return max_abs;
}

void mt_qfc_deriv(int e, const void *dy, const void *w, const int32_t *ws, void *dx,
                  int n, int in, int out, int ws_exp)
{
    const int16_t *dyv = mt_g16_cvals(dy);
    int32_t e_dy = mt_g16_exp(dy);
    int shift = mt_g16_shift(deriv_pass(e, dyv, w, ws, NULL, n, in, out, 0));
    deriv_pass(e, dyv, w, ws, mt_g16_vals(dx), n, in, out, shift);
    mt_g16_set_exp(dx, (int64_t)e_dy - ws_exp + shift);
}
