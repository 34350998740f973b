/* Max and average pooling over NCHW planes. Window ranges are clipped to the
 * input, so padding is never read: for max pooling padding never wins, for
 * average pooling it contributes zeros (and is still counted in the divisor). */
#include <math.h>
#include <string.h>
#include "mt_kernels.h"
#include "mt_kernel_util.h"
#include "mt_program.h"

/* Input range [*a, *b) of the window starting at o*stride - pad. */
static void window(int o, int stride, int pad, int k, int in, int *a, int *b)
{
    int start = o * stride - pad;
    *a = start < 0 ? 0 : start;
    *b = start + k > in ? in : start + k;
}


/* One output's window, scalar (windows clipped by padding). */
static inline void max_window(const mt_pool_shape *s, const float *xp, int y0, int y1, int ox,
                       float *y, int32_t *idx)
{
    float best = -INFINITY;
    int32_t bi = -1;
    int x0, x1, iy, ix;
    window(ox, s->sw, s->pw, s->kw, s->w, &x0, &x1);
    if (y0 < y1 && x0 < x1)
        bi = y0 * s->w + x0;
    for (iy = y0; iy < y1; iy++)
        for (ix = x0; ix < x1; ix++) {
            float v = xp[iy * s->w + ix];
            if (v > best || v != v) {
                best = v;
                bi = iy * s->w + ix;
            }
        }
    *y = bi < 0 ? 0.0f : best;
    *idx = bi;
}

#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON))
/* Four unclipped windows side by side (outputs ox0 .. ox0 + 3 of one row) in
 * 4-float vectors (SSE, NEON): each lane makes max_window's comparisons in
 * the same window order; the winner is chosen with bit selects. */
typedef float pool_v4 __attribute__((vector_size(16)));
typedef int32_t pool_m4 __attribute__((vector_size(16)));

/* max_window's step for one window element in every lane: v at index at. */
#define MAX_STEP(best, bi, v, at)                                   \
    do {                                                            \
        pool_m4 wins_ = ((v) > (best)) | ((v) != (v));              \
        best = (pool_v4)(((pool_m4)(v) & wins_) | ((pool_m4)(best) & ~wins_)); \
        bi = ((at) & wins_) | ((bi) & ~wins_);                      \
    } while (0)

static void max_block4(const mt_pool_shape *s, const float *xp, int y0, int y1, int ox0,
                       float *y, int32_t *idx)
{
    int sw = s->sw, x0 = ox0 * sw - s->pw, iy, kx, l;
    pool_v4 best = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    pool_m4 lane = {0, sw, 2 * sw, 3 * sw}, none = {-1, -1, -1, -1};
    pool_m4 bi = y0 < y1 ? (y0 * s->w + x0) + lane : none;
    for (iy = y0; iy < y1; iy++)
        for (kx = 0; kx < s->kw; kx++) {
            const float *row = xp + iy * s->w + x0 + kx;
            pool_v4 v = {row[0], row[sw], row[2 * sw], row[3 * sw]};
            pool_m4 at = (iy * s->w + x0 + kx) + lane;
            MAX_STEP(best, bi, v, at);
        }
    for (l = 0; l < 4; l++) {
        y[l] = bi[l] < 0 ? 0.0f : best[l];
        idx[l] = bi[l];
    }
}

#if defined(__clang__) || __GNUC__ >= 12
#define POOL_PICK(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define POOL_PICK(a, b, ...) __builtin_shuffle(a, b, (pool_m4){__VA_ARGS__})
#endif

/* 2x2 windows, stride 2, no padding (LeNet's and most CNNs' pooling), four
 * outputs per call: lane l's window has its top-left input at index at[l] of
 * its plane, and its top row's two inputs are lanes 2l and 2l + 1 of (t0, t1),
 * its bottom row's of (b0, b1). The same comparisons in the same window order
 * as max_window (every window is whole: bi never stays -1). */
