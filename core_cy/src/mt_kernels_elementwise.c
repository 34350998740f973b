/* Elementwise kernels: add, copy, dropout. */
#include <string.h>
#include "mt_kernels.h"
#include "mt_kernel_util.h"
#include "mt_program.h"


static void add2(float *restrict y, const float *restrict a, const float *restrict b, int n)
{
    FOR8(j, n, y[j] = a[j] + b[j]);
}

static void add_into(float *restrict y, const float *restrict a, int n)
{
    FOR8(j, n, y[j] += a[j]);
}

/* Left-to-right sum: y = ((x0 + x1) + x2) + ... Pass-wise when y aliases
 * nothing but possibly x0/x1 (the common residual case); element-wise
 * otherwise, which tolerates y equal to any input. */
void mt_add(float *y, const float *const *xs, int k, int numel)
{
    int j, i, alias = 0;
    if (k == 1) {
        mt_copy(xs[0], y, numel);
        return;
    }
    for (j = 0; j < k; j++)
        if (xs[j] == y)
            alias = 1;
    if (!alias) {
        add2(y, xs[0], xs[1], numel);
        for (j = 2; j < k; j++)
            add_into(y, xs[j], numel);
        return;
    }
    for (i = 0; i < numel; i++) {
        float s = xs[0][i] + xs[1][i];
        for (j = 2; j < k; j++)
            s += xs[j][i];
        y[i] = s;
    }
}

void mt_copy(const float *x, float *y, int numel)
{
    if (x != y && numel > 0)
        memmove(y, x, sizeof(float) * (size_t)numel);
}

/* One xorshift32 draw per element; the top 24 bits give u in [0, 1) exactly
 * representable in float; drop when u < rate. A zero state stays zero (the
 * caller must seed it non-zero). */
void mt_dropout_fwd(const float *x, float *y, float *mask, uint32_t *rng,
                    int numel, float rate)
{
    uint32_t r = *rng;
    float keep = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
    int i;
    for (i = 0; i < numel; i++) {
        float u;
        r ^= r << 13;
        r ^= r >> 17;
        r ^= r << 5;
        u = (float)(r >> 8) * (1.0f / 16777216.0f);
        mask[i] = u < rate ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
    *rng = r;
}

void mt_dropout_deriv(const float *dy, const float *mask, float *dx, int numel)
{
    int i;
    for (i = 0; i < numel; i++)
        dx[i] = dy[i] * mask[i];
}
