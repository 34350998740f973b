/* Integer pooling, NCHW (docs/int8.md): max pooling keeps the scale and zero
 * point (IDX as the float op: argmax h*W + w in the plane, first maximum,
 * padding never wins); average pooling divides the window sum of (x - z) by
 * KH*KW, rounding half up, padding counted as real 0 (PyTorch's default).
 * Derivatives gather, per input element, the windows that reach it. */
#include <stddef.h>
#include "mt_kernels.h"
#include "mt_kernels_q.h"
#include "mt_requant.h"

static int64_t load(int e, const void *p, long i)
{
    return e == 1 ? ((const int8_t *)p)[i] : ((const int16_t *)p)[i];
}

static void store(int e, void *p, long i, int64_t v)
{
    if (e == 1) ((int8_t *)p)[i] = mt_sat8(v);
    else ((int16_t *)p)[i] = mt_sat16(v);
}

static long plane_x(const mt_pool_shape *s, int n, int c)
{
    return ((long)n * s->c + c) * s->h * s->w;
}

static long plane_y(const mt_pool_shape *s, int n, int c)
{
    return ((long)n * s->c + c) * s->oh * s->ow;
}

/* The first maximum of window (oh, ow) of plane px: its position ih*W + iw
 * (-1 when no tap is inside X) and value (*best). */
static int32_t window_max(int e, const mt_pool_shape *s, const void *x, long px, int oh, int ow,
                          int64_t *best)
{
    int32_t where = -1;
    *best = 0;
    for (int kh = 0; kh < s->kh; kh++) {
        int ih = oh * s->sh - s->ph + kh;
        if (ih < 0 || ih >= s->h) continue;
        for (int kw = 0; kw < s->kw; kw++) {
            int iw = ow * s->sw - s->pw + kw;
            if (iw < 0 || iw >= s->w) continue;
            int64_t v = load(e, x, px + (long)ih * s->w + iw);
            if (where < 0 || v > *best) {
                *best = v;
                where = ih * s->w + iw;
            }
        }
    }
    return where;
}

/* idx may be NULL: QMAXPOOL_DERIV_X finds the maxima again in X. */
void mt_qmaxpool_fwd(int e, const mt_pool_shape *s, const void *x, void *y, int32_t *idx)
{
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < s->c; c++) {
            long px = plane_x(s, n, c), py = plane_y(s, n, c);
            for (int oh = 0; oh < s->oh; oh++)
                for (int ow = 0; ow < s->ow; ow++) {
                    int64_t best;
                    int32_t where = window_max(e, s, x, px, oh, ow, &best);
                    store(e, y, py + (long)oh * s->ow + ow, best);
                    if (idx) idx[py + (long)oh * s->ow + ow] = where;
                }
        }
}

void mt_qavgpool_fwd(int e, const mt_pool_shape *s, const void *x, void *y, int z)
{
    int64_t k = (int64_t)s->kh * s->kw;
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < s->c; c++) {
            long px = plane_x(s, n, c), py = plane_y(s, n, c);
            for (int oh = 0; oh < s->oh; oh++)
                for (int ow = 0; ow < s->ow; ow++) {
                    int64_t sum = 0;
                    for (int kh = 0; kh < s->kh; kh++) {
                        int ih = oh * s->sh - s->ph + kh;
                        if (ih < 0 || ih >= s->h) continue;
                        for (int kw = 0; kw < s->kw; kw++) {
                            int iw = ow * s->sw - s->pw + kw;
                            if (iw >= 0 && iw < s->w) sum += load(e, x, px + (long)ih * s->w + iw) - z;
                        }
                    }
                    store(e, y, py + (long)oh * s->ow + ow, z + mt_div_round(sum, k));
                }
        }
}

/* Where a max pooling window's gradient goes: its stored argmax (idx), or the
 * first maximum found again in the forward's input x (e-byte elements, plane
 * px); neither for average pooling. */
