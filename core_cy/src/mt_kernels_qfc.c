/* Integer fully connected kernels (docs/int8.md): int8 or int16 activations
 * and weights, exact integer sums, requantized forward output, g16 gradients.
 * Integer sums are exact, so their order is free. A g16 output's shift
 * depends on its largest sum, so a pass writes with a guessed shift (the one
 * the tensor held before) and is redone when the guess was wrong: no scratch. Sums over inputs run in chunks of CHUNK columns whose
 * accumulators live on the stack. */
#include <stddef.h>
#include "mt_kernels_q.h"
#include "mt_requant.h"

#define CHUNK 64

/* ---- forward: y = sat(zy + requant(sum_i (x - zx) w + b, M[o], sh[o])) ----
 * computed as sum_i x w - zx sum_i w (the same integer), four samples per
 * weight row so each weight load feeds four sums. */

#define QFC_FWD(NAME, T, ACC, MUL, SAT)                                               \
static void NAME(const T *x, const T *w, const int32_t *b, T *y, const int32_t *rq, \
                 int n, int in, int out, int zx, int zy)                             \
{                                                                                    \
    for (int o = 0; o < out; o++) {                                                  \
        const T *wr = w + (size_t)o * in;                                            \
        ACC wsum = 0;                                                                \
        for (int i = 0; i < in; i++) wsum += wr[i];                                  \
        int64_t base = (b ? b[o] : 0) - (int64_t)zx * wsum;                          \
        int s = 0;                                                                   \
        for (; s + 4 <= n; s += 4) {                                                 \
            const T *x0 = x + (size_t)s * in, *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in; \
            ACC a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                      \
            for (int i = 0; i < in; i++) {                                           \
                MUL wv = wr[i];                                                      \
                a0 += (MUL)x0[i] * wv;                                               \
                a1 += (MUL)x1[i] * wv;                                               \
                a2 += (MUL)x2[i] * wv;                                               \
                a3 += (MUL)x3[i] * wv;                                               \
            }                                                                        \
            y[(size_t)s * out + o] = SAT(zy + mt_requant(base + a0, rq[o], rq[out + o]));       \
            y[(size_t)(s + 1) * out + o] = SAT(zy + mt_requant(base + a1, rq[o], rq[out + o])); \
            y[(size_t)(s + 2) * out + o] = SAT(zy + mt_requant(base + a2, rq[o], rq[out + o])); \
            y[(size_t)(s + 3) * out + o] = SAT(zy + mt_requant(base + a3, rq[o], rq[out + o])); \
        }                                                                            \
        for (; s < n; s++) {                                                         \
            const T *xr = x + (size_t)s * in;                                        \
            ACC acc = 0;                                                             \
            for (int i = 0; i < in; i++) acc += (MUL)xr[i] * (MUL)wr[i];             \
            y[(size_t)s * out + o] = SAT(zy + mt_requant(base + acc, rq[o], rq[out + o])); \
        }                                                                            \
    }                                                                                \
}

/* int8: |x w| <= 2^14, in <= 65536: int32 sums of x w and of w cannot overflow */
QFC_FWD(fwd8, int8_t, int32_t, int16_t, mt_sat8)
QFC_FWD(fwd16, int16_t, int64_t, int64_t, mt_sat16)

#if defined(__ARM_FEATURE_DSP)
/* Cortex-M DSP extension: SMLAD adds two 16x16 products per instruction. The
 * sums are the same integers as fwd8's (exact, below 2^31), so the results
 * are bit-identical to the portable path (tests/test_firmware_int8.py). */
#include <arm_acle.h>
#include <string.h>

static uint32_t load4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);   /* an unaligned word load on the M4 */
    return v;
}

