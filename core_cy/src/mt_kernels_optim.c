/* Optimizers with PyTorch semantics (torch.optim, non-foreach path).
 * Scalars are computed in double, the element-wise update in float. */
#include <math.h>
#include "mt_kernels.h"
#include "mt_program.h"

void mt_sgd_apply(float *w, const float *dw, float *mom, int numel, float lr, float momentum)
{
    int i;
    if (momentum == 0.0f || !mom) {
        for (i = 0; i < numel; i++)
            w[i] -= lr * dw[i];
        return;
    }
    /* buf = momentum * buf + dw (dampening 0); a zero buffer reproduces
     * PyTorch's first-step clone exactly: 0 * m + dw == dw */
    for (i = 0; i < numel; i++) {
        mom[i] = momentum * mom[i] + dw[i];
        w[i] -= lr * mom[i];
    }
}

void mt_adam_apply(float *w, const float *dw, float *m, float *v, uint32_t *step,
                   int numel, float lr, float beta1, float beta2, float eps)
{
    double t, bc1, bc2_sqrt;
    float step_size, bc2s, b1c = 1.0f - beta1, b2c = 1.0f - beta2;
    int i;
    ++*step;
    t = (double)*step;
    bc1 = 1.0 - pow((double)beta1, t);
    bc2_sqrt = sqrt(1.0 - pow((double)beta2, t));
    step_size = (float)((double)lr / bc1);
    bc2s = (float)bc2_sqrt;
    for (i = 0; i < numel; i++) {
        float g = dw[i], denom;
        m[i] = beta1 * m[i] + b1c * g;
        v[i] = beta2 * v[i] + b2c * g * g;
        denom = sqrtf(v[i]) / bc2s + eps;
        w[i] -= step_size * (m[i] / denom);
    }
}
