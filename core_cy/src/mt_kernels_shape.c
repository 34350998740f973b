/* Data movement layers (NNTrainer concat, permute, upsample2d nearest):
 * pure copies and, for upsample's derivative, block sums. */
#include <string.h>
#include "mt_kernels.h"

/* Y row o = [X1 row o (n[0] floats), X2 row o (n[1]), ...] for o < outer. */
void mt_concat(float *y, const float *const *xs, const int32_t *n, int k, int outer)
{
    int o, i;
    for (o = 0; o < outer; o++)
        for (i = 0; i < k; i++) {
            memcpy(y, xs[i] + (long)o * n[i], sizeof(float) * (size_t)n[i]);
            y += n[i];
        }
}

/* The inverse: dX_i row o = its segment of dY row o; a NULL dX_i is skipped. */
void mt_concat_deriv(const float *dy, float *const *dxs, const int32_t *n, int k, int outer)
{
    int o, i;
    for (o = 0; o < outer; o++)
        for (i = 0; i < k; i++) {
            if (dxs[i])
                memcpy(dxs[i] + (long)o * n[i], dy, sizeof(float) * (size_t)n[i]);
            dy += n[i];
        }
}

/* Y[b][i][j][l] = X[b * D0 D1 D2 + i s0 + j s1 + l s2]: Y's dims d[0..2],
 * X's strides s[0..2] taken in Y's axis order. */
void mt_permute(const float *x, float *y, int batch, const int32_t *d, const int32_t *s)
{
    long numel = (long)d[0] * d[1] * d[2];
    int b, i, j, l;
    for (b = 0; b < batch; b++) {
        const float *xb = x + b * numel;
        for (i = 0; i < d[0]; i++)
            for (j = 0; j < d[1]; j++)
                for (l = 0; l < d[2]; l++)
                    *y++ = xb[(long)i * s[0] + (long)j * s[1] + (long)l * s[2]];
    }
}

/* Nearest upsampling of planes (h, w) by (kh, kw): Y (h kh, w kw). */
void mt_upsample_fwd(const float *x, float *y, int planes, int h, int w, int kh, int kw)
{
    int p, r, c;
    for (p = 0; p < planes; p++)
        for (r = 0; r < h * kh; r++) {
            const float *row = x + ((long)p * h + r / kh) * w;
            for (c = 0; c < w * kw; c++)
                *y++ = row[c / kw];
        }
}

/* dX[r][c] = sum of its kh x kw block of dY, row by row (fixed order). */
void mt_upsample_deriv(const float *dy, float *dx, int planes, int h, int w, int kh, int kw)
{
    int p, r, c;
    memset(dx, 0, sizeof(float) * (size_t)planes * h * w);
    for (p = 0; p < planes; p++)
        for (r = 0; r < h * kh; r++) {
            float *row = dx + ((long)p * h + r / kh) * w;
            for (c = 0; c < w * kw; c++)
                row[c / kw] += *dy++;
        }
}

/* Y row o = X row o [offset, offset + n) of total floats (one split output). */
void mt_slice(const float *x, float *y, int outer, int total, int offset, int n)
{
    int o;
    for (o = 0; o < outer; o++)
        memcpy(y + (long)o * n, x + (long)o * total + offset, sizeof(float) * (size_t)n);
}

/* dX = zeros with dY in each row's [offset, offset + n): this output's share. */
void mt_slice_deriv(const float *dy, float *dx, int outer, int total, int offset, int n)
{
    int o;
    memset(dx, 0, sizeof(float) * (size_t)outer * total);
    for (o = 0; o < outer; o++)
        memcpy(dx + (long)o * total + offset, dy + (long)o * n, sizeof(float) * (size_t)n);
}
