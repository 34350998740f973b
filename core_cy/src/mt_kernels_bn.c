/* Batch normalization over (n, hw) per channel, PyTorch semantics.
 * Per-channel sums are accumulated in float (double is software-emulated on
 * Cortex-M4F) with four interleaved lanes plus a tail lane that persist over
 * the whole channel and are folded once: a fixed order that is also more
 * accurate than one running sum. Variance is two-pass: sum((x - mean)^2).
 * gamma/beta (and dgamma/dbeta) may be NULL, meaning affine=False. */
#include <math.h>
#include "mt_kernels.h"
#include "mt_program.h"

typedef struct {
    float l[5];
} lanes;

static void lanes_zero(lanes *a)
{
    int k;
    for (k = 0; k < 5; k++)
        a->l[k] = 0.0f;
}

static float lanes_fold(const lanes *a)
{
    return ((a->l[0] + a->l[1]) + (a->l[2] + a->l[3])) + a->l[4];
}

/* acc += sum x[i] (mode 0), sum (x[i]-m)^2 (mode 1), sum (x[i]-m)*d[i] (mode 2) */
static void lanes_add(lanes *acc, const float *x, const float *d, float m, int mode, int n)
{
    float s[4];
    int i = 0, k;
    for (k = 0; k < 4; k++)
        s[k] = acc->l[k];
    for (; i + 4 <= n; i += 4)
        for (k = 0; k < 4; k++) {
            float v = x[i + k];
            if (mode == 1)
                v = (v - m) * (v - m);
            else if (mode == 2)
                v = (v - m) * d[i + k];
            s[k] += v;
        }
    for (k = 0; k < 4; k++)
        acc->l[k] = s[k];
    for (; i < n; i++) {
        float v = x[i];
        if (mode == 1)
            v = (v - m) * (v - m);
        else if (mode == 2)
            v = (v - m) * d[i];
        acc->l[4] += v;
    }
}

/* Channel ch of sample s starts at (s*c + ch)*hw. */
static float channel_sum(const float *x, const float *d, float m, int mode,
                         int n, int c, int hw, int ch)
{
    lanes acc;
    int s;
    lanes_zero(&acc);
    for (s = 0; s < n; s++) {
        long o = ((long)s * c + ch) * hw;
        lanes_add(&acc, x + o, d ? d + o : 0, m, mode, hw);
    }
    return lanes_fold(&acc);
}

/* y = x * scale + shift over one channel (PyTorch's alpha/beta form). */
static void channel_affine(const float *x, float *y, float scale, float shift,
                           int n, int c, int hw, int ch)
{
    int s, i;
    for (s = 0; s < n; s++) {
        long o = ((long)s * c + ch) * hw;
        for (i = 0; i < hw; i++)
            y[o + i] = x[o + i] * scale + shift;
    }
}

void mt_bn_fwd_train(const float *x, const float *gamma, const float *beta,
                     float *running_mean, float *running_var,
                     float *y, float *save_mean, float *save_invstd,
                     int n, int c, int hw, float momentum, float eps)
{
    long cnt = (long)n * hw;
    int ch;
    for (ch = 0; ch < c; ch++) {
        float mean = channel_sum(x, 0, 0.0f, 0, n, c, hw, ch) / (float)cnt;
        float var = channel_sum(x, 0, mean, 1, n, c, hw, ch) / (float)cnt;
        float invstd = 1.0f / sqrtf(var + eps);
        /* unbiased for the running estimate; one value has no spread */
        float unbiased = cnt > 1 ? var * ((float)cnt / (float)(cnt - 1)) : var;
        float scale = gamma ? gamma[ch] * invstd : invstd;
        float shift = (beta ? beta[ch] : 0.0f) - mean * scale;
        save_mean[ch] = mean;
        save_invstd[ch] = invstd;
        if (running_mean)
            running_mean[ch] = momentum * mean + (1.0f - momentum) * running_mean[ch];
        if (running_var)
            running_var[ch] = momentum * unbiased + (1.0f - momentum) * running_var[ch];
        channel_affine(x, y, scale, shift, n, c, hw, ch);
    }
}

void mt_bn_fwd_eval(const float *x, const float *gamma, const float *beta,
                    const float *running_mean, const float *running_var,
                    float *y, int n, int c, int hw, float eps)
{
    int ch;
    for (ch = 0; ch < c; ch++) {
        float invstd = 1.0f / sqrtf(running_var[ch] + eps);
        float scale = gamma ? gamma[ch] * invstd : invstd;
        float shift = (beta ? beta[ch] : 0.0f) - running_mean[ch] * scale;
        channel_affine(x, y, scale, shift, n, c, hw, ch);
    }
}

/* dbeta = sum dy; dgamma = invstd * sum (x - mean) dy. */
void mt_bn_grad(const float *x, const float *dy, const float *save_mean,
                const float *save_invstd, float *dgamma, float *dbeta,
                int n, int c, int hw)
{
    int ch;
    for (ch = 0; ch < c; ch++) {
        if (dbeta)
            dbeta[ch] = channel_sum(dy, 0, 0.0f, 0, n, c, hw, ch);
        if (dgamma)
            dgamma[ch] = channel_sum(x, dy, save_mean[ch], 2, n, c, hw, ch)
                         * save_invstd[ch];
    }
}

/* Training-mode input gradient (PyTorch's formula):
 * dx = (dy - mean(dy) - (x - mean) * invstd^2 * mean((x - mean) dy)) * invstd * gamma.
 * Both sums are taken before any dx is written, so dx may equal dy. */
void mt_bn_deriv(const float *x, const float *dy, const float *gamma,
                 const float *save_mean, const float *save_invstd, float *dx,
                 int n, int c, int hw)
{
    long cnt = (long)n * hw;
    int ch, s, i;
    for (ch = 0; ch < c; ch++) {
        float mean = save_mean[ch], invstd = save_invstd[ch];
        float gmean = channel_sum(dy, 0, 0.0f, 0, n, c, hw, ch) / (float)cnt;
        float dotp = channel_sum(x, dy, mean, 2, n, c, hw, ch);
        float k = dotp * invstd * invstd / (float)cnt;
        float scale = gamma ? invstd * gamma[ch] : invstd;
        for (s = 0; s < n; s++) {
            long o = ((long)s * c + ch) * hw;
            for (i = 0; i < hw; i++)
                dx[o + i] = ((dy[o + i] - gmean) - (x[o + i] - mean) * k) * scale;
        }
    }
}
