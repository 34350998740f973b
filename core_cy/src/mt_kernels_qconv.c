/* Integer 2-D convolution, NCHW, groups (depthwise: G = C = OC), the FC
 * arithmetic per output pixel (docs/int8.md): padding is the zero point (real
 * 0), so padded taps add nothing. Every output element is one exact integer
 * sum computed by gathering, so no scratch is needed; g16 outputs (dW, dX)
 * are written with the shift they held before and redone when it was wrong. */
#include <stddef.h>
#include "mt_kernels.h"
#include "mt_kernels_q.h"
#include "mt_requant.h"

/* Zero points packed in p[15] of the forward / gradient ops. */
void mt_qconv_zero_points(int32_t packed, int *zx, int *zy)
{
    *zx = (packed & 0xFF) - 128;
    *zy = ((packed >> 8) & 0xFF) - 128;
}

static long x_at(const mt_conv_shape *s, int n, int c, int h, int w)
{
    return (((long)n * s->c + c) * s->h + h) * s->w + w;
}

static long y_at(const mt_conv_shape *s, int n, int oc, int h, int w)
{
    return (((long)n * s->oc + oc) * s->oh + h) * s->ow + w;
}

static long w_at(const mt_conv_shape *s, int oc, int c, int kh, int kw)
{
    return (((long)oc * (s->c / s->groups) + c) * s->kh + kh) * s->kw + kw;
}

/* ---- forward ---- */

#define QCONV_FWD_SUM(NAME, T, ACC)                                                   \
static int64_t NAME(const mt_conv_shape *s, const T *x, const T *w, int zx, int n,    \
                    int oc, int oh, int ow)                                           \
{                                                                                     \
    int cg = s->c / s->groups, c0 = oc / (s->oc / s->groups) * cg;                    \
    ACC acc = 0;                                                                      \
    for (int c = 0; c < cg; c++)                                                      \
        for (int kh = 0; kh < s->kh; kh++) {                                          \
            int ih = oh * s->sh - s->ph + kh;                                         \
            if (ih < 0 || ih >= s->h) continue;                                       \
            for (int kw = 0; kw < s->kw; kw++) {                                      \
                int iw = ow * s->sw - s->pw + kw;                                     \
                if (iw < 0 || iw >= s->w) continue;                                   \
                acc += (ACC)(x[x_at(s, n, c0 + c, ih, iw)] - zx) * w[w_at(s, oc, c, kh, kw)]; \
            }                                                                         \
        }                                                                             \
    return acc;                                                                       \
}

/* int8: taps per sum <= 65536 (validated), so the int32 sum cannot overflow */
QCONV_FWD_SUM(fwd_sum8, int8_t, int32_t)
QCONV_FWD_SUM(fwd_sum16, int16_t, int64_t)

void mt_qconv_fwd(int e, const mt_conv_shape *s, const void *x, const void *w,
                  const int32_t *b, void *y, const int32_t *rq, int zx, int zy)
{
    for (int n = 0; n < s->n; n++)
        for (int oc = 0; oc < s->oc; oc++)
            for (int oh = 0; oh < s->oh; oh++)
                for (int ow = 0; ow < s->ow; ow++) {
                    int64_t acc = e == 1 ? fwd_sum8(s, x, w, zx, n, oc, oh, ow)
                                         : fwd_sum16(s, x, w, zx, n, oc, oh, ow);
                    int64_t v = zy + mt_requant(acc + (b ? b[oc] : 0), rq[oc], rq[s->oc + oc]);
                    long i = y_at(s, n, oc, oh, ow);
                    if (e == 1) ((int8_t *)y)[i] = mt_sat8(v);
                    else ((int16_t *)y)[i] = mt_sat16(v);
                }
}

/* ---- weight gradient: a[oc,c,kh,kw] = sum_{n,oh,ow} dy (x - zx) ---- */

#define QCONV_GRAD_SUM(NAME, T)                                                       \
static int64_t NAME(const mt_conv_shape *s, const T *x, const int16_t *dy, int zx,    \
                    int oc, int c, int kh, int kw)                                    \
{                                                                                     \
    int cx = oc / (s->oc / s->groups) * (s->c / s->groups) + c;                       \
    int64_t acc = 0;                                                                  \
    for (int n = 0; n < s->n; n++)                                                    \
        for (int oh = 0; oh < s->oh; oh++) {                                          \
            int ih = oh * s->sh - s->ph + kh;                                         \
            if (ih < 0 || ih >= s->h) continue;                                       \
            for (int ow = 0; ow < s->ow; ow++) {                                      \
                int iw = ow * s->sw - s->pw + kw;                                     \
                if (iw < 0 || iw >= s->w) continue;                                   \
                acc += (int64_t)dy[y_at(s, n, oc, oh, ow)] * (x[x_at(s, n, cx, ih, iw)] - zx); \
            }                                                                         \
        }                                                                             \
    return acc;                                                                       \
}

QCONV_GRAD_SUM(grad_sum8, int8_t)
QCONV_GRAD_SUM(grad_sum16, int16_t)

