/* Activations. y may equal x and dx may equal dy: every loop reads element
 * j before writing element j, and softmax reduces a row before writing it.
 * Derivatives use only the output y. */
#include "mt_math.h"
#include "mt_kernels.h"
#include "mt_kernel_util.h"
#include "mt_program.h"


/* ReLU is the hot case: separate in-place and out-of-place loops so that
 * the pointers can be declared non-aliasing and the loops vectorize. */
static void relu_inplace(float *y, long n)
{
    FOR8(j, n, y[j] = y[j] > 0.0f ? y[j] : 0.0f);
}

static void relu(const float *restrict x, float *restrict y, long n)
{
    FOR8(j, n, y[j] = x[j] > 0.0f ? x[j] : 0.0f);
}

static void relu_deriv_inplace(const float *restrict y, float *restrict d, long n)
{
    FOR8(j, n, d[j] = y[j] > 0.0f ? d[j] : 0.0f);
}

static void relu_deriv(const float *restrict y, const float *restrict dy,
                       float *restrict dx, long n)
{
    FOR8(j, n, dx[j] = y[j] > 0.0f ? dy[j] : 0.0f);
}

/* Stable for large |x|: exp never overflows. */
static float sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + mt_expf(-x));
    {
        float e = mt_expf(x);
        return e / (1.0f + e);
    }
}

/* tanh from mt_expf only (the core uses no libm transcendental). For
 * |x| < 0.5 the series avoids the cancellation in 1 - exp(-2|x|); its
 * truncation error there is below 1e-8 relative. */
static float tanh_f(float x)
{
    float a = x < 0.0f ? -x : x, r;
    if (a < 0.5f) {
        float z = a * a;
        r = a + a * z * (-1.0f / 3.0f + z * (2.0f / 15.0f + z * (-17.0f / 315.0f
              + z * (62.0f / 2835.0f + z * (-1382.0f / 155925.0f
              + z * (21844.0f / 6081075.0f + z * (-929569.0f / 638512875.0f)))))));
    } else {
        float e = mt_expf(-2.0f * a);
        r = (1.0f - e) / (1.0f + e);
    }
    return x < 0.0f ? -r : r;
}

/* Row softmax: subtract the row max, exponentiate, scale by 1/sum. */
static void softmax_row(const float *x, float *y, int n)
{
    float m = x[0], sum = 0.0f, inv;
    int j;
    for (j = 1; j < n; j++)
        if (x[j] > m)
            m = x[j];
    for (j = 0; j < n; j++) {
        y[j] = mt_expf(x[j] - m);
        sum += y[j];
    }
    inv = 1.0f / sum;
    for (j = 0; j < n; j++)
        y[j] *= inv;
}

void mt_act_fwd(int act, const float *x, float *y, int rows, int cols)
{
    long n = (long)rows * cols, j;
    int r;
    switch (act) {
    case MT_ACT_RELU:
        if (x == y)
            relu_inplace(y, n);
        else
            relu(x, y, n);
        break;
    case MT_ACT_SIGMOID:
        for (j = 0; j < n; j++)
            y[j] = sigmoid(x[j]);
        break;
    case MT_ACT_TANH:
        for (j = 0; j < n; j++)
            y[j] = tanh_f(x[j]);
        break;
    case MT_ACT_SOFTMAX:
        for (r = 0; r < rows; r++)
            softmax_row(x + (long)r * cols, y + (long)r * cols, cols);
        break;
    default:
        break;
    }
}

/* softmax: dx = y * (dy - sum(dy * y)) per row. */
static void softmax_row_deriv(const float *y, const float *dy, float *dx, int n)
{
    float dot = 0.0f;
    int j;
    for (j = 0; j < n; j++)
        dot += dy[j] * y[j];
    for (j = 0; j < n; j++)
        dx[j] = y[j] * (dy[j] - dot);
}

void mt_act_deriv(int act, const float *y, const float *dy, float *dx, int rows, int cols)
{
    long n = (long)rows * cols, j;
    int r;
    switch (act) {
    case MT_ACT_RELU:
        if (dx == dy)
            relu_deriv_inplace(y, dx, n);
        else
            relu_deriv(y, dy, dx, n);
        break;
    case MT_ACT_SIGMOID:
        for (j = 0; j < n; j++)
            dx[j] = dy[j] * (1.0f - y[j]) * y[j];
        break;
    case MT_ACT_TANH:
        for (j = 0; j < n; j++)
            dx[j] = dy[j] * (1.0f - y[j] * y[j]);
        break;
    case MT_ACT_SOFTMAX:
        for (r = 0; r < rows; r++)
            softmax_row_deriv(y + (long)r * cols, dy + (long)r * cols,
                              dx + (long)r * cols, cols);
        break;
    default:
        break;
    }
}
