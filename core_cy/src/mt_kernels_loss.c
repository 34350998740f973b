/* Losses with PyTorch 'mean' reduction. Targets are either int32 class
 * indices (MT_LABEL_INDEX: one-hot over f, or the index value itself when
 * f == 1) or dense float rows (MT_LABEL_DENSE). An index outside [0, f)
 * (f > 1) is treated as an all-zero target row rather than read out of
 * bounds. Row sums run left to right; the batch sum adds rows in order. */
#include "mt_math.h"
#include "mt_kernels.h"
#include "mt_program.h"

/* Target value of element (row r, column j). */
static float target_at(const void *t, int label, int r, int j, int f)
{
    if (label == MT_LABEL_DENSE)
        return ((const float *)t)[(long)r * f + j];
    {
        int32_t c = ((const int32_t *)t)[r];
        if (f == 1)
            return (float)c;
        return c == j ? 1.0f : 0.0f;
    }
}

/* First maximum wins. */
static int argmax(const float *v, int f)
{
    int j, best = 0;
    for (j = 1; j < f; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

/* 1 if row r's prediction (argmax, or > 0.5 when f == 1) matches the
 * target's class (index, argmax of the dense row, or > 0.5 when f == 1). */
static int row_correct(const float *pred, const void *t, int label, int r, int f)
{
    const float *pr = pred + (long)r * f;
    if (f == 1)
        return (pr[0] > 0.5f) == (target_at(t, label, r, 0, 1) > 0.5f);
    if (label == MT_LABEL_DENSE)
        return argmax(pr, f) == argmax((const float *)t + (long)r * f, f);
    return argmax(pr, f) == ((const int32_t *)t)[r];
}

static float count_correct(const float *pred, const void *t, int label, int n, int f)
{
    int r, c = 0;
    for (r = 0; r < n; r++)
        c += row_correct(pred, t, label, r, f);
    return (float)c;
}

/* ---- mean squared error: mean over n*f of (y - t)^2 ---- */

float mt_loss_mse_fwd(const float *y, const void *t, int label, int n, int f, float *correct)
{
    float total = 0.0f;
    int r, j;
    for (r = 0; r < n; r++) {
        float row = 0.0f;
        for (j = 0; j < f; j++) {
            float d = y[(long)r * f + j] - target_at(t, label, r, j, f);
            row += d * d;
        }
        total += row;
    }
    if (correct)
        *correct = count_correct(y, t, label, n, f);
    return total / (float)((long)n * f);
}

void mt_loss_mse_deriv(const float *y, const void *t, int label, int n, int f, float *dy)
{
    float scale = 2.0f / (float)((long)n * f);
    int r, j;
    for (r = 0; r < n; r++)
        for (j = 0; j < f; j++) {
            long i = (long)r * f + j;
            dy[i] = scale * (y[i] - target_at(t, label, r, j, f));
        }
}

/* ---- softmax cross entropy: mean over rows of sum_j t_j (lse(z) - z_j) ---- */

float mt_loss_ce_softmax_fwd(const float *z, const void *t, int label, int n, int f,
                             float *p, float *correct)
{
    float total = 0.0f;
    int r, j;
    for (r = 0; r < n; r++) {
        const float *zr = z + (long)r * f;
        float *pr = p + (long)r * f;
        float m = zr[0], sum = 0.0f, lsum, inv, row = 0.0f;
        for (j = 1; j < f; j++)
            if (zr[j] > m)
                m = zr[j];
        for (j = 0; j < f; j++) {
            pr[j] = mt_expf(zr[j] - m);
            sum += pr[j];
        }
        lsum = mt_logf(sum);
        inv = 1.0f / sum;
        for (j = 0; j < f; j++)
            pr[j] *= inv;
        /* lse - z_j written as (m - z_j) + log(sum): no cancellation of m */
        if (label == MT_LABEL_DENSE) {
            for (j = 0; j < f; j++) {
                float tj = target_at(t, label, r, j, f);
                if (tj != 0.0f)
                    row += tj * ((m - zr[j]) + lsum);
            }
        } else {
            int32_t c = ((const int32_t *)t)[r];
            row = (c >= 0 && c < f) ? (m - zr[c]) + lsum : 0.0f;
        }
        total += row;
    }
    if (correct)
        *correct = count_correct(p, t, label, n, f);
    return total / (float)n;
}

/* dz = (p * sum_j t_j - t) / n: for index labels and target rows summing to
 * one this is (p - t) / n; the sum keeps it the exact gradient of the
 * forward loss for unnormalised dense targets too (as PyTorch's). */
void mt_loss_ce_softmax_deriv(const float *p, const void *t, int label, int n, int f, float *dz)
{
    float inv_n = 1.0f / (float)n;
    int r, j;
    for (r = 0; r < n; r++) {
        const float *pr = p + (long)r * f;
        float *dr = dz + (long)r * f;
        if (label == MT_LABEL_DENSE) {
            const float *tr = (const float *)t + (long)r * f;
            float tsum = 0.0f;
            for (j = 0; j < f; j++)
                tsum += tr[j];
            for (j = 0; j < f; j++)
                dr[j] = (pr[j] * tsum - tr[j]) * inv_n;
        } else {
            int32_t c = ((const int32_t *)t)[r];
            float tsum = (c >= 0 && c < f) ? 1.0f : 0.0f;
            for (j = 0; j < f; j++)
                dr[j] = (pr[j] * tsum - (j == c ? 1.0f : 0.0f)) * inv_n;
        }
    }
}

/* ---- sigmoid (binary) cross entropy with logits, mean over n*f ---- */

/* log(1 + u) for u in [0, 1] accurate for tiny u (the core uses no libm
 * transcendental): log(w) * u / (w - 1) with w = 1 + u rounded. */
static float log1p_small(float u)
{
    float w = 1.0f + u;
    if (w == 1.0f)
        return u;
    return mt_logf(w) * (u / (w - 1.0f));
}

static float sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + mt_expf(-x));
    {
        float e = mt_expf(x);
        return e / (1.0f + e);
    }
}

float mt_loss_ce_sigmoid_fwd(const float *z, const void *t, int label, int n, int f,
                             float *p, float *correct)
{
    float total = 0.0f;
    int r, j;
    for (r = 0; r < n; r++) {
        float row = 0.0f;
        for (j = 0; j < f; j++) {
            long i = (long)r * f + j;
            float zi = z[i], ti = target_at(t, label, r, j, f);
            float az = zi < 0.0f ? -zi : zi;
            /* max(z,0) - z*t + log1p(exp(-|z|)): never overflows */
            row += ((zi > 0.0f ? zi : 0.0f) - zi * ti) + log1p_small(mt_expf(-az));
            p[i] = sigmoid(zi);
        }
        total += row;
    }
    if (correct)
        *correct = count_correct(p, t, label, n, f);
    return total / (float)((long)n * f);
}

void mt_loss_ce_sigmoid_deriv(const float *p, const void *t, int label, int n, int f, float *dz)
{
    float inv = 1.0f / (float)((long)n * f);
    int r, j;
    for (r = 0; r < n; r++)
        for (j = 0; j < f; j++) {
            long i = (long)r * f + j;
            dz[i] = (p[i] - target_at(t, label, r, j, f)) * inv;
        }
}
