/* 2-D convolution on the GEMM layer, in an arena scratch the host plans per
 * target (the kernels' own stack stays small on a microcontroller):
 *
 * Minimum scratch (MT_CONV_SCRATCH_BYTES, Cortex-M): forward (and the stride-1
 * input derivative, a correlation of dy with the flipped, transposed
 * filters) work on tiles of consecutive output pixels of the flattened plane
 * (a tile may span rows). For a chunk of at most 16 (input channel, tap)
 * pairs the tile's input values are gathered into a column buffer, zeros
 * where the tap falls into padding, and summed by the GEMM layer into the
 * output rows. A 1x1 stride-1 unpadded convolution reads the input planes
 * directly. The weight gradient gathers the transposed tile (pixel-major,
 * GW (channel, tap) columns).
 *
 * Larger scratch (Linux boards): whole K and whole planes per GEMM; stride-1
 * correlations and weight gradients as implicit GEMMs over zero-padded planes
 * (no gathered columns); strided weight gradients over chunks of (sample,
 * pixel) positions that may span samples.
 *
 * Summation orders are fixed by the code and depend neither on the blocking
 * nor on the scratch size:
 *   fwd:   y  = b + sum over (ci, ky, kx) ascending (padding taps add zero)
 *   deriv: stride 1, >= 4 channels per group, <= 9 taps:
 *          dx = 0 + sum over (o, ky, kx descending) of the group;
 *          otherwise dx = sum over (o block of 4, oy, ky, kx, o in block)
 *          (deriv_scatter; at stride 1 with a large scratch the same order
 *          as a correlation, the skipped padding terms being exact zeros)
 *   grad:  dw = 0 + sum over (n, oy, ox) ascending; db as before (4 lanes).
 * One input channel and < 4 filters per group (depthwise) keep the previous
 * row-wise code (but the stride-1 forward runs as the implicit GEMM when the
 * scratch holds it, in the same order):
 *   fwd:   y  = b + sum over (ky, kx), axpy over output rows (4 channels of a
 *          group together); grad: 4 lanes over (oy, ox) folded per sample.
 * "Same bits" assumes finite inputs: a zero term the wide paths add where the
 * minimum one skips it leaves any finite sum unchanged (sums start at +0 and
 * so are never -0), but 0 * inf would be NaN. */
#include <stdint.h>
#include <string.h>
#include "mt_kernels.h"
#include "mt_kernel_util.h"
#include "mt_gemm.h"
#include "mt_program.h"


#define TILE MT_CONV_TILE_FLOATS   /* floats of the column buffer in the minimum scratch */
#define MCH 16     /* (channel, tap) pairs per forward chunk */
/* (channel, tap) columns per gradient chunk: 4 x GW accumulators. Without an
 * FPU (Cortex-M3) they live on the stack anyway, so take fewer to keep the
 * frame small; each dw element still sums its pixels in ascending order, so
 * the results do not depend on GW. */
#ifndef MT_CONV_GRAD_COLUMNS
#if defined(__ARM_ARCH) && !defined(__ARM_FP)
#define MT_CONV_GRAD_COLUMNS 8
#else
#define MT_CONV_GRAD_COLUMNS 16   /* two 8-float vectors */
#endif
#endif
#define GW MT_CONV_GRAD_COLUMNS



