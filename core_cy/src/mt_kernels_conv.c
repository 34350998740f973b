/* Direct 2-D convolution (no im2col: there is no scratch memory).
 * The innermost loop always runs over one output row (ox), with the row
 * range clipped so that padding is never read: out-of-range taps are simply
 * skipped, which is exact because they would only add zeros.
 * Summation orders are fixed by the loop nests below:
 *   fwd:   y   = b + sum over (ci, ky, kx)            (axpy over ox)
 *   deriv: dx  = sum over (o block of 4, oy, ky, kx, o in block) (axpy)
 *   grad:  dw  = sum over n of [4 lanes over (oy, ox) folded once]
 * Four output channels of one group are processed together where possible
 * so that every input row load feeds four accumulations. */
#include <string.h>
#include "mt_kernels.h"
#include "mt_program.h"

/* Runs the statement for j in [0, n) in blocks of 8, then 4: GCC -O2 (very-cheap
 * cost model) vectorizes only inner loops with a known trip count. */
#define FOR8(j, n, ...) do { int j##_b_ = 0, j##_k_, j; \
    for (; j##_b_ + 8 <= (n); j##_b_ += 8) \
        for (j##_k_ = 0; j##_k_ < 8; j##_k_++) { j = j##_b_ + j##_k_; __VA_ARGS__; } \
    if (j##_b_ + 4 <= (n)) { \
        for (j##_k_ = 0; j##_k_ < 4; j##_k_++) { j = j##_b_ + j##_k_; __VA_ARGS__; } \
        j##_b_ += 4; } \
    for (j = j##_b_; j < (n); j++) { __VA_ARGS__; } } while (0)

/* Output positions o in [*lo, *hi) whose input index o*stride + off lies in
 * [0, in). */
static void clip(int off, int stride, int in, int out, int *lo, int *hi)
{
    int a = off < 0 ? (-off + stride - 1) / stride : 0;
    int b = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (b > out)
        b = out;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* A 1x1, stride-1, unpadded conv maps whole planes onto planes: treat each
 * plane as one long row so the inner loops run over H*W. */
static mt_conv_shape flatten(const mt_conv_shape *s)
{
    mt_conv_shape f = *s;
    if (s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 &&
        s->pw == 0 && s->oh == s->h && s->ow == s->w) {
        f.w = f.ow = s->h * s->w;
        f.h = f.oh = 1;
    }
    return f;
}

/* ---- forward ---- */

/* y_k[j] += a_k * x[j*st] for the four output rows of a channel block. */
static void fwd_row4(float *restrict y0, float *restrict y1, float *restrict y2,
                     float *restrict y3, const float *restrict x, int st,
                     const float *a, int n)
{
    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    if (st == 1)
        FOR8(j, n, float v = x[j]; y0[j] += a0 * v; y1[j] += a1 * v;
             y2[j] += a2 * v; y3[j] += a3 * v);
    else
        FOR8(j, n, float v = x[j * st]; y0[j] += a0 * v; y1[j] += a1 * v;
             y2[j] += a2 * v; y3[j] += a3 * v);
}

static void fwd_row1(float *restrict y, const float *restrict x, int st, float a, int n)
{
    if (st == 1)
        FOR8(j, n, y[j] += a * x[j]);
    else
        FOR8(j, n, y[j] += a * x[j * st]);
}

/* Accumulates input plane xp into nb (1 or 4) output planes y[k] with the
 * filter taps wt[k] (each kh*kw, already offset to this input channel). */
static void fwd_plane(const mt_conv_shape *s, const float *xp, const float *const *wt,
                      float *const *y, int nb)
{
    int oy, ky, kx, lo, hi, ylo, yhi;
    for (ky = 0; ky < s->kh; ky++) {
        clip(ky - s->ph, s->sh, s->h, s->oh, &ylo, &yhi);
        for (oy = ylo; oy < yhi; oy++) {
            const float *xr = xp + (long)(oy * s->sh + ky - s->ph) * s->w;
            long yo = (long)oy * s->ow;
            for (kx = 0; kx < s->kw; kx++) {
                int off = kx - s->pw, t = ky * s->kw + kx;
                const float *xs;
                clip(off, s->sw, s->w, s->ow, &lo, &hi);
                xs = xr + (long)lo * s->sw + off;
                if (nb == 4) {
                    float a[4];
                    a[0] = wt[0][t]; a[1] = wt[1][t]; a[2] = wt[2][t]; a[3] = wt[3][t];
                    fwd_row4(y[0] + yo + lo, y[1] + yo + lo, y[2] + yo + lo,
                             y[3] + yo + lo, xs, s->sw, a, hi - lo);
                } else {
                    fwd_row1(y[0] + yo + lo, xs, s->sw, wt[0][t], hi - lo);
                }
            }
        }
    }
}

/* NB: per output element the terms still arrive in (ci, ky, kx) order, since
 * ky/oy interchange only reorders independent rows. */
void mt_conv_fwd(const mt_conv_shape *shape, const float *x, const float *w,
                 const float *b, float *y)
{
    mt_conv_shape s = flatten(shape);
    int cpg = s.c / s.groups, opg = s.oc / s.groups, kk = s.kh * s.kw;
    long pin = (long)s.h * s.w, pout = (long)s.oh * s.ow;
    int n, o, k, ci;
    for (n = 0; n < s.n; n++) {
        for (o = 0; o < s.oc; o += k) {
            int g = o / opg;
            int nb = (o % opg) + 4 <= opg ? 4 : 1;
            float *yp[4];
            const float *wt[4];
            for (k = 0; k < nb; k++) {
                long j;
                float bias = b ? b[o + k] : 0.0f;
                yp[k] = y + ((long)n * s.oc + o + k) * pout;
                for (j = 0; j < pout; j++)
                    yp[k][j] = bias;
            }
            for (ci = 0; ci < cpg; ci++) {
                const float *xp = x + ((long)n * s.c + (long)g * cpg + ci) * pin;
                for (k = 0; k < nb; k++)
                    wt[k] = w + ((long)(o + k) * cpg + ci) * kk;
                fwd_plane(&s, xp, wt, yp, nb);
            }
        }
    }
}

/* ---- input derivative ---- */

/* dx[j*st] = (((dx[j*st] + a0 d0[j]) + a1 d1[j]) + a2 d2[j]) + a3 d3[j] */
static void deriv_row4(float *restrict dx, int st, const float *restrict d0,
                       const float *restrict d1, const float *restrict d2,
                       const float *restrict d3, const float *a, int n)
{
    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    if (st == 1)
        FOR8(j, n, dx[j] = (((dx[j] + a0 * d0[j]) + a1 * d1[j]) + a2 * d2[j]) + a3 * d3[j]);
    else
        FOR8(j, n, dx[j * st] = (((dx[j * st] + a0 * d0[j]) + a1 * d1[j]) + a2 * d2[j])
                                + a3 * d3[j]);
}

static void deriv_row1(float *restrict dx, int st, const float *restrict d, float a, int n)
{
    if (st == 1)
        FOR8(j, n, dx[j] += a * d[j]);
    else
        FOR8(j, n, dx[j * st] += a * d[j]);
}

/* Scatters nb output-derivative planes dy[k] through taps wt[k] into dxp. */
static void deriv_plane(const mt_conv_shape *s, float *dxp, const float *const *wt,
                        const float *const *dy, int nb)
{
    int oy, ky, kx, lo, hi, ylo, yhi;
    for (oy = 0; oy < s->oh; oy++) {
        long yo = (long)oy * s->ow;
        /* taps ky with 0 <= oy*sh - ph + ky < h */
        ylo = s->ph - oy * s->sh;
        if (ylo < 0)
            ylo = 0;
        yhi = s->h + s->ph - oy * s->sh;
        if (yhi > s->kh)
            yhi = s->kh;
        for (ky = ylo; ky < yhi; ky++) {
            float *dr = dxp + (long)(oy * s->sh + ky - s->ph) * s->w;
            for (kx = 0; kx < s->kw; kx++) {
                int off = kx - s->pw, t = ky * s->kw + kx;
                float *ds;
                clip(off, s->sw, s->w, s->ow, &lo, &hi);
                ds = dr + (long)lo * s->sw + off;
                if (nb == 4) {
                    float a[4];
                    a[0] = wt[0][t]; a[1] = wt[1][t]; a[2] = wt[2][t]; a[3] = wt[3][t];
                    deriv_row4(ds, s->sw, dy[0] + yo + lo, dy[1] + yo + lo,
                               dy[2] + yo + lo, dy[3] + yo + lo, a, hi - lo);
                } else {
                    deriv_row1(ds, s->sw, dy[0] + yo + lo, wt[0][t], hi - lo);
                }
            }
        }
    }
}

void mt_conv_deriv(const mt_conv_shape *shape, const float *dy, const float *w, float *dx)
{
    mt_conv_shape s = flatten(shape);
    int cpg = s.c / s.groups, opg = s.oc / s.groups, kk = s.kh * s.kw;
    long pin = (long)s.h * s.w, pout = (long)s.oh * s.ow;
    int n, ci, o, k;
    memset(dx, 0, sizeof(float) * (size_t)s.n * (size_t)s.c * (size_t)pin);
    for (n = 0; n < s.n; n++) {
        for (ci = 0; ci < s.c; ci++) {
            int g = ci / cpg, cl = ci % cpg;
            float *dxp = dx + ((long)n * s.c + ci) * pin;
            for (o = g * opg; o < (g + 1) * opg; o += k) {
                int nb = o + 4 <= (g + 1) * opg ? 4 : 1;
                const float *dp[4];
                const float *wt[4];
                for (k = 0; k < nb; k++) {
                    dp[k] = dy + ((long)n * s.oc + o + k) * pout;
                    wt[k] = w + ((long)(o + k) * cpg + cl) * kk;
                }
                deriv_plane(&s, dxp, wt, dp, nb);
            }
        }
    }
}

/* ---- weight gradient ---- */

/* Four lanes per filter tap persist across all rows of one sample; the
 * tail of each row goes to lane 4. */
typedef struct {
    float l[4][5];
} lanes4;

#define GRAD4_BODY(ST) \
    for (; i + 4 <= n; i += 4) \
        for (k = 0; k < 4; k++) { \
            float v = x[(i + k) * (ST)]; \
            s0[k] += v * d0[i + k]; \
            s1[k] += v * d1[i + k]; \
            s2[k] += v * d2[i + k]; \
            s3[k] += v * d3[i + k]; \
        }

static void grad_row4(lanes4 *acc, const float *restrict x, int st,
                      const float *restrict d0, const float *restrict d1,
                      const float *restrict d2, const float *restrict d3, int n)
{
    float s0[4], s1[4], s2[4], s3[4];
    int i = 0, k;
    for (k = 0; k < 4; k++) {
        s0[k] = acc->l[0][k]; s1[k] = acc->l[1][k];
        s2[k] = acc->l[2][k]; s3[k] = acc->l[3][k];
    }
    if (st == 1) /* constant stride: contiguous vector loads */
        GRAD4_BODY(1)
    else
        GRAD4_BODY(st)
    for (k = 0; k < 4; k++) {
        acc->l[0][k] = s0[k]; acc->l[1][k] = s1[k];
        acc->l[2][k] = s2[k]; acc->l[3][k] = s3[k];
    }
    for (; i < n; i++) {
        float v = x[i * st];
        acc->l[0][4] += v * d0[i];
        acc->l[1][4] += v * d1[i];
        acc->l[2][4] += v * d2[i];
        acc->l[3][4] += v * d3[i];
    }
}

static void grad_row1(float *acc, const float *restrict x, int st,
                      const float *restrict d, int n)
{
    float s[4];
    int i = 0, k;
    for (k = 0; k < 4; k++)
        s[k] = acc[k];
    if (st == 1)
        for (; i + 4 <= n; i += 4)
            for (k = 0; k < 4; k++)
                s[k] += x[i + k] * d[i + k];
    else
        for (; i + 4 <= n; i += 4)
            for (k = 0; k < 4; k++)
                s[k] += x[(i + k) * st] * d[i + k];
    for (k = 0; k < 4; k++)
        acc[k] = s[k];
    for (; i < n; i++)
        acc[4] += x[i * st] * d[i];
}

static float fold(const float *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + l[4];
}

/* dw_k[tap] += sum over the plane of x * dy_k for one input channel plane. */
static void grad_plane(const mt_conv_shape *s, const float *xp, float *const *dw,
                       const float *const *dy, int nb)
{
    int ky, kx, oy, lo, hi, ylo, yhi, k;
    for (ky = 0; ky < s->kh; ky++) {
        clip(ky - s->ph, s->sh, s->h, s->oh, &ylo, &yhi);
        for (kx = 0; kx < s->kw; kx++) {
            int off = kx - s->pw, t = ky * s->kw + kx;
            lanes4 acc;
            memset(&acc, 0, sizeof acc);
            clip(off, s->sw, s->w, s->ow, &lo, &hi);
            for (oy = ylo; oy < yhi; oy++) {
                const float *xs = xp + (long)(oy * s->sh + ky - s->ph) * s->w
                                  + (long)lo * s->sw + off;
                long yo = (long)oy * s->ow + lo;
                if (nb == 4)
                    grad_row4(&acc, xs, s->sw, dy[0] + yo, dy[1] + yo, dy[2] + yo,
                              dy[3] + yo, hi - lo);
                else
                    grad_row1(acc.l[0], xs, s->sw, dy[0] + yo, hi - lo);
            }
            for (k = 0; k < nb; k++)
                dw[k][t] += fold(acc.l[k]);
        }
    }
}

static float plane_sum(const float *p, long n)
{
    float l[5] = {0};
    long i = 0;
    int k;
    for (; i + 4 <= n; i += 4)
        for (k = 0; k < 4; k++)
            l[k] += p[i + k];
    for (; i < n; i++)
        l[4] += p[i];
    return fold(l);
}

void mt_conv_grad(const mt_conv_shape *shape, const float *x, const float *dy,
                  float *dw, float *db)
{
    mt_conv_shape s = flatten(shape);
    int cpg = s.c / s.groups, opg = s.oc / s.groups, kk = s.kh * s.kw;
    long pin = (long)s.h * s.w, pout = (long)s.oh * s.ow;
    int n, o, k, ci;
    memset(dw, 0, sizeof(float) * (size_t)s.oc * (size_t)cpg * (size_t)kk);
    if (db)
        memset(db, 0, sizeof(float) * (size_t)s.oc);
    for (n = 0; n < s.n; n++) {
        for (o = 0; o < s.oc; o += k) {
            int g = o / opg;
            int nb = (o % opg) + 4 <= opg ? 4 : 1;
            const float *dp[4];
            float *wt[4];
            for (k = 0; k < nb; k++) {
                dp[k] = dy + ((long)n * s.oc + o + k) * pout;
                if (db)
                    db[o + k] += plane_sum(dp[k], pout);
            }
            for (ci = 0; ci < cpg; ci++) {
                const float *xp = x + ((long)n * s.c + (long)g * cpg + ci) * pin;
                for (k = 0; k < nb; k++)
                    wt[k] = dw + ((long)(o + k) * cpg + ci) * kk;
                grad_plane(&s, xp, wt, dp, nb);
            }
        }
    }
}
