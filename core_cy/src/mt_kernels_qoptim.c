/* Integer SGD with momentum, QAS and stochastic rounding (docs/int8.md, "SGD
 * with QAS and momentum"). The per-channel multipliers in LR carry lr, the
 * gradient's static factor and the QAS rescaling (s_w^-1 instead of the int8
 * graph's s_w); steps are Q16 units of the weight's integer. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

/* One channel's elements: delta = requant(g, m, shift), then momentum and the
 * stochastically rounded step, saturating the weight to [lo, hi]. */
#define QSGD_ROWS(NAME, T)                                                            \
static void NAME(T *w, const int16_t *g, int32_t *mom, uint32_t *rng, int count,     \
                 int32_t m, int64_t shift, int32_t mu, int64_t lo, int64_t hi)        \
{                                                                                     \
    for (int i = 0; i < count; i++) {                                                 \
        int64_t delta = mt_requant(g[i], m, shift);                                   \
        int32_t v = mom ? mt_sat32(mt_round_shift((int64_t)mu * mom[i], 15) + delta)  \
                        : mt_sat32(delta);                                            \
        if (mom) mom[i] = v;                                                          \
        int64_t r = mt_xorshift32(rng) >> 16;                                         \
        w[i] = (T)mt_q_clamp64(w[i] - mt_floor_shift((int64_t)v + r, 16), lo, hi);    \
    }                                                                                 \
}

QSGD_ROWS(rows8, int8_t)
QSGD_ROWS(rows16, int16_t)
QSGD_ROWS(rows32, int32_t)

void mt_qsgd_apply(int e, void *w, const void *dw, const int32_t *lr, uint32_t *rng,
                   int32_t *mom, int numel, int ch, int32_t mu)
{
    const int16_t *g = mt_g16_cvals(dw);
    int64_t e_dw = mt_g16_exp(dw);
    int rows = numel / ch;
    for (int c = 0; c < ch; c++) {
        long at = (long)c * rows;
        int32_t m = lr[c];
        int64_t shift = (int64_t)lr[ch + c] - e_dw;
        int32_t *mc = mom ? mom + at : 0;
        if (e == 1) rows8((int8_t *)w + at, g + at, mc, rng, rows, m, shift, mu, -127, 127);
        else if (e == 2) rows16((int16_t *)w + at, g + at, mc, rng, rows, m, shift, mu, -32767, 32767);
        else rows32((int32_t *)w + at, g + at, mc, rng, rows, m, shift, mu, INT32_MIN, INT32_MAX);
    }
}
