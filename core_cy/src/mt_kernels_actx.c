/* Activations whose derivative needs the input X (NNTrainer's leaky_relu,
 * swish, gelu), elementwise. leaky_relu slope 0.01 as NNTrainer; gelu is
 * the erf form (PyTorch's default). dX may alias dY. Only mt_expf and IEEE
 * + - * /, so every target computes the same bits (see mt_math.h). */
#include "mt_kernels.h"
#include "mt_math.h"
#include "mt_program.h"

#define LEAKY_SLOPE 0.01f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static float sigmoid_f(float x)
{
    return 1.0f / (1.0f + mt_expf(-x));
}

/* erf via the Chebyshev fit of erfc (Numerical Recipes' erfcc, fractional
 * error below 1.2e-7): 1 + erf, all gelu uses, is within about 1e-7. */
static float erf_f(float x)
{
    float z = x < 0.0f ? -x : x;
    float t = 1.0f / (1.0f + 0.5f * z);
    float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
                 t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
                 t * (-0.82215223f + t * 0.17087277f))))))));
    float erfc = t * mt_expf(-z * z + poly);
    return x < 0.0f ? erfc - 1.0f : 1.0f - erfc;
}

static float actx(int act, float x)
{
    switch (act) {
    case MT_ACT_LEAKY_RELU: return x > 0.0f ? x : LEAKY_SLOPE * x;
    case MT_ACT_SWISH: return x * sigmoid_f(x);
    default: return 0.5f * x * (1.0f + erf_f(x * INV_SQRT2)); /* MT_ACT_GELU */
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
        return 0.5f * (1.0f + erf_f(x * INV_SQRT2)) + x * INV_SQRT_2PI * mt_expf(-0.5f * x * x);
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