/* ---- input derivative, stride > 1: axpy scatter into dx rows ---- */

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
MT_NOINLINE static void deriv_plane(const mt_conv_shape *s, float *dxp, const float *const *wt,
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
                mt_clip(off, s->sw, s->w, s->ow, &lo, &hi);
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

/* dx (zeroed by the caller) += the scatter of dy through the filters. */
MT_NOINLINE static void deriv_scatter(const mt_conv_shape *shape, const float *dy, const float *w, float *dx)
{
    mt_conv_shape s = *shape;
    int cpg = s.c / s.groups, opg = s.oc / s.groups, kk = s.kh * s.kw;
    long pin = (long)s.h * s.w, pout = (long)s.oh * s.ow;
    int n, ci, o, k;
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


/* ---- depthwise (one input channel per group): row-wise axpy, as before ---- */

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
MT_NOINLINE static void fwd_plane(const mt_conv_shape *s, const float *xp, const float *const *wt,
                      float *const *y, int nb)
{
    int oy, ky, kx, lo, hi, ylo, yhi;
    for (ky = 0; ky < s->kh; ky++) {
        mt_clip(ky - s->ph, s->sh, s->h, s->oh, &ylo, &yhi);
        for (oy = ylo; oy < yhi; oy++) {
            const float *xr = xp + (long)(oy * s->sh + ky - s->ph) * s->w;
            long yo = (long)oy * s->ow;
            for (kx = 0; kx < s->kw; kx++) {
                int off = kx - s->pw, t = ky * s->kw + kx;
                const float *xs;
                mt_clip(off, s->sw, s->w, s->ow, &lo, &hi);
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
MT_NOINLINE static void fwd_rows(const mt_conv_shape *shape, const float *x, const float *w,
                 const float *b, float *y)
{
    mt_conv_shape s = *shape;
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

MT_NOINLINE static void grad_row4(lanes4 *acc, const float *restrict x, int st,
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

/* dw_k[tap] += sum over the plane of x * dy_k for one input channel plane;
 * the lanes live in the arena scratch. */
MT_NOINLINE static void grad_plane(const mt_conv_shape *s, const float *xp, float *const *dw,
                       const float *const *dy, int nb, lanes4 *lanes)
{
    int ky, kx, oy, lo, hi, ylo, yhi, k;
    for (ky = 0; ky < s->kh; ky++) {
        mt_clip(ky - s->ph, s->sh, s->h, s->oh, &ylo, &yhi);
        for (kx = 0; kx < s->kw; kx++) {
            int off = kx - s->pw, t = ky * s->kw + kx;
            memset(lanes, 0, sizeof *lanes);
            mt_clip(off, s->sw, s->w, s->ow, &lo, &hi);
            for (oy = ylo; oy < yhi; oy++) {
                const float *xs = xp + (long)(oy * s->sh + ky - s->ph) * s->w
                                  + (long)lo * s->sw + off;
                long yo = (long)oy * s->ow + lo;
                if (nb == 4)
                    grad_row4(lanes, xs, s->sw, dy[0] + yo, dy[1] + yo, dy[2] + yo,
                              dy[3] + yo, hi - lo);
                else
                    grad_row1(lanes->l[0], xs, s->sw, dy[0] + yo, hi - lo);
            }
            for (k = 0; k < nb; k++)
                dw[k][t] += fold(lanes->l[k]);
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

MT_NOINLINE static void grad_rows(const mt_conv_shape *shape, const float *x, const float *dy,
                  float *dw, float *db, lanes4 *lanes)
{
    mt_conv_shape s = *shape;
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
                grad_plane(&s, xp, wt, dp, nb, lanes);
            }
        }
    }
}

/* Source plane geometry of a correlation: produced pixel (oy, ox), tap
 * (ky, kx) reads source (oy*sh - ph + ky, ox*sw - pw + kx), zero outside. */
typedef struct {
    int ih, iw, oh, ow, kh, kw, sh, sw, ph, pw;
} geom;

/* Short runs (a row of a small plane) are copied and cleared in line: a
 * memcpy / memset call per run costs more than the run. */
#if defined(__GNUC__) && !defined(__clang__)
#define MT_INLINE_RUNS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define MT_INLINE_RUNS
#endif

/* bt[j*bs] = source value of tap (ky, kx) for produced pixel q0 + j, j < cnt */
MT_INLINE_RUNS static void col_row(float *restrict bt, int bs, const float *restrict xp, const geom *G,
                    int ky, int kx, int oy, int ox, int cnt)
{
    int j = 0, lo, hi, u;
    if (G->sw == 1) {   /* mt_clip() without divisions */
        lo = G->pw - kx > 0 ? G->pw - kx : 0;
        hi = G->iw + G->pw - kx < G->ow ? G->iw + G->pw - kx : G->ow;
        if (hi < 0)
            hi = 0;
        if (lo > hi)
            lo = hi;
    } else {
        mt_clip(kx - G->pw, G->sw, G->iw, G->ow, &lo, &hi);
    }
    while (j < cnt) {
        int run = G->ow - ox, iy = oy * G->sh - G->ph + ky, e, a, b;
        float *o;
        if (run > cnt - j)
            run = cnt - j;
        e = ox + run;
        o = bt + (long)(j - ox) * bs;   /* o[u*bs] is produced column u */
        if (iy < 0 || iy >= G->ih) {
            for (u = ox; u < e; u++)
                o[(long)u * bs] = 0.0f;
        } else {
            long base = (long)iy * G->iw + kx - G->pw;
            a = lo > ox ? lo : ox;
            if (a > e)
                a = e;
            b = hi < e ? hi : e;
            if (b < a)
                b = a;
            for (u = ox; u < a; u++)
                o[(long)u * bs] = 0.0f;
            if (G->sw == 1 && bs == 1)
                for (u = a; u < b; u++)
                    o[u] = xp[base + u];
            else
                for (u = a; u < b; u++)
                    o[(long)u * bs] = xp[base + (long)u * G->sw];
            for (u = b; u < e; u++)
                o[(long)u * bs] = 0.0f;
        }
        j += run;
        oy++;
        ox = 0;
    }
}


/* Weights of one correlation: filter of (group g, produced channel oo,
 * source channel ii, tap t) is w[g*wg + oo*wso + ii*wsi + (flip ? kk-1-t : t)]. */
typedef struct {
    const float *w;
    long wg, wso, wsi;
    int flip;
    int scatter_order;   /* pairs in deriv_scatter's order (see pair_at) */
} wmap;

/* The scratch floats the minimum MT_CONV_SCRATCH_BYTES lays out as: the
 * column tile, then one chunk's weights for up to 4 produced channels and
 * its tap offsets. */
#define MIN_WEIGHTS (MCH * 4)

typedef char min_scratch_fits[TILE + MIN_WEIGHTS + MCH <= MT_CONV_SCRATCH_BYTES / 4 &&
                              sizeof(lanes4) <= MT_CONV_SCRATCH_BYTES ? 1 : -1];

/* Where one correlation keeps its gathered columns, packed weights and tap
 * offsets inside the arena scratch. */
typedef struct {
    float *tile;
    float *chunk_weights;
    int32_t *tap_offset;
} corr_scratch;

/* What every tile of one correlation shares. */
typedef struct {
    const geom *G;
    const wmap *W;
    int src_per_group, dst_per_group, taps;
    int pairs, chunk_pairs;      /* (source channel, tap) pairs per group; per chunk */
    long src_plane, dst_plane;
    int direct;                  /* 1x1 stride-1 unpadded: read source planes in place */
    int pack_rows;               /* produced channels per packed weight block (flip) */
    int wide;                    /* sized for a scratch beyond the minimum */
    long tile_pixels;            /* produced pixels per tile */
} corr_plan;

/* Fewest pixels per tile worth a wide chunk: fewer, and the C block is
 * reloaded too often for the longer K to pay. */
#define WIDE_MIN_PIXELS 32

/* Sizes chunks and tiles to the scratch (floats of it): the whole K of a
 * group in one chunk and the whole plane in one tile when they fit (large
 * scratch, Linux boards), else halves K, else the minimum layout (16 pairs,
 * 4 channels of weights: Cortex-M). Per output element the pairs still add
 * in ascending order, so the sizes change no bit. */
static void size_correlation(corr_plan *P, long floats, void *scratch, corr_scratch *S)
{
    int kc = P->pairs;
    long want = P->direct ? 0 : P->dst_plane < WIDE_MIN_PIXELS ? P->dst_plane : WIDE_MIN_PIXELS;
    for (; floats > MT_CONV_SCRATCH_BYTES / 4; kc = (kc + 1) / 2) {
        long weights = P->W->flip ? (long)kc * P->dst_per_group : 0;
        long rest = floats - weights - kc, pixels = P->direct ? P->dst_plane : rest / kc;
        if (rest < 0 || pixels < want) {
            if (kc <= MCH)
                break;
            continue;
        }
        P->chunk_pairs = kc;
        P->wide = 1;
        P->pack_rows = P->dst_per_group;
        P->tile_pixels = pixels >= P->dst_plane ? P->dst_plane : pixels & ~7L;
        S->tap_offset = (int32_t *)scratch;
        S->chunk_weights = (float *)scratch + kc;
        S->tile = S->chunk_weights + weights;
        return;
    }
    P->chunk_pairs = P->pairs < MCH ? P->pairs : MCH;
    P->wide = 0;
    P->pack_rows = 4;
    P->tile_pixels = P->direct ? P->dst_plane
                               : (long)(((floats - MIN_WEIGHTS - MCH) / P->chunk_pairs) & ~7L);
    S->tile = (float *)scratch;
    S->chunk_weights = S->tile + (floats - MIN_WEIGHTS - MCH);
    S->tap_offset = (int32_t *)(S->chunk_weights + MIN_WEIGHTS);
}

static corr_plan plan_correlation(const geom *G, const wmap *W, int groups, int sc, int dc,
                                  long floats, void *scratch, corr_scratch *S)
{
    corr_plan P;
    P.G = G;
    P.W = W;
    P.src_per_group = sc / groups;
    P.dst_per_group = dc / groups;
    P.taps = G->kh * G->kw;
    P.pairs = P.src_per_group * P.taps;
    P.src_plane = (long)G->ih * G->iw;
    P.dst_plane = (long)G->oh * G->ow;
    P.direct = P.taps == 1 && G->sh == 1 && G->sw == 1 && G->ph == 0 && G->pw == 0 &&
               G->oh == G->ih && G->ow == G->iw;
    size_correlation(&P, floats, scratch, S);
    return P;
}

/* Source channel and tap of pair k of a group. In the correlation's order
 * channels ascend, taps ascend within each. In deriv_scatter's order (stride
 * 1: a dx element adds oy ascending, i.e. flipped tap rows ascending, then kx
 * ascending, i.e. flipped tap columns descending, then the channels of a
 * block of 4) it is: blocks of 4 source channels, then single channels; per
 * block, flipped tap rows ascending, columns descending, channels of the
 * block innermost. */
static void pair_at(const corr_plan *P, int k, int *channel, int *tap)
{
    int kw = P->G->kw, blocks = P->src_per_group / 4, in_blocks = blocks * 4 * P->taps, t;
    if (!P->W->scatter_order) {
        *channel = k / P->taps;
        *tap = k % P->taps;
        return;
    }
    if (k < in_blocks) {
        int rest = k % (4 * P->taps);
        *channel = k / (4 * P->taps) * 4 + rest % 4;
        t = rest / 4;
    } else {
        *channel = blocks * 4 + (k - in_blocks) / P->taps;
        t = (k - in_blocks) % P->taps;
    }
    *tap = t / kw * kw + (kw - 1 - t % kw);
}

/* Tap offsets of the chunk's pairs [first_pair, first_pair + n_pairs) and,
 * unless direct, their source columns for the tile's `count` pixels from q0. */
static void gather_chunk(const corr_plan *P, const float *src_group, int first_pair, int n_pairs,
                         long q0, int count, const corr_scratch *S)
{
    const geom *G = P->G;
    int oy0 = (int)(q0 / G->ow), ox0 = (int)(q0 % G->ow), pair, channel, tap, ky, kx;
    pair_at(P, first_pair, &channel, &tap);
    ky = tap / G->kw;
    kx = tap % G->kw;
    for (pair = 0; pair < n_pairs; pair++) {
        if (P->W->scatter_order && pair > 0) {
            pair_at(P, first_pair + pair, &channel, &tap);
            ky = tap / G->kw;
            kx = tap % G->kw;
        }
        S->tap_offset[pair] = (int32_t)(channel * P->W->wsi +
                                        (P->W->flip ? P->taps - 1 - tap : tap));
        if (!P->direct)
            col_row(S->tile + (long)pair * count, 1, src_group + (long)channel * P->src_plane,
                    G, ky, kx, oy0, ox0, count);
        if (!P->W->scatter_order) {   /* the next pair in the correlation's order, no divisions */
            tap++;
            if (++kx == G->kw) {
                kx = 0;
                ky++;
            }
            if (tap == P->taps) {
                tap = ky = 0;
                channel++;
            }
        }
    }
}

/* chunk_weights[pair * rows + r] = weight of produced channel first_out + r for each pair. */
static void load_chunk_weights(const corr_plan *P, const float *w_group, int first_out, int rows,
                               int n_pairs, const corr_scratch *S)
{
    int r, pair;
    for (r = 0; r < rows; r++) {
        const float *filter = w_group + (long)(first_out + r) * P->W->wso;
        for (pair = 0; pair < n_pairs; pair++)
            S->chunk_weights[pair * rows + r] = filter[S->tap_offset[pair]];
    }
}

/* dst rows (rows of them, ld apart) += A x columns (GEMM order 1), with the
 * weight of row r and chunk pair k at a[k*ak + r*ar]. */
MT_NOINLINE static void accumulate_rows(float *dst, long ld, const float *cols, long cols_stride,
                                        const float *a, long ak, long ar, int rows,
                                        int n_pairs, int count)
{
    mt_gemm_acc_args g;
    g.c = dst; g.ldc = ld;
    g.a = a; g.ak = ak; g.ar = ar;
    g.b = cols; g.ldb = cols_stride;
    g.rows = rows; g.cols = count; g.kn = n_pairs; g.from_c = 1;
    mt_gemm_acc(&g);
}

/* One tile of `count` produced pixels from q0, summed chunk by chunk of pairs. */
MT_NOINLINE static void correlate_tile(const corr_plan *P, const float *src_group, float *dst_group,
                           const float *w_group, long q0, int count, const corr_scratch *S)
{
    int first_pair, first_out, rows;
    for (first_pair = 0; first_pair < P->pairs; first_pair += P->chunk_pairs) {
        int n_pairs = P->pairs - first_pair < P->chunk_pairs ? P->pairs - first_pair : P->chunk_pairs;
        const float *cols = P->direct ? src_group + (long)first_pair * P->src_plane + q0 : S->tile;
        long cols_stride = P->direct ? P->src_plane : count;
        gather_chunk(P, src_group, first_pair, n_pairs, q0, count, S);
        if (!P->W->flip) {   /* pair k's weights are contiguous: filter[first_pair + k] */
            accumulate_rows(dst_group + q0, P->dst_plane, cols, cols_stride,
                            w_group + first_pair, 1, P->W->wso, P->dst_per_group, n_pairs, count);
            continue;
        }
        for (first_out = 0; first_out < P->dst_per_group; first_out += rows) {
            int left = P->dst_per_group - first_out;
            rows = left >= P->pack_rows ? P->pack_rows : left >= 4 ? 4 : left >= 2 ? 2 : 1;
            load_chunk_weights(P, w_group, first_out, rows, n_pairs, S);
            accumulate_rows(dst_group + (long)first_out * P->dst_plane + q0, P->dst_plane, cols,
                            cols_stride, S->chunk_weights, rows, 1, rows, n_pairs, count);
        }
    }
}

/* ---- stride-1 correlation as an implicit GEMM (large scratch only) ----
 * The source planes of a group are copied once into zero-padded planes
 * (oh + kh - 1) x wp, wp = ow + kw - 1; then the source value of tap (ky, kx)
 * under produced pixel (oy, ox) is padded[(oy + ky) * wp + ox + kx], so the
 * produced plane, laid out wp wide (columns ow..wp-1 computed and dropped),
 * is one GEMM whose B row for pair (channel, tap) is a pointer into the
 * padded planes: no gathered columns. Same pairs, same order, same bits. */

typedef struct {
    const float **brows;   /* B row per pair */
    float *weights;        /* A: pair-major, dst_per_group per pair */
    float *padded;         /* src_per_group padded planes */
    float *grid;           /* C: dst_per_group rows of grid_ld >= oh * wp */
    long padded_plane, grid_cols, grid_ld;
    int wp;
} implicit_scratch;

#define GRID_ALIGN 8

/* Floats the B row pointers take (one more for aligning them). */
static long pointer_floats(const corr_plan *P)
{
    return ((long)P->pairs * (long)sizeof(void *) + 3) / 4 + 1;
}

/* Floats after the last padded plane that the dropped columns of the last
 * grid row read (kept zero). */
static long padded_slack(const implicit_scratch *I, const geom *G)
{
    return G->kw - 1 + (I->grid_ld - I->grid_cols);
}

/* Sizes the implicit GEMM (I's plane and grid sizes); 0 when it does not
 * fit in `floats` of scratch. */
static int implicit_fits(const corr_plan *P, long floats, implicit_scratch *I)
{
    const geom *G = P->G;
    I->wp = (G->ow - 1) * G->sw + G->kw;   /* ow + kw - 1 at stride 1 */
    I->padded_plane = (long)((G->oh - 1) * G->sh + G->kh) * I->wp;
    I->grid_cols = (long)G->oh * I->wp;
    /* whole vectors per grid row: the extra columns are dropped too */
    I->grid_ld = (I->grid_cols + GRID_ALIGN - 1) / GRID_ALIGN * GRID_ALIGN;
    return G->sh == 1 && G->sw == 1 && !P->direct &&
           pointer_floats(P) + (long)P->pairs * P->dst_per_group +
           P->src_per_group * I->padded_plane + padded_slack(I, G) +
           P->dst_per_group * I->grid_ld <= floats;
}

/* Lays the implicit GEMM out in the scratch; 0 when it does not fit. */
static int plan_implicit(const corr_plan *P, void *scratch, long floats, implicit_scratch *I)
{
    uintptr_t at = ((uintptr_t)scratch + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    if (!implicit_fits(P, floats, I))
        return 0;
    I->brows = (const float **)at;
    I->weights = (float *)scratch + pointer_floats(P);
    I->padded = I->weights + (long)P->pairs * P->dst_per_group;
    I->grid = I->padded + P->src_per_group * I->padded_plane + padded_slack(I, P->G);
    return 1;
}

/* padded planes of the group's source channels (zero outside the source),
 * then the zero slack */
MT_INLINE_RUNS static void pad_planes(const corr_plan *P, const float *src_group,
                                      const implicit_scratch *I)
{
    const geom *G = P->G;
    int channel, py, px, hp = (G->oh - 1) * G->sh + G->kh;
    int left = G->pw < I->wp ? G->pw : I->wp;                    /* zero columns */
    int right = G->iw + G->pw < I->wp ? G->iw + G->pw : I->wp;   /* end of the copy */
    long i, slack = padded_slack(I, G);
    float *end;
    for (channel = 0; channel < P->src_per_group; channel++) {
        const float *plane = src_group + channel * P->src_plane;
        float *out = I->padded + channel * I->padded_plane;
        for (py = 0; py < hp; py++) {
            int iy = py - G->ph;
            float *row = out + (long)py * I->wp;
            const float *in = plane + (long)iy * G->iw - G->pw;
            if (iy < 0 || iy >= G->ih) {
                for (px = 0; px < I->wp; px++)
                    row[px] = 0.0f;
                continue;
            }
            for (px = 0; px < left; px++)
                row[px] = 0.0f;
            for (; px < right; px++)
                row[px] = in[px];
            for (; px < I->wp; px++)
                row[px] = 0.0f;
        }
    }
    end = I->padded + P->src_per_group * I->padded_plane;
    for (i = 0; i < slack; i++)
        end[i] = 0.0f;
}

/* grid <-> dst rows: to_grid copies dst in (dropped columns zero); else back. */
MT_INLINE_RUNS static void grid_copy(const corr_plan *P, float *dst_group,
                                     const implicit_scratch *I, int to_grid)
{
    const geom *G = P->G;
    int r, oy, ox;
    for (r = 0; r < P->dst_per_group; r++)
        for (oy = 0; oy < G->oh; oy++) {
            float *d = dst_group + r * P->dst_plane + (long)oy * G->ow;
            float *g = I->grid + r * I->grid_ld + (long)oy * I->wp;
            if (to_grid) {
                for (ox = 0; ox < G->ow; ox++)
                    g[ox] = d[ox];
                for (; ox < I->wp; ox++)
                    g[ox] = 0.0f;
                if (oy == G->oh - 1)   /* the row's whole-vector tail */
                    for (ox = I->wp; ox < I->wp + I->grid_ld - I->grid_cols; ox++)
                        g[ox] = 0.0f;
            } else {
                for (ox = 0; ox < G->ow; ox++)
                    d[ox] = g[ox];
            }
        }
}

/* The B row pointers and packed weights of a group (the same for every
 * sample). */
static void pack_implicit(const corr_plan *P, const float *w_group, const implicit_scratch *I)
{
    const geom *G = P->G;
    int k, r, channel, tap;
    for (k = 0; k < P->pairs; k++) {
        pair_at(P, k, &channel, &tap);
        I->brows[k] = I->padded + channel * I->padded_plane + (long)(tap / G->kw) * I->wp +
                      tap % G->kw;
        tap = (int)(channel * P->W->wsi + (P->W->flip ? P->taps - 1 - tap : tap));
        for (r = 0; r < P->dst_per_group; r++)
            I->weights[(long)k * P->dst_per_group + r] = w_group[r * P->W->wso + tap];
    }
}

/* One sample's group, its weights packed. */
static void correlate_implicit(const corr_plan *P, const float *src_group, float *dst_group,
                               const implicit_scratch *I)
{
    mt_gemm_rows_args g;
    pad_planes(P, src_group, I);
    grid_copy(P, dst_group, I, 1);
    g.c = I->grid; g.ldc = I->grid_ld;
    g.a = I->weights; g.ak = P->dst_per_group; g.ar = 1;
    g.brows = I->brows;
    g.rows = P->dst_per_group; g.cols = (int)I->grid_ld;
    g.kn = P->pairs; g.from_c = 1;
    mt_gemm_acc_rows(&g);
    grid_copy(P, dst_group, I, 0);
}

/* Which plans correlate() may take. */
enum { ANY_PLAN, WIDE_ONLY, IMPLICIT_ONLY };

/* dst (dc channels, pre-initialized) += correlation of src (sc channels).
 * Returns 0, touching nothing, when the scratch is too small for the plans
 * `allowed` admits. */
/* Every sample and group of the correlation as implicit GEMMs; 0, touching
 * nothing, when they do not fit the scratch. Its own frame: a small stack on
 * Cortex-M, which never takes this path. */
MT_NOINLINE static int correlate_implicit_all(const corr_plan *P, int n, int groups,
                                              const float *src, int sc, float *dst, int dc,
                                              void *scratch, long floats)
{
    implicit_scratch I;
    int sample, group;
    if (!plan_implicit(P, scratch, floats, &I))
        return 0;
    for (group = 0; group < groups; group++) {
        pack_implicit(P, P->W->w + (long)group * P->W->wg, &I);
        for (sample = 0; sample < n; sample++)
            correlate_implicit(P, src + ((long)sample * sc + (long)group * P->src_per_group) * P->src_plane,
                               dst + ((long)sample * dc + (long)group * P->dst_per_group) * P->dst_plane,
                               &I);
    }
    return 1;
}

static int correlate(const geom *G, int n, int groups, const float *src, int sc,
                     float *dst, int dc, const wmap *W, void *scratch, long floats, int allowed)
{
    corr_scratch S;
    corr_plan P = plan_correlation(G, W, groups, sc, dc, floats, scratch, &S);
    int sample, group;
    long q0;
    if (floats > MT_CONV_SCRATCH_BYTES / 4 &&
        correlate_implicit_all(&P, n, groups, src, sc, dst, dc, scratch, floats))
        return 1;
    if ((allowed == WIDE_ONLY && !P.wide) || allowed == IMPLICIT_ONLY)
        return 0;
    for (sample = 0; sample < n; sample++)
        for (group = 0; group < groups; group++) {
            const float *src_group = src + ((long)sample * sc + (long)group * P.src_per_group) * P.src_plane;
            float *dst_group = dst + ((long)sample * dc + (long)group * P.dst_per_group) * P.dst_plane;
            for (q0 = 0; q0 < P.dst_plane; q0 += P.tile_pixels) {
                long left = P.dst_plane - q0;
                correlate_tile(&P, src_group, dst_group, W->w + (long)group * W->wg, q0,
                               (int)(left < P.tile_pixels ? left : P.tile_pixels), &S);
            }
        }
    return 1;
}

static geom fwd_geom(const mt_conv_shape *s)
{
    geom G;
    G.ih = s->h; G.iw = s->w; G.oh = s->oh; G.ow = s->ow;
    G.kh = s->kh; G.kw = s->kw; G.sh = s->sh; G.sw = s->sw;
    G.ph = s->ph; G.pw = s->pw;
    return G;
}

/* Usable floats of a scratch of `bytes` (never below the minimum). */
static long scratch_floats(uint32_t bytes)
{
    return (long)(bytes < MT_CONV_SCRATCH_BYTES ? MT_CONV_SCRATCH_BYTES : bytes) / 4;
}

/* Whether the forward correlation of s fits the implicit GEMM in the scratch
 * (the layout only: no scratch byte is touched). */
MT_NOINLINE static int fits_implicit(const mt_conv_shape *s, const geom *G, const wmap *W,
                                     uint32_t bytes)
{
    corr_plan P;
    implicit_scratch I;
    P.G = G;
    P.W = W;
    P.src_per_group = s->c / s->groups;
    P.dst_per_group = s->oc / s->groups;
    P.taps = G->kh * G->kw;
    P.pairs = P.src_per_group * P.taps;
    P.direct = P.taps == 1 && G->sh == 1 && G->sw == 1 && G->ph == 0 && G->pw == 0 &&
               G->oh == G->ih && G->ow == G->iw;
    return implicit_fits(&P, scratch_floats(bytes), &I);
}

void mt_conv_fwd_sized(const mt_conv_shape *s, const float *x, const float *w,
                       const float *b, float *y, void *scratch, uint32_t scratch_bytes)
{
    geom G = fwd_geom(s);
    int cpg = s->c / s->groups, opg = s->oc / s->groups, kk = s->kh * s->kw;
    long pout = (long)s->oh * s->ow;
    wmap W;
    int n, o, depthwise = cpg == 1 && opg < 4;
    W.w = w;
    W.wg = (long)opg * cpg * kk;
    W.wso = (long)cpg * kk;
    W.wsi = kk;
    W.flip = 0;
    W.scatter_order = 0;
    /* depthwise: a gathered column would feed too few filters, so row-wise
     * axpys, unless the scratch holds the implicit GEMM (same order: bias,
     * then the taps ascending) */
    if (depthwise && !(scratch_bytes > MT_CONV_SCRATCH_BYTES && fits_implicit(s, &G, &W,
                                                                             scratch_bytes))) {
        fwd_rows(s, x, w, b, y);
        return;
    }
    for (n = 0; n < s->n; n++)
        for (o = 0; o < s->oc; o++) {
            float *yp = y + ((long)n * s->oc + o) * pout, bias = b ? b[o] : 0.0f;
            long j;
            for (j = 0; j < pout; j++)
                yp[j] = bias;
        }
    correlate(&G, s->n, s->groups, x, s->c, y, s->oc, &W, scratch, scratch_floats(scratch_bytes),
              ANY_PLAN);
}

void mt_conv_deriv_sized(const mt_conv_shape *s, const float *dy, const float *w, float *dx,
                         void *scratch, uint32_t scratch_bytes)
{
    memset(dx, 0, sizeof(float) * (size_t)s->n * (size_t)s->c * (size_t)s->h * (size_t)s->w);
    mt_conv_deriv_continue_sized(s, dy, w, dx, scratch, scratch_bytes);
}

/* dx += the derivative's terms, each dx element continuing its sum (the
 * order above, resumed: tiles by output channels, mt_kernels_tile_conv.c). */
void mt_conv_deriv_continue_sized(const mt_conv_shape *s, const float *dy, const float *w,
                                  float *dx, void *scratch, uint32_t scratch_bytes)
{
    int cpg = s->c / s->groups, opg = s->oc / s->groups, kk = s->kh * s->kw;
    int scatter = s->sh != 1 || s->sw != 1 || cpg < 4 || kk > 9;
    geom G;
    wmap W;
    /* dx = correlation of dy with the flipped filters, channels swapped */
    G.ih = s->oh; G.iw = s->ow; G.oh = s->h; G.ow = s->w;
    G.kh = s->kh; G.kw = s->kw; G.sh = 1; G.sw = 1;
    G.ph = s->kh - 1 - s->ph; G.pw = s->kw - 1 - s->pw;
    W.w = w;
    W.wg = (long)opg * cpg * kk;
    W.wso = kk;
    W.wsi = (long)cpg * kk;
    W.flip = 1;
    W.scatter_order = scatter;
    /* Few channels per group or large (mostly padded) filters: the scatter
     * order, which the scatter, skipping padding, computes cheaper in the
     * minimum scratch; a stride-1 one runs as a wide correlation in that
     * same order when the scratch allows (the skipped terms are exact zeros). */
    if (scatter && (s->sh != 1 || s->sw != 1 ||
                    !correlate(&G, s->n, s->groups, dy, s->oc, dx, s->c, &W, scratch,
                               scratch_floats(scratch_bytes), WIDE_ONLY))) {
        deriv_scatter(s, dy, w, dx);
        return;
    }
    if (!scatter)
        correlate(&G, s->n, s->groups, dy, s->oc, dx, s->c, &W, scratch,
                  scratch_floats(scratch_bytes), ANY_PLAN);
}

void mt_conv_fwd(const mt_conv_shape *s, const float *x, const float *w,
                 const float *b, float *y, void *scratch)
{
    mt_conv_fwd_sized(s, x, w, b, y, scratch, MT_CONV_SCRATCH_BYTES);
}

void mt_conv_deriv(const mt_conv_shape *s, const float *dy, const float *w, float *dx,
                   void *scratch)
{
    mt_conv_deriv_sized(s, dy, w, dx, scratch, MT_CONV_SCRATCH_BYTES);
}

/* ---- weight gradient ---- */

/* dw_r[u] += sum_k A(r, k) * B[k*ldb + u] for every filter r of the group,
 * u < mc, k ascending (GEMM order 1), with A(r, k) = a[k*ak + r*ar]. */
MT_NOINLINE static void grad_chunk(float *dw, long ld, const float *a, long ak, long ar,
                                   int filters, const float *B, long ldb, int cnt, int mc)
{
    mt_gemm_acc_args g;
    g.c = dw; g.ldc = ld;
    g.a = a; g.ak = ak; g.ar = ar;
    g.b = B; g.ldb = ldb;
    g.rows = filters; g.cols = mc; g.kn = cnt; g.from_c = 1;
    mt_gemm_acc(&g);
}

/* B[j*ldb + u] = input of (channel, tap) pair m0 + u under pixel q0 + j of
 * one sample's group xg, u < mc, j < cnt (transposed im2col). */
static void grad_columns(const mt_conv_shape *s, const geom *G, const float *xg, float *B,
                         long ldb, int m0, int mc, long q0, int cnt)
{
    int kk = s->kh * s->kw, ii = m0 / kk, t = m0 % kk, mm;
    int oy0 = (int)(q0 / s->ow), ox0 = (int)(q0 % s->ow);
    long pin = (long)s->h * s->w;
    for (mm = 0; mm < mc; mm++) {
        col_row(B + mm, (int)ldb, xg + (long)ii * pin, G, t / s->kw, t % s->kw, oy0, ox0, cnt);
        if (++t == kk) {
            t = 0;
            ii++;
        }
    }
}

/* Minimum scratch: per sample, tiles of qmax pixels x GW pair columns
 * (padded with zero columns), dy read in place. */
static void grad_narrow(const mt_conv_shape *s, const float *x, const float *dy, float *dw,
                        float *B, long floats)
{
    geom G = fwd_geom(s);
    int cpg = s->c / s->groups, opg = s->oc / s->groups, kk = s->kh * s->kw;
    int mt = cpg * kk, qmax = (int)((floats - MIN_WEIGHTS - MCH) / GW);
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow;
    int n, g;
    for (n = 0; n < s->n; n++) {
        for (g = 0; g < s->groups; g++) {
            const float *xg = x + ((long)n * s->c + (long)g * cpg) * pin;
            const float *dyg = dy + ((long)n * s->oc + (long)g * opg) * pout;
            float *dwg = dw + (long)g * opg * mt;
            long q0;
            for (q0 = 0; q0 < pout; q0 += qmax) {
                int cnt = (int)(pout - q0 < qmax ? pout - q0 : qmax), m0;
                for (m0 = 0; m0 < mt; m0 += GW) {
                    int mc = mt - m0 < GW ? mt - m0 : GW, mm, j;
                    grad_columns(s, &G, xg, B, GW, m0, mc, q0, cnt);
                    for (mm = mc; mm < GW; mm++)
                        for (j = 0; j < cnt; j++)
                            B[j * GW + mm] = 0.0f;
                    grad_chunk(dwg + m0, mt, dyg + q0, 1, pout, opg, B, GW, cnt, mc);
                }
            }
        }
    }
}

/* The forward correlation's geometry, as both wide weight-gradient paths
 * walk it: (input channel, tap) pairs of every group, no weights mapped. */
static void plan_weight_gradient_pairs(const mt_conv_shape *s, corr_plan *P, geom *G, wmap *W)
{
    *G = fwd_geom(s);
    W->w = 0; W->wg = W->wso = W->wsi = 0; W->flip = W->scatter_order = 0;
    P->G = G; P->W = W;
    P->src_per_group = s->c / s->groups; P->dst_per_group = s->oc / s->groups;
    P->taps = s->kh * s->kw; P->pairs = P->src_per_group * P->taps;
    P->src_plane = (long)s->h * s->w; P->dst_plane = (long)s->oh * s->ow;
}

/* The wide gradient's scratch: the transposed im2col B (cnt x mt), dy
 * packed position-major (cnt x opg), one sample's group of padded input
 * planes (as the implicit correlation's, any stride) and the pair offsets
 * into them. */
typedef struct {
    long cnt;              /* positions per chunk; 0: does not fit */
    float *cols, *dy;
    int32_t *offset;
    corr_plan P;           /* the forward correlation's geometry */
    geom G;
    wmap W;
    implicit_scratch I;
} grad_scratch;

static void plan_grad_wide(const mt_conv_shape *s, void *scratch, long floats, grad_scratch *S)
{
    int cpg = s->c / s->groups, opg = s->oc / s->groups, mt = cpg * s->kh * s->kw;
    long all = (long)s->n * s->oh * s->ow, fixed;
    plan_weight_gradient_pairs(s, &S->P, &S->G, &S->W);
    S->I.wp = (s->ow - 1) * s->sw + s->kw;
    S->I.padded_plane = (long)((s->oh - 1) * s->sh + s->kh) * S->I.wp;
    S->I.grid_cols = S->I.grid_ld = 0;
    fixed = cpg * S->I.padded_plane + padded_slack(&S->I, &S->G) + mt;
    S->cnt = floats <= MT_CONV_SCRATCH_BYTES / 4 ? 0 : (floats - fixed) / (mt + opg);
    if (S->cnt < (all < WIDE_MIN_PIXELS ? all : WIDE_MIN_PIXELS)) {
        S->cnt = 0;
        return;
    }
    if (S->cnt > all)
        S->cnt = all;
    S->cols = (float *)scratch;
    S->dy = S->cols + S->cnt * mt;
    S->I.padded = S->dy + S->cnt * opg;
    S->offset = (int32_t *)(S->I.padded + cpg * S->I.padded_plane + padded_slack(&S->I, &S->G));
}

/* Rows of the transposed im2col for `len` pixels of one sample from q: row
 * j, column m = padded value of pair m under pixel q + j. */
static void grad_rows_from_padded(const mt_conv_shape *s, const grad_scratch *S, float *B,
                                  long q, long len)
{
    int mt = S->P.pairs, m;
    long j;
    for (j = 0; j < len; j++) {
        long oy = (q + j) / s->ow, ox = (q + j) % s->ow;
        const float *base = S->I.padded + oy * s->sh * S->I.wp + ox * s->sw;
        float *row = B + j * mt;
        for (m = 0; m < mt; m++)
            row[m] = base[S->offset[m]];
    }
}

/* Large scratch: chunks of cnt consecutive (sample, pixel) positions, which
 * may span samples, with every pair column at once: B is the transposed
 * im2col (cnt x mt), gathered from padded planes, and dy is packed
 * position-major (cnt x opg) next to it, so one GEMM of opg x mt x cnt per
 * chunk. Positions still add in ascending (sample, pixel) order, as in
 * grad_narrow. */
MT_NOINLINE static void grad_wide(const mt_conv_shape *s, const float *x, const float *dy, float *dw,
                      grad_scratch *S)
{
    int cpg = s->c / s->groups, opg = s->oc / s->groups, kk = s->kh * s->kw;
    int mt = cpg * kk, g, r, m;
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow, all = (long)s->n * pout, k0;
    long cnt = S->cnt, padded_sample = -1;
    for (m = 0; m < mt; m++)
        S->offset[m] = (int32_t)(m / kk * S->I.padded_plane + (m % kk) / s->kw * S->I.wp +
                                 m % s->kw);
    for (g = 0; g < s->groups; g++) {
        float *dwg = dw + (long)g * opg * mt;
        padded_sample = -1;
        for (k0 = 0; k0 < all; k0 += cnt) {
            long k = k0, end = k0 + cnt < all ? k0 + cnt : all;
            while (k < end) {
                long n = k / pout, q = k % pout, len = pout - q < end - k ? pout - q : end - k, j;
                const float *dyg = dy + (n * s->oc + (long)g * opg) * pout + q;
                float *a = S->dy + (k - k0) * opg;
                if (n != padded_sample) {
                    pad_planes(&S->P, x + (n * s->c + (long)g * cpg) * pin, &S->I);
                    padded_sample = n;
                }
                grad_rows_from_padded(s, S, S->cols + (k - k0) * mt, q, len);
                for (r = 0; r < opg; r++)
                    for (j = 0; j < len; j++)
                        a[j * opg + r] = dyg[(long)r * pout + j];
                k += len;
            }
            grad_chunk(dwg, mt, S->dy, opg, 1, opg, S->cols, mt, (int)(end - k0), mt);
        }
    }
}

/* ---- stride-1 weight gradient as an implicit GEMM (large scratch only) ----
 * dw^T (pairs x filters) += A x B over the positions of each sample's padded
 * grid (oh x wp, as the implicit correlation's): A's row for pair (channel,
 * tap) is a pointer into the sample's zero-padded input planes, B holds dy
 * position-major with zeros under the dropped grid columns and past the
 * filters (whole 8-float rows). Per dw element the products still add in
 * ascending (sample, pixel) order; the extra ones are dy = 0 products, exact
 * zeros that change no finite sum (a sum of products is never -0 here). */
#define FILTER_ALIGN 8

typedef struct {
    const float **arows;
    float *dwt, *b;
    implicit_scratch I;
    corr_plan P;
    geom G;
    wmap W;
    int filters_ld;   /* filters per B / dw^T row, rounded up to FILTER_ALIGN */
} grad_implicit_scratch;

static int plan_grad_implicit(const mt_conv_shape *s, void *scratch, long floats,
                              grad_implicit_scratch *S)
{
    int cpg = s->c / s->groups, opg = s->oc / s->groups, mt = cpg * s->kh * s->kw;
    uintptr_t at = ((uintptr_t)scratch + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    long need;
    if (s->sh != 1 || s->sw != 1 || floats <= MT_CONV_SCRATCH_BYTES / 4)
        return 0;
    plan_weight_gradient_pairs(s, &S->P, &S->G, &S->W);
    S->I.wp = s->ow + s->kw - 1;
    S->I.padded_plane = (long)(s->oh + s->kh - 1) * S->I.wp;
    S->I.grid_cols = S->I.grid_ld = (long)s->oh * S->I.wp;
    S->filters_ld = (opg + FILTER_ALIGN - 1) / FILTER_ALIGN * FILTER_ALIGN;
    need = pointer_floats(&S->P) + (long)mt * S->filters_ld + cpg * S->I.padded_plane +
           padded_slack(&S->I, &S->G) + S->I.grid_cols * S->filters_ld;
    if (need > floats)
        return 0;
    S->arows = (const float **)at;
    S->dwt = (float *)scratch + pointer_floats(&S->P);
    S->I.padded = S->dwt + (long)mt * S->filters_ld;
    S->b = S->I.padded + cpg * S->I.padded_plane + padded_slack(&S->I, &S->G);
    return 1;
}

/* dw += the implicit GEMM of every sample, group by group. */
MT_NOINLINE MT_INLINE_RUNS static void grad_implicit(const mt_conv_shape *s, const float *x, const float *dy,
                                         float *dw, grad_implicit_scratch *S)
{
    int cpg = s->c / s->groups, opg = s->oc / s->groups, kk = s->kh * s->kw, mt = cpg * kk;
    int fl = S->filters_ld, g, n, m, o, oy, ox;
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow, i;
    mt_gemm_arows_args ga;
    for (m = 0; m < mt; m++)
        S->arows[m] = S->I.padded + m / kk * S->I.padded_plane + (m % kk) / s->kw * S->I.wp +
                      m % s->kw;
    ga.c = S->dwt; ga.ldc = fl;
    ga.arows = S->arows;
    ga.b = S->b; ga.ldb = fl;
    ga.rows = mt; ga.cols = fl; ga.kn = (int)S->I.grid_cols; ga.from_c = 1;
    for (i = 0; i < S->I.grid_cols * fl; i++)   /* dropped columns, padding filters */
        S->b[i] = 0.0f;
    for (g = 0; g < s->groups; g++) {
        for (m = 0; m < mt; m++)   /* continue from dw; padding filters start at zero */
            for (o = 0; o < fl; o++)
                S->dwt[(long)m * fl + o] = o < opg ? dw[((long)g * opg + o) * mt + m] : 0.0f;
        for (n = 0; n < s->n; n++) {
            const float *dyg = dy + ((long)n * s->oc + (long)g * opg) * pout;
            pad_planes(&S->P, x + ((long)n * s->c + (long)g * cpg) * pin, &S->I);
            for (oy = 0; oy < s->oh; oy++)   /* filters innermost: contiguous stores */
                for (ox = 0; ox < s->ow; ox++) {
                    float *row = S->b + ((long)oy * S->I.wp + ox) * fl;
                    const float *at = dyg + (long)oy * s->ow + ox;
                    for (o = 0; o < opg; o++)
                        row[o] = at[(long)o * pout];
                }
            mt_gemm_acc_arows(&ga);
        }
        for (o = 0; o < opg; o++)
            for (m = 0; m < mt; m++)
                dw[((long)g * opg + o) * mt + m] = S->dwt[(long)m * fl + o];
    }
}

/* The planned-scratch gradients, each with its plan in its own frame (a
 * small stack on Cortex-M, which never takes them); 0 when they do not fit. */
MT_NOINLINE static int grad_try_implicit(const mt_conv_shape *s, const float *x,
                                         const float *dy, float *dw, void *scratch, long floats)
{
    grad_implicit_scratch S;
    if (!plan_grad_implicit(s, scratch, floats, &S))
        return 0;
    grad_implicit(s, x, dy, dw, &S);
    return 1;
}

MT_NOINLINE static int grad_try_wide(const mt_conv_shape *s, const float *x, const float *dy,
                                     float *dw, void *scratch, long floats)
{
    grad_scratch S;
    plan_grad_wide(s, scratch, floats, &S);
    if (!S.cnt)
        return 0;
    grad_wide(s, x, dy, dw, &S);
    return 1;
}

void mt_conv_grad_sized(const mt_conv_shape *s, const float *x, const float *dy,
                        float *dw, float *db, void *scratch, uint32_t scratch_bytes)
{
    int cpg = s->c / s->groups, opg = s->oc / s->groups, kk = s->kh * s->kw;
    if (cpg == 1 && opg < 4) {   /* depthwise: row-wise lanes, as fwd */
        grad_rows(s, x, dy, dw, db, (lanes4 *)scratch);
        return;
    }
    memset(dw, 0, sizeof(float) * (size_t)s->oc * (size_t)cpg * (size_t)kk);
    if (db)
        mt_conv_bias_grad(s, dy, db);
    mt_conv_grad_continue_sized(s, x, dy, dw, scratch, scratch_bytes);
}

void mt_conv_bias_grad(const mt_conv_shape *s, const float *dy, float *db)
{
    long pout = (long)s->oh * s->ow;
    int n, o;
    memset(db, 0, sizeof(float) * (size_t)s->oc);
    for (n = 0; n < s->n; n++)
        for (o = 0; o < s->oc; o++)
            db[o] += plane_sum(dy + ((long)n * s->oc + o) * pout, pout);
}

/* dw += the weight gradient's terms (dense or grouped, not depthwise), each
 * dw element continuing its sum over (n, oy, ox) ascending: every path
 * accumulates into dw (from_c), so later samples resume earlier ones. */
void mt_conv_grad_continue_sized(const mt_conv_shape *s, const float *x, const float *dy,
                                 float *dw, void *scratch, uint32_t scratch_bytes)
{
    long floats = scratch_floats(scratch_bytes);
    if (floats > MT_CONV_SCRATCH_BYTES / 4 &&
        (grad_try_implicit(s, x, dy, dw, scratch, floats) ||
         grad_try_wide(s, x, dy, dw, scratch, floats)))
        return;
    grad_narrow(s, x, dy, dw, (float *)scratch, floats);
}

void mt_conv_grad(const mt_conv_shape *s, const float *x, const float *dy,
                  float *dw, float *db, void *scratch)
{
    mt_conv_grad_sized(s, x, dy, dw, db, scratch, MT_CONV_SCRATCH_BYTES);
}