/* sum_i x[i] w[i] for four rows of x against one weight row. */
static void dot4_dsp(const int8_t *x0, int in, const int8_t *w, int32_t *acc)
{
    const int8_t *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int i = 0;
#define DSP_ROW(A, X)                                                       \
    do {                                                                    \
        uint32_t xv = load4((X) + i);                                       \
        A = __smlad(__sxtb16(xv), w02, A);                                  \
        A = __smlad(__sxtb16((xv >> 8) | (xv << 24)), w13, A);              \
    } while (0)
    for (; i + 4 <= in; i += 4) {
        uint32_t wv = load4(w + i);
        int16x2_t w02 = __sxtb16(wv), w13 = __sxtb16((wv >> 8) | (wv << 24));
        DSP_ROW(a0, x0);
        DSP_ROW(a1, x1);
        DSP_ROW(a2, x2);
        DSP_ROW(a3, x3);
    }
#undef DSP_ROW
    for (; i < in; i++) {
        a0 += x0[i] * w[i];
        a1 += x1[i] * w[i];
        a2 += x2[i] * w[i];
        a3 += x3[i] * w[i];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static void fwd8_dsp(const int8_t *x, const int8_t *w, const int32_t *b, int8_t *y,
                     const int32_t *rq, int n, int in, int out, int zx, int zy)
{
    int s4 = n / 4 * 4;
    for (int o = 0; o < out; o++) {
        const int8_t *wr = w + (size_t)o * in;
        int32_t wsum = 0, acc[4];
        for (int i = 0; i < in; i++) wsum += wr[i];
        int64_t base = (b ? b[o] : 0) - (int64_t)zx * wsum;
        for (int s = 0; s < s4; s += 4) {
            dot4_dsp(x + (size_t)s * in, in, wr, acc);
            for (int r = 0; r < 4; r++)
                y[(size_t)(s + r) * out + o] = mt_sat8(zy + mt_requant(base + acc[r], rq[o], rq[out + o]));
        }
    }
    if (s4 < n)   /* the last samples: the portable kernel over those rows */
        fwd8(x + (size_t)s4 * in, w, b, y + (size_t)s4 * out, rq, n - s4, in, out, zx, zy);
}
#endif

void mt_qfc_fwd(int e, const void *x, const void *w, const int32_t *b, void *y,
                const int32_t *rq, int n, int in, int out, int zx, int zy)
{
#if defined(__ARM_FEATURE_DSP)
    if (e == 1) {
        fwd8_dsp(x, w, b, y, rq, n, in, out, zx, zy);
        return;
    }
#endif
    if (e == 1) fwd8(x, w, b, y, rq, n, in, out, zx, zy);
    else fwd16(x, w, b, y, rq, n, in, out, zx, zy);
}

/* ---- weight gradient: a[o,i] = sum_s dy[s,o] (x[s,i] - zx) ---- */

/* Sums for columns [i0, i0 + len) of row o into acc. A product fits int32
 * (|dy| <= 2^15, |x - zx| <= 65535); for int8 (|x - zx| <= 255, products below
 * 2^23) up to 256 of them are summed in int32 (vectorizes) before widening. */
#define QFC_GRAD_ROW(NAME, T, MUL, BLOCK)                                               \
static void NAME(const T *x, const int16_t *dy, int64_t *acc, int n, int in, int out, \
                 int zx, int o, int i0, int len)                                     \
{                                                                                    \
    int32_t part[CHUNK];                                                             \
    for (int k = 0; k < len; k++) acc[k] = 0;                                        \
    for (int s0 = 0; s0 < n; s0 += BLOCK) {                                          \
        int s1 = n - s0 < BLOCK ? n : s0 + BLOCK;                                    \
        for (int k = 0; k < len; k++) part[k] = 0;                                   \
        for (int s = s0; s < s1; s++) {                                              \
            MUL d = dy[(size_t)s * out + o];                                         \
            const T *xr = x + (size_t)s * in + i0;                                   \
            for (int k = 0; k < len; k++) part[k] += d * (MUL)(xr[k] - zx);          \
        }                                                                            \
        for (int k = 0; k < len; k++) acc[k] += part[k];                             \
    }                                                                                \
}

/* int8: int16 x int16 products (|x - zx| <= 255): SIMD widening multiplies */
QFC_GRAD_ROW(grad_row8, int8_t, int16_t, 256)
QFC_GRAD_ROW(grad_row16, int16_t, int32_t, 1)

void mt_qfc_grad_sums(int e, const void *x, const int16_t *dy, int64_t *acc, int n, int in,
                      int out, int zx, int o, int i0, int len)
{
    if (e == 1) grad_row8(x, dy, acc, n, in, out, zx, o, i0, len);
    else grad_row16(x, dy, acc, n, in, out, zx, o, i0, len);
}

/* int8 with n <= 256: every sum fits int32 (|sum| < 2^31, see grad_row8), so
 * the sums of columns [i0, i0 + len) of row o stay in 32 bits (cheap on Cortex-M). */
void mt_qfc_grad_sums8_short(const int8_t *x, const int16_t *dy, int32_t *part, int n, int in,
                             int out, int zx, int o, int i0, int len)
{
    for (int k = 0; k < len; k++) part[k] = 0;
    for (int s = 0; s < n; s++) {
        int16_t d = dy[(size_t)s * out + o];
        const int8_t *xr = x + (size_t)s * in + i0;
        for (int k = 0; k < len; k++) part[k] += d * (int16_t)(xr[k] - zx);
    }
}

static uint32_t grad_pass8_short(const int8_t *x, const int16_t *dy, int16_t *dw, int n,
                                 int in, int out, int zx, int shift)
{
    int32_t part[CHUNK];
    uint32_t max_abs = 0;
    int64_t half = shift > 0 ? (int64_t)1 << (shift - 1) : 0;
    for (int o = 0; o < out; o++)
        for (int i0 = 0; i0 < in; i0 += CHUNK) {
            int len = in - i0 < CHUNK ? in - i0 : CHUNK;
            mt_qfc_grad_sums8_short(x, dy, part, n, in, out, zx, o, i0, len);
            for (int k = 0; k < len; k++) {
                int32_t a = part[k];
                uint32_t mag = a < 0 ? (uint32_t)0 - (uint32_t)a : (uint32_t)a;
                if (mag > max_abs) max_abs = mag;
                dw[(size_t)o * in + i0 + k] = mt_sat16(mt_floor_shift((int64_t)a + half, shift));
            }
        }
    return max_abs;
}

/* Writes the sums shifted by `shift`, returns the largest |sum|. */
static uint64_t grad_pass(int e, const void *x, const int16_t *dy, int16_t *dw, int n,
                          int in, int out, int zx, int shift)
{
    if (e == 1 && n <= 256)
        return grad_pass8_short(x, dy, dw, n, in, out, zx, shift);
    int64_t acc[CHUNK];
    uint64_t max_abs = 0;
    mt_rshift rs = mt_rshift_by(shift);
    for (int o = 0; o < out; o++)
        for (int i0 = 0; i0 < in; i0 += CHUNK) {
            int len = in - i0 < CHUNK ? in - i0 : CHUNK;
            mt_qfc_grad_sums(e, x, dy, acc, n, in, out, zx, o, i0, len);
            for (int k = 0; k < len; k++) {
                uint64_t a = mt_abs64(acc[k]);
                if (a > max_abs) max_abs = a;
                dw[(size_t)o * in + i0 + k] = mt_sat16(mt_rshift_apply(rs, acc[k]));
            }
        }
    return max_abs;
}

/* The g16 shift a previous call left in `g` (its exponent) relative to e_in,
 * as a first guess: gradients change slowly, so one pass usually suffices. A
 * wrong guess (or garbage) only costs the second pass; the result is the same. */
static int guess_shift(const void *g, int64_t e_in)
{
    int64_t guess = (int64_t)mt_g16_exp(g) - e_in;
    return guess < 0 || guess > 62 ? 0 : (int)guess;
}

static int64_t bias_sum(const int16_t *dy, int n, int out, int o)
{
    int64_t a = 0;
    for (int s = 0; s < n; s++) a += dy[(size_t)s * out + o];
    return a;
}

void mt_qfc_bias_grad(const int16_t *dy, int32_t e_dy, void *db, int n, int out)
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
    int guess = guess_shift(dw, e_dy);
    int shift = mt_g16_shift(grad_pass(e, x, dyv, mt_g16_vals(dw), n, in, out, zx, guess));
    if (shift != guess) grad_pass(e, x, dyv, mt_g16_vals(dw), n, in, out, zx, shift);
    mt_g16_set_exp(dw, (int64_t)e_dy + shift);
    if (db) mt_qfc_bias_grad(dyv, e_dy, db, n, out);
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
    mt_rshift rs = mt_rshift_by(shift);
    for (int s = 0; s < n; s++)
        for (int i0 = 0; i0 < in; i0 += CHUNK) {
            int len = in - i0 < CHUNK ? in - i0 : CHUNK;
            if (e == 1) deriv_row8(dy, w, ws, acc, in, out, s, i0, len);
            else deriv_row16(dy, w, ws, acc, in, out, s, i0, len);
            for (int k = 0; k < len; k++) {
                uint64_t a = mt_abs64(acc[k]);
                if (a > max_abs) max_abs = a;
                dx[(size_t)s * in + i0 + k] = mt_sat16(mt_rshift_apply(rs, acc[k]));
            }
        }
    return max_abs;
}

void mt_qfc_deriv(int e, const void *dy, const void *w, const int32_t *ws, void *dx,
                  int n, int in, int out, int ws_exp)
{
    const int16_t *dyv = mt_g16_cvals(dy);
    int64_t e_sums = (int64_t)mt_g16_exp(dy) - ws_exp;
    int guess = guess_shift(dx, e_sums);
    int shift = mt_g16_shift(deriv_pass(e, dyv, w, ws, mt_g16_vals(dx), n, in, out, guess));
    if (shift != guess) deriv_pass(e, dyv, w, ws, mt_g16_vals(dx), n, in, out, shift);
    mt_g16_set_exp(dx, e_sums + shift);
}