static void max_2x2_lanes(pool_v4 t0, pool_v4 t1, pool_v4 b0, pool_v4 b1, pool_m4 at, int w,
                          float *y, int32_t *idx)
{
    pool_v4 best = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    pool_m4 bi = at;
    MAX_STEP(best, bi, POOL_PICK(t0, t1, 0, 2, 4, 6), at);
    MAX_STEP(best, bi, POOL_PICK(t0, t1, 1, 3, 5, 7), at + 1);
    MAX_STEP(best, bi, POOL_PICK(b0, b1, 0, 2, 4, 6), at + w);
    MAX_STEP(best, bi, POOL_PICK(b0, b1, 1, 3, 5, 7), at + w + 1);
    memcpy(y, &best, 16);
    memcpy(idx, &bi, 16);
}

static pool_v4 load4(const float *p)
{
    pool_v4 v;
    memcpy(&v, p, 16);
    return v;
}

/* Output row `row` (over all planes) of a 2x2 stride-2 pooling: its plane
 * and the index of its top-left input in that plane. */
static const float *row_inputs(const mt_pool_shape *s, const float *x, long row, int32_t *top)
{
    long plane = row / s->oh;
    *top = 2 * (int32_t)(row % s->oh) * s->w;
    return x + plane * s->h * s->w;
}

/* Every output of a 2x2 stride-2 unpadded pooling. Rows of >= 4 outputs go 4
 * at a time, the last block of a row moved back to end at the row's end
 * (outputs computed twice get the same value twice); rows of 2 outputs two
 * rows at a time (then the outputs are consecutive), an odd last row alone. */
static void max_2x2_planes(const mt_pool_shape *s, const float *x, float *y, int32_t *idx)
{
    long rows = (long)s->n * s->c * s->oh, r;
    const pool_m4 even = {0, 2, 4, 6}, pair = {0, 2, 0, 2};
    int32_t top, next;
    int ox;
    for (r = 0; r < rows; r++) {
        const float *xp = row_inputs(s, x, r, &top);
        if (s->ow == 2) {
            const float *xq;
            if (r + 1 == rows) {
                max_window(s, xp, top / s->w, top / s->w + 2, 0, y + 2 * r, idx + 2 * r);
                max_window(s, xp, top / s->w, top / s->w + 2, 1, y + 2 * r + 1, idx + 2 * r + 1);
                break;
            }
            xq = row_inputs(s, x, r + 1, &next);
            max_2x2_lanes(load4(xp + top), load4(xq + next), load4(xp + top + s->w),
                          load4(xq + next + s->w),
                          pair + (pool_m4){top, top, next, next}, s->w, y + 2 * r, idx + 2 * r);
            r++;
            continue;
        }
        for (ox = 0; ox < s->ow; ox += 4) {
            int o = ox + 4 <= s->ow ? ox : s->ow - 4;
            const float *t = xp + top + 2 * o;
            max_2x2_lanes(load4(t), load4(t + 4), load4(t + s->w), load4(t + s->w + 4),
                          top + 2 * o + even, s->w, y + r * s->ow + o, idx + r * s->ow + o);
        }
    }
}

static int is_2x2_stride2(const mt_pool_shape *s)
{
    return s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 && s->ph == 0 && s->pw == 0 &&
           (s->ow >= 4 || s->ow == 2);
}
#define POOL_LANES 4
#else
#define POOL_LANES 0   /* Cortex-M: no vector unit, every window by itself */
#endif

/* First maximum in row-major window order wins; any NaN wins (the last
 * one, exactly as PyTorch's CPU loop). A window lying entirely in padding
 * yields 0 with idx -1. Unclipped windows go 4 at a time where there are
 * 4-float vectors. */
