/* Weight regularization and decay, with NNTrainer's formulas:
 * l2norm regularizer: loss += c / 2 * ||W||_2 (the norm itself, as NNTrainer
 * reports it) and dW += c * W; weight / bias decay: dW += d * W. */
#include <math.h>
#include "mt_kernels.h"

void mt_decay_grad(const float *w, float *dw, int numel, float c)
{
    int i;
    for (i = 0; i < numel; i++)
        dw[i] += c * w[i];
}

/* sum + the squares of w in order: a tiled weight continues its chunks' sum. */
double mt_sum_squares(const float *w, int numel, double sum)
{
    int i;
    for (i = 0; i < numel; i++)
        sum += (double)w[i] * (double)w[i];
    return sum;
}

float mt_l2norm_of(double sum_squares, float c)
{
    return c * 0.5f * (float)sqrt(sum_squares);
}

float mt_l2norm_loss(const float *w, int numel, float c)
{
    return mt_l2norm_of(mt_sum_squares(w, numel, 0.0), c);
}