typedef struct {
    const int32_t *idx;
    const void *x;
    int e;
    long px;
} pool_winners;

static int is_winner(const mt_pool_shape *s, const pool_winners *win, long o, int oh, int ow,
                     int32_t at)
{
    int64_t best;
    if (!win) return 1;
    if (win->idx) return win->idx[o] == at;
    return window_max(win->e, s, win->x, win->px, oh, ow, &best) == at;
}

/* Sum of dy over the windows (oh, ow) that reach input (ih, iw); for max
 * pooling, only the windows whose argmax it is. */
static int64_t window_sum(const mt_pool_shape *s, const int16_t *dy, const pool_winners *win,
                          long py, int ih, int iw)
{
    int64_t a = 0;
    for (int kh = 0; kh < s->kh; kh++) {
        int th = ih + s->ph - kh;
        if (th < 0 || th % s->sh || th / s->sh >= s->oh) continue;
        for (int kw = 0; kw < s->kw; kw++) {
            int tw = iw + s->pw - kw;
            if (tw < 0 || tw % s->sw || tw / s->sw >= s->ow) continue;
            long o = py + (long)(th / s->sh) * s->ow + tw / s->sw;
            if (is_winner(s, win, o, th / s->sh, tw / s->sw, ih * s->w + iw)) a += dy[o];
        }
    }
    return a;
}

/* avg: a' = div_round(a 2^c2, KH KW), 2^c2 <= KH KW; max: a' = a. */
static uint64_t pool_deriv_pass(const mt_pool_shape *s, const int16_t *dy, pool_winners *win,
                                int c2, int16_t *dx, int shift)
{
    uint64_t max_abs = 0;
    int64_t k = (int64_t)s->kh * s->kw;
    for (int n = 0; n < s->n; n++)
        for (int c = 0; c < s->c; c++) {
            long px = plane_x(s, n, c), py = plane_y(s, n, c);
            if (win) win->px = px;
            for (int ih = 0; ih < s->h; ih++)
                for (int iw = 0; iw < s->w; iw++) {
                    int64_t a = window_sum(s, dy, win, py, ih, iw);
                    if (!win) a = mt_div_round(a * ((int64_t)1 << c2), k);
                    if (mt_abs64(a) > max_abs) max_abs = mt_abs64(a);
                    dx[px + (long)ih * s->w + iw] = mt_sat16(mt_round_shift(a, shift));
                }
        }
    return max_abs;
}

static void pool_deriv(const mt_pool_shape *s, const void *dy, pool_winners *win, void *dx)
{
    int c2 = win ? 0 : mt_bitlen((uint64_t)s->kh * (uint64_t)s->kw) - 1;
    int64_t e_sums = (int64_t)mt_g16_exp(dy) - c2;
    int64_t guess = (int64_t)mt_g16_exp(dx) - e_sums;
    int first = guess < 0 || guess > 62 ? 0 : (int)guess;
    int shift = mt_g16_shift(pool_deriv_pass(s, mt_g16_cvals(dy), win, c2, mt_g16_vals(dx), first));
    if (shift != first) pool_deriv_pass(s, mt_g16_cvals(dy), win, c2, mt_g16_vals(dx), shift);
    mt_g16_set_exp(dx, e_sums + shift);
}

void mt_qmaxpool_deriv(const mt_pool_shape *s, const void *dy, const int32_t *idx, void *dx)
{
    pool_winners win = {idx, 0, 0, 0};
    pool_deriv(s, dy, &win, dx);
}

void mt_qmaxpool_deriv_x(int e, const mt_pool_shape *s, const void *dy, const void *x, void *dx)
{
    pool_winners win = {0, x, e, 0};
    pool_deriv(s, dy, &win, dx);
}

void mt_qavgpool_deriv(const mt_pool_shape *s, const void *dy, void *dx)
{
    pool_deriv(s, dy, NULL, dx);
}
