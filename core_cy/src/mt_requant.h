/* Integer arithmetic of the integer kernels (docs/int8.md, "Notation and
 * rounding"): shifts defined for negative values, round half up, explicit
 * saturation, requantization by a 15-bit multiplier and a shift, and the g16
 * gradient format. Header-only so the inner loops inline it. No float. */
#ifndef MT_REQUANT_H
#define MT_REQUANT_H

#include <stdint.h>

#define MT_Q_LIM62 ((int64_t)1 << 62)
#define MT_Q_ACC_MAX (((int64_t)1 << 47) - 1)  /* requant input clamp */
#define MT_Q_EXP_MAX ((int64_t)1 << 30)        /* stored g16 exponents */

static inline int64_t mt_q_clamp64(int64_t x, int64_t lo, int64_t hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* floor(x / 2^k), 0 <= k <= 62: C leaves >> of a negative value to the
 * implementation; ~x is non-negative there and ~((~x) >> k) is the floor. */
static inline int64_t mt_floor_shift(int64_t x, int k)
{
    return x >= 0 ? x >> k : ~((~x) >> k);
}

/* Round half up of x / 2^k; k < 0 multiplies by 2^-k, saturating at 2^62.
 * k is clamped to [-62, 62]; |x| must stay below 2^62. */
static inline int64_t mt_round_shift(int64_t x, int64_t k)
{
    if (k > 62) k = 62;
    if (k < -62) k = -62;
    if (k == 0) return x;
    if (k > 0) return mt_floor_shift(x + ((int64_t)1 << (k - 1)), (int)k);
    {
        int64_t lim = MT_Q_LIM62 >> (-k);
        if (x > lim) return MT_Q_LIM62;
        if (x < -lim) return -MT_Q_LIM62;
        return x * ((int64_t)1 << (-k));
    }
}

/* acc * M / 2^sh, rounded half up; M clamped to [0, 2^15), acc to +-(2^47 - 1). */
static inline int64_t mt_requant(int64_t acc, int32_t m, int64_t sh)
{
    int64_t mm = m < 0 ? 0 : m > 32767 ? 32767 : m;
    return mt_round_shift(mt_q_clamp64(acc, -MT_Q_ACC_MAX, MT_Q_ACC_MAX) * mm, sh);
}

/* round_shift by a loop-invariant k in [0, 62], its constants computed once. */
typedef struct {
    int k;
    int64_t half;
} mt_rshift;

static inline mt_rshift mt_rshift_by(int k)
{
    mt_rshift r = {k, k > 0 ? (int64_t)1 << (k - 1) : 0};
    return r;
}

static inline int64_t mt_rshift_apply(mt_rshift r, int64_t x)
{
    return mt_floor_shift(x + r.half, r.k);
}

static inline int8_t mt_sat8(int64_t x)
{
    return (int8_t)mt_q_clamp64(x, -128, 127);
}

static inline int16_t mt_sat16(int64_t x)
{
    return (int16_t)mt_q_clamp64(x, -32768, 32767);
}

static inline int32_t mt_sat32(int64_t x)
{
    return (int32_t)mt_q_clamp64(x, INT32_MIN, INT32_MAX);
}

/* Round half up of a / d for d > 0. */
static inline int64_t mt_div_round(int64_t a, int64_t d)
{
    int64_t num = 2 * a + d, den = 2 * d;
    int64_t q = num / den;                      /* truncates toward zero */
    return (num % den != 0 && num < 0) ? q - 1 : q;  /* floor */
}

/* Number of bits of |x| (0 for 0). */
static inline int mt_bitlen(uint64_t x)
{
    int n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

static inline uint64_t mt_abs64(int64_t x)
{
    return x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
}

/* g16: the shift that brings the largest |sum| into 15 bits. */
static inline int mt_g16_shift(uint64_t max_abs)
{
    int b = mt_bitlen(max_abs) - 15;
    return b > 0 ? b : 0;
}

/* A g16 tensor: int32 exponent, then int16 values (4-byte aligned arena). */
static inline int32_t mt_g16_exp(const void *g)
{
    return *(const int32_t *)g;
}

static inline int16_t *mt_g16_vals(void *g)
{
    return (int16_t *)((int32_t *)g + 1);
}

static inline const int16_t *mt_g16_cvals(const void *g)
{
    return (const int16_t *)((const int32_t *)g + 1);
}

static inline void mt_g16_set_exp(void *g, int64_t e)
{
    *(int32_t *)g = (int32_t)mt_q_clamp64(e, -MT_Q_EXP_MAX, MT_Q_EXP_MAX);
}

/* xorshift32: the new state is the draw (as dropout's generator). */
static inline uint32_t mt_xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

#endif
