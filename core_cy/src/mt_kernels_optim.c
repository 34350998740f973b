/* Optimizers with PyTorch semantics (torch.optim, non-foreach path).
 * Everything is float: Adam's bias corrections 1 - beta^step come from
 * mt_one_minus_powf (no cancellation, no double, same bits on every target). */
#include <math.h>
#include "mt_gemm.h"   /* mt_parallel */
#include "mt_math.h"
#include "mt_kernels.h"
#include "mt_program.h"

/* One SGD update, split into thread tasks of SGD_UNIT elements: each
 * element is updated on its own, so any split gives the same bits. */
typedef struct {
    float *w, *mom;   /* mom NULL without momentum */
    const float *dw;
    int numel;
    float lr, momentum;
} sgd_step;

#define SGD_UNIT 4096
/* An element update costs about as much as 8 GEMM multiply-adds (memory
 * bound), the unit of the thread pool's cut-off. */
#define SGD_WORK_PER_ELEMENT 8

static void sgd_task(void *ctx, int lo, int hi)
{
    const sgd_step *p = ctx;
    float *w = p->w, *mom = p->mom;
    const float *dw = p->dw;
    long i, end = (long)hi * SGD_UNIT < p->numel ? (long)hi * SGD_UNIT : p->numel;
    if (!mom) {
        for (i = (long)lo * SGD_UNIT; i < end; i++)
            w[i] -= p->lr * dw[i];
        return;
    }
    /* buf = momentum * buf + dw (dampening 0); a zero buffer reproduces
     * PyTorch's first-step clone exactly: 0 * m + dw == dw */
    for (i = (long)lo * SGD_UNIT; i < end; i++) {
        mom[i] = p->momentum * mom[i] + dw[i];
        w[i] -= p->lr * mom[i];
    }
}

void mt_sgd_apply(float *w, const float *dw, float *mom, int numel, float lr, float momentum)
{
    sgd_step p;
    p.w = w;
    p.dw = dw;
    p.mom = momentum == 0.0f ? 0 : mom;
    p.numel = numel;
    p.lr = lr;
    p.momentum = momentum;
    mt_parallel(sgd_task, &p, (numel + SGD_UNIT - 1) / SGD_UNIT,
                (long)numel * SGD_WORK_PER_ELEMENT);
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
