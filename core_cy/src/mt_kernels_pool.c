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


/* First maximum in row-major window order wins; any NaN wins (the last
 * one, exactly as PyTorch's CPU loop). A window lying entirely in padding yields 0 with idx -1. */
void mt_maxpool_fwd(const mt_pool_shape *s, const float *x, float *y, int32_t *idx)
{
    long pin = (long)s->h * s->w, pout = (long)s->oh * s->ow;
    long p;
    int oy, ox, iy, ix, y0, y1, x0, x1;
    for (p = 0; p < (long)s->n * s->c; p++) {
        const float *xp = x + p * pin;
        float *yp = y + p * pout;
        int32_t *ip = idx + p * pout;
        for (oy = 0; oy < s->oh; oy++) {
            window(oy, s->sh, s->ph, s->kh, s->h, &y0, &y1);
            for (ox = 0; ox < s->ow; ox++) {
                float best = -INFINITY;
                int32_t bi = -1;
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
                yp[oy * s->ow + ox] = bi < 0 ? 0.0f : best;
                ip[oy * s->ow + ox] = bi;
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