void mt_maxpool_fwd(const mt_pool_shape *s, const float *x, float *y, int32_t *idx)
{
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow;
    long p;
    int oy, ox, y0, y1;
#if POOL_LANES
    /* ox whose window lies inside the row: ox*sw - pw >= 0, ox*sw - pw + kw <= w */
    int inner_lo = (s->pw + s->sw - 1) / s->sw;
    int inner_hi = s->w - s->kw + s->pw < 0 ? 0 : (s->w - s->kw + s->pw) / s->sw + 1;
    if (inner_hi > s->ow)
        inner_hi = s->ow;
    if (inner_lo > inner_hi)
        inner_lo = inner_hi;
    if (is_2x2_stride2(s)) {
        max_2x2_planes(s, x, y, idx);
        return;
    }
#endif
    for (p = 0; p < (long)s->n * s->c; p++) {
        const float *xp = x + p * pin;
        float *yp = y + p * pout;
        int32_t *ip = idx + p * pout;
        for (oy = 0; oy < s->oh; oy++) {
            float *yr = yp + (long)oy * s->ow;
            int32_t *ir = ip + (long)oy * s->ow;
            window(oy, s->sh, s->ph, s->kh, s->h, &y0, &y1);
            for (ox = 0; ox < s->ow; ox++) {
#if POOL_LANES
                if (ox >= inner_lo && ox + POOL_LANES <= inner_hi) {
                    max_block4(s, xp, y0, y1, ox, yr + ox, ir + ox);
                    ox += POOL_LANES - 1;
                    continue;
                }
#endif
                max_window(s, xp, y0, y1, ox, yr + ox, ir + ox);   /* one call site: inlined */
            }
        }
    }
}

/* dx[idx] += dy, outputs visited in ascending order; an index outside the
 * plane (idx -1 for an all-padding window, or a hostile program) is skipped. */
void mt_maxpool_deriv(const mt_pool_shape *s, const float *dy, const int32_t *idx, float *dx)
{
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow;
    long p, j;
    memset(dx, 0, sizeof(float) * (size_t)s->n * (size_t)s->c * (size_t)pin);
    for (p = 0; p < (long)s->n * s->c; p++) {
        float *dp = dx + p * pin;
        const float *gp = dy + p * pout;
        const int32_t *ip = idx + p * pout;
        for (j = 0; j < pout; j++)
            if (ip[j] >= 0 && ip[j] < pin) /* idx may be any op's output: never index outside */
                dp[ip[j]] += gp[j];
    }
}

/* Each output sums its window in row-major (ky, kx) order, computed as
 * row axpys over ox, then divides by kh*kw. */
void mt_avgpool_fwd(const mt_pool_shape *s, const float *x, float *y)
{
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow;
    float div = (float)(s->kh * s->kw);
    long p;
    int oy, ox, ky, kx, lo, hi, ylo, yhi;
    for (p = 0; p < (long)s->n * s->c; p++) {
        const float *xp = x + p * pin;
        float *yp = y + p * pout;
        memset(yp, 0, sizeof(float) * (size_t)pout);
        for (oy = 0; oy < s->oh; oy++) {
            float *yr = yp + (long)oy * s->ow;
            window(oy, s->sh, s->ph, s->kh, s->h, &ylo, &yhi);
            for (ky = ylo; ky < yhi; ky++) {
                const float *xr = xp + (long)ky * s->w;
                for (kx = 0; kx < s->kw; kx++) {
                    int off = kx - s->pw;
                    mt_clip(off, s->sw, s->w, s->ow, &lo, &hi);
                    for (ox = lo; ox < hi; ox++)
                        yr[ox] += xr[ox * s->sw + off];
                }
            }
            for (ox = 0; ox < s->ow; ox++)
                yr[ox] /= div;
        }
    }
}

/* dx += dy / (kh*kw) over each window, outputs visited in (oy, ky, kx, ox)
 * order. */
void mt_avgpool_deriv(const mt_pool_shape *s, const float *dy, float *dx)
{
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow;
    float div = (float)(s->kh * s->kw);
    long p;
    int oy, ox, ky, kx, lo, hi, ylo, yhi;
    memset(dx, 0, sizeof(float) * (size_t)s->n * (size_t)s->c * (size_t)pin);
    for (p = 0; p < (long)s->n * s->c; p++) {
        float *dp = dx + p * pin;
        const float *gp = dy + p * pout;
        for (oy = 0; oy < s->oh; oy++) {
            const float *gr = gp + (long)oy * s->ow;
            window(oy, s->sh, s->ph, s->kh, s->h, &ylo, &yhi);
            for (ky = ylo; ky < yhi; ky++) {
                float *dr = dp + (long)ky * s->w;
                for (kx = 0; kx < s->kw; kx++) {
                    int off = kx - s->pw;
                    mt_clip(off, s->sw, s->w, s->ow, &lo, &hi);
                    for (ox = lo; ox < hi; ox++)
                        dr[ox * s->sw + off] += gr[ox] / div;
                }
            }
        }
    }
}
