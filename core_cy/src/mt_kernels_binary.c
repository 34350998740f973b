/* Elementwise binary layers (NNTrainer subtract, multiply) and the pieces of
 * their derivatives: y = a - b, y = a * b, dx = dy * other, dx = -dy. */
#include "mt_kernels.h"
#include "mt_kernel_util.h"

void mt_sub(float *y, const float *a, const float *b, int numel)
{
    int i;
    for (i = 0; i < numel; i++)
        y[i] = a[i] - b[i];
}

void mt_mul(float *y, const float *a, const float *b, int numel)
{
    int i;
    for (i = 0; i < numel; i++)
        y[i] = a[i] * b[i];
}

void mt_neg(const float *x, float *y, int numel)
{
    int i;
    for (i = 0; i < numel; i++)
        y[i] = -x[i];
}
