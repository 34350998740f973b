/* Integer residual addition (docs/int8.md, "Residual addition"): the forward
 * sum of two activations with their own scales and zero points, requantized
 * to the output's; and the sum of two g16 derivatives (a tensor read by two
 * layers receives both), rounded once. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

/* y = sat(zy + requant(a - za, Ma, sha) + requant(b - zb, Mb, shb));
 * p = [NUMEL, E, za, zb, zy, Ma, sha, Mb, shb]. Y may be A: elementwise. */
void mt_qadd_fwd(const void *a, const void *b, void *y, const int32_t *p)
{
    int numel = p[0], e = p[1];
    for (int i = 0; i < numel; i++) {
        int64_t xa = e == 1 ? ((const int8_t *)a)[i] : ((const int16_t *)a)[i];
        int64_t xb = e == 1 ? ((const int8_t *)b)[i] : ((const int16_t *)b)[i];
        int64_t sum = p[4] + mt_requant(xa - p[2], p[5], p[6]) + mt_requant(xb - p[3], p[7], p[8]);
        if (e == 1) ((int8_t *)y)[i] = mt_sat8(sum);
        else ((int16_t *)y)[i] = mt_sat16(sum);
    }
}

/* Both terms at the common exponent c = max(ea, eb) - 46: exact for the larger
 * (2^15 2^46 < 2^62), the smaller rounded half up when it lies further below. */
#define G16_SUM_SPAN 46

static int64_t g16_pair_sum(int16_t ga, int64_t sa, int16_t gb, int64_t sb)
{
    return mt_round_shift((int64_t)ga, sa) + mt_round_shift((int64_t)gb, sb);
}

/* Y = A + B as g16 (p = [NUMEL]); Y may be A (or B): pass 1 finds the largest
 * sum, pass 2 writes each element after reading its two terms. */
void mt_qg16_add(const void *a, const void *b, void *y, int numel)
{
    const int16_t *ga = mt_g16_cvals(a), *gb = mt_g16_cvals(b);
    int16_t *gy = mt_g16_vals(y);
    int64_t ea = mt_g16_exp(a), eb = mt_g16_exp(b);
    int64_t c = (ea > eb ? ea : eb) - G16_SUM_SPAN, sa = c - ea, sb = c - eb;
    uint64_t top = 0;
    for (int i = 0; i < numel; i++) {
        uint64_t m = mt_abs64(g16_pair_sum(ga[i], sa, gb[i], sb));
        if (m > top) top = m;
    }
    int s = mt_g16_shift(top);
    for (int i = 0; i < numel; i++) gy[i] = mt_sat16(mt_round_shift(g16_pair_sum(ga[i], sa, gb[i], sb), s));
    mt_g16_set_exp(y, c + s);
}
