/* Optimizers with PyTorch semantics (torch.optim, non-foreach path).
 * Everything is float: Adam's bias corrections 1 - beta^step come from
 * mt_one_minus_powf (no cancellation, no double, same bits on every target). */
#include <math.h>
#include "mt_math.h"
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
    float b1c = 1.0f - beta1, b2c = 1.0f - beta2;
    float step_size, bias2_sqrt;
    int i;
    ++*step;
    step_size = lr / mt_one_minus_powf(beta1, *step);
    bias2_sqrt = sqrtf(mt_one_minus_powf(beta2, *step));
    for (i = 0; i < numel; i++) {
        float g = dw[i], denom;
        m[i] = beta1 * m[i] + b1c * g;
        v[i] = beta2 * v[i] + b2c * g * g;
        denom = sqrtf(v[i]) / bias2_sqrt + eps;
        w[i] -= step_size * (m[i] / denom);
    }
}