static uint64_t grad_pass(int e, const mt_conv_shape *s, const void *x, const int16_t *dy,
                          int zx, int16_t *dw, int shift)
{
    uint64_t max_abs = 0;
    int cg = s->c / s->groups;
    for (int oc = 0; oc < s->oc; oc++)
        for (int c = 0; c < cg; c++)
            for (int kh = 0; kh < s->kh; kh++)
                for (int kw = 0; kw < s->kw; kw++) {
                    int64_t a = e == 1 ? grad_sum8(s, x, dy, zx, oc, c, kh, kw)
                                       : grad_sum16(s, x, dy, zx, oc, c, kh, kw);
                    if (mt_abs64(a) > max_abs) max_abs = mt_abs64(a);
                    dw[w_at(s, oc, c, kh, kw)] = mt_sat16(mt_round_shift(a, shift));
                }
    return max_abs;
}

static int64_t bias_sum(const mt_conv_shape *s, const int16_t *dy, int oc)
{
    int64_t a = 0;
    long plane = (long)s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        const int16_t *d = dy + y_at(s, n, oc, 0, 0);
        for (long i = 0; i < plane; i++) a += d[i];
    }
    return a;
}

static void bias_grad(const mt_conv_shape *s, const int16_t *dy, int32_t e_dy, void *db)
{
    uint64_t max_abs = 0;
    for (int oc = 0; oc < s->oc; oc++)
        if (mt_abs64(bias_sum(s, dy, oc)) > max_abs) max_abs = mt_abs64(bias_sum(s, dy, oc));
    int shift = mt_g16_shift(max_abs);
    int16_t *vals = mt_g16_vals(db);
    for (int oc = 0; oc < s->oc; oc++) vals[oc] = mt_sat16(mt_round_shift(bias_sum(s, dy, oc), shift));
    mt_g16_set_exp(db, (int64_t)e_dy + shift);
}

static int guess_shift(const void *g, int64_t e_in)
{
    int64_t guess = (int64_t)mt_g16_exp(g) - e_in;
    return guess < 0 || guess > 62 ? 0 : (int)guess;
}

void mt_qconv_grad(int e, const mt_conv_shape *s, const void *x, const void *dy, void *dw,
                   void *db, int zx)
{
    const int16_t *dyv = mt_g16_cvals(dy);
    int32_t e_dy = mt_g16_exp(dy);
    int guess = guess_shift(dw, e_dy);
    int shift = mt_g16_shift(grad_pass(e, s, x, dyv, zx, mt_g16_vals(dw), guess));
    if (shift != guess) grad_pass(e, s, x, dyv, zx, mt_g16_vals(dw), shift);
    mt_g16_set_exp(dw, (int64_t)e_dy + shift);
    if (db) bias_grad(s, dyv, e_dy, db);
}

/* ---- input derivative: a[n,c,ih,iw] = sum over taps reaching it of dy m_w w ---- */

#define QCONV_DERIV_SUM(NAME, T)                                                      \
static int64_t NAME(const mt_conv_shape *s, const int16_t *dy, const T *w,            \
                    const int32_t *ws, int n, int cx, int ih, int iw)                 \
{                                                                                     \
    int cg = s->c / s->groups, ocg = s->oc / s->groups, g = cx / cg, c = cx % cg;     \
    int64_t acc = 0;                                                                  \
    for (int oc = g * ocg; oc < (g + 1) * ocg; oc++) {                                \
        int32_t m = ws[oc] < 0 ? 0 : ws[oc] > 32767 ? 32767 : ws[oc];                 \
        for (int kh = 0; kh < s->kh; kh++) {                                          \
            int th = ih + s->ph - kh;                                                 \
            if (th < 0 || th % s->sh || th / s->sh >= s->oh) continue;                \
            for (int kw = 0; kw < s->kw; kw++) {                                      \
                int tw = iw + s->pw - kw;                                             \
                if (tw < 0 || tw % s->sw || tw / s->sw >= s->ow) continue;            \
                acc += (int64_t)dy[y_at(s, n, oc, th / s->sh, tw / s->sw)] * m *      \
                       w[w_at(s, oc, c, kh, kw)];                                     \
            }                                                                         \
        }                                                                             \
    }                                                                                 \
    return acc;                                                                       \
}

QCONV_DERIV_SUM(deriv_sum8, int8_t)
QCONV_DERIV_SUM(deriv_sum16, int16_t)

static uint64_t deriv_pass(int e, const mt_conv_shape *s, const int16_t *dy, const void *w,
                           const int32_t *ws, int16_t *dx, int shift)
{
    uint64_t max_abs = 0;
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < s->c; c++)
            for (int ih = 0; ih < s->h; ih++)
                for (int iw = 0; iw < s->w; iw++) {
                    int64_t a = e == 1 ? deriv_sum8(s, dy, w, ws, n, c, ih, iw)
                                       : deriv_sum16(s, dy, w, ws, n, c, ih, iw);
                    if (mt_abs64(a) > max_abs) max_abs = mt_abs64(a);
                    dx[x_at(s, n, c, ih, iw)] = mt_sat16(mt_round_shift(a, shift));
                }
    return max_abs;
}

void mt_qconv_deriv(int e, const mt_conv_shape *s, const void *dy, const void *w,
                    const int32_t *ws, void *dx, int ws_exp)
{
    const int16_t *dyv = mt_g16_cvals(dy);
    int64_t e_sums = (int64_t)mt_g16_exp(dy) - ws_exp;
    int guess = guess_shift(dx, e_sums);
    int shift = mt_g16_shift(deriv_pass(e, s, dyv, w, ws, mt_g16_vals(dx), guess));
    if (shift != guess) deriv_pass(e, s, dyv, w, ws, mt_g16_vals(dx), shift);
    mt_g16_set_exp(dx, e_sums + shift);
}
