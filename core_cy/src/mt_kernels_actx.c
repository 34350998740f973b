/* Activations whose derivative needs the input X (NNTrainer's leaky_relu,
 * swish, gelu), elementwise. leaky_relu slope 0.01 as NNTrainer; gelu is
 * the exact erf form (PyTorch's default). dX may alias dY. */
#include <math.h>
#include "mt_kernels.h"
#include "mt_program.h"

#define LEAKY_SLOPE 0.01f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static float sigmoid_f(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static float actx(int act, float x)
{
    switch (act) {
    case MT_ACT_LEAKY_RELU: return x > 0.0f ? x : LEAKY_SLOPE * x;
    case MT_ACT_SWISH: return x * sigmoid_f(x);
    default: return 0.5f * x * (1.0f + erff(x * INV_SQRT2)); /* MT_ACT_GELU */
    }
}

static float actx_slope(int act, float x)
{
    float s;
    switch (act) {
    case MT_ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : LEAKY_SLOPE;
    case MT_ACT_SWISH:
        s = sigmoid_f(x);
        return s + x * s * (1.0f - s);
    default:
        return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
    }
}

void mt_actx_fwd(int act, const float *x, float *y, int numel)
{
    int i;
    for (i = 0; i < numel; i++)
        y[i] = actx(act, x[i]);
}

void mt_actx_deriv(int act, const float *x, const float *dy, float *dx, int numel)
{
    int i;
    for (i = 0; i < numel; i++)
        dx[i] = dy[i] * actx_slope(act, x[i]);
}
