/* Layer normalization over the last COLS floats of each of ROWS rows
 * (NNTrainer's layer_normalization on trailing axes): biased variance,
 * y = (x - mean) * invstd * gamma + beta, gamma / beta per column. */
#include <math.h>
#include "mt_kernels.h"

void mt_ln_fwd(const float *x, const float *gamma, const float *beta, float *y,
               float *mean, float *invstd, int rows, int cols, float eps)
{
    int r, j;
    for (r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols;
        float *yr = y + (long)r * cols;
        float sum = 0.0f, var = 0.0f, m, s;
        for (j = 0; j < cols; j++)
            sum += xr[j];
        m = sum / (float)cols;
        for (j = 0; j < cols; j++)
            var += (xr[j] - m) * (xr[j] - m);
        s = 1.0f / sqrtf(var / (float)cols + eps);
        for (j = 0; j < cols; j++)
            yr[j] = (xr[j] - m) * s * gamma[j] + beta[j];
        mean[r] = m;
        invstd[r] = s;
    }
}

/* dgamma[j] = sum_r dy * xhat, dbeta[j] = sum_r dy (overwrites both). */
void mt_ln_grad(const float *x, const float *dy, const float *mean, const float *invstd,
                float *dgamma, float *dbeta, int rows, int cols)
{
    int r, j;
    for (j = 0; j < cols; j++)
        dgamma[j] = dbeta[j] = 0.0f;
    for (r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols, *dyr = dy + (long)r * cols;
        for (j = 0; j < cols; j++) {
            dgamma[j] += dyr[j] * (xr[j] - mean[r]) * invstd[r];
            dbeta[j] += dyr[j];
        }
    }
}

/* g = dy * gamma; dx = invstd * (g - mean(g) - xhat * mean(g * xhat)). */
void mt_ln_deriv(const float *x, const float *dy, const float *gamma, const float *mean,
                 const float *invstd, float *dx, int rows, int cols)
{
    int r, j;
    for (r = 0; r < rows; r++) {
        const float *xr = x + (long)r * cols, *dyr = dy + (long)r * cols;
        float *dxr = dx + (long)r * cols;
        float sum_g = 0.0f, sum_gx = 0.0f, s = invstd[r];
        for (j = 0; j < cols; j++) {
            float g = dyr[j] * gamma[j];
            sum_g += g;
            sum_gx += g * (xr[j] - mean[r]) * s;
        }
        sum_g /= (float)cols;
        sum_gx /= (float)cols;
        for (j = 0; j < cols; j++) {
            float xhat = (xr[j] - mean[r]) * s;
            dxr[j] = s * (dyr[j] * gamma[j] - sum_g - xhat * sum_gx);
        }
    }
}
