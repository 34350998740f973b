/* Integer SGD with momentum, QAS and stochastic rounding (docs/int8.md, "SGD
 * with QAS and momentum"). The per-channel multipliers in LR carry lr, the
 * gradient's static factor and the QAS rescaling (s_w^-1 instead of the int8
 * graph's s_w); steps are Q16 units of the weight's integer. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

static int64_t weight_limit(int e)
{
    return e == 1 ? 127 : e == 2 ? 32767 : INT32_MAX;
}

static int64_t weight_at(int e, const void *w, int i)
{
    if (e == 1) return ((const int8_t *)w)[i];
    if (e == 2) return ((const int16_t *)w)[i];
    return ((const int32_t *)w)[i];
}

static void weight_set(int e, void *w, int i, int64_t v)
{
    int64_t lim = weight_limit(e);
    v = mt_q_clamp64(v, e == 4 ? INT32_MIN : -lim, lim);
    if (e == 1) ((int8_t *)w)[i] = (int8_t)v;
    else if (e == 2) ((int16_t *)w)[i] = (int16_t)v;
    else ((int32_t *)w)[i] = (int32_t)v;
}

void mt_qsgd_apply(int e, void *w, const void *dw, const int32_t *lr, uint32_t *rng,
                   int32_t *mom, int numel, int ch, int32_t mu)
{
    const int16_t *g = mt_g16_cvals(dw);
    int64_t e_dw = mt_g16_exp(dw);
    int rows = numel / ch;
    for (int c = 0; c < ch; c++) {
        int32_t m = lr[c];
        int64_t shift = (int64_t)lr[ch + c] - e_dw;
        for (int i = c * rows; i < (c + 1) * rows; i++) {
            int64_t delta = mt_requant(g[i], m, shift);
            int32_t v = mom ? mt_sat32(mt_round_shift((int64_t)mu * mom[i], 15) + delta)
                            : mt_sat32(delta);
            if (mom) mom[i] = v;
            int64_t r = mt_xorshift32(rng) >> 16;
            weight_set(e, w, i, weight_at(e, w, i) - mt_floor_shift((int64_t)v + r, 16));
        }
    }
}
