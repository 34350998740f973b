/* Deterministic expf/logf from IEEE arithmetic only (see mt_math.h).
 * Range reduction uses a Cody-Waite split of ln 2 so k * LN2_HI is exact. */
#include <string.h>
#include "mt_math.h"

#define LN2_HI 0.693145751953125f        /* ln 2 rounded to 16 bits: k * LN2_HI exact */
#define LN2_LO 1.428606820309417e-06f    /* ln 2 - LN2_HI */
#define INV_LN2 1.44269504088896341f
#define EXP_OVERFLOW 88.72283935546875f  /* largest x with finite e^x in float */
#define EXP_UNDERFLOW -103.97208404541015625f

static float from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* 2^k for k in [-126, 127]. */
static float pow2(int k)
{
    return from_bits((uint32_t)(k + 127) << 23);
}

/* e^r for |r| <= ln2/2: 1 + r + r^2 (1/2 + r/6 + ...), Taylor to degree 7
 * (truncation below 1e-8 relative). */
static float exp_reduced(float r)
{
    float tail = 1.0f / 5040.0f;
    tail = 1.0f / 720.0f + r * tail;
    tail = 1.0f / 120.0f + r * tail;
    tail = 1.0f / 24.0f + r * tail;
    tail = 1.0f / 6.0f + r * tail;
    tail = 0.5f + r * tail;
    return 1.0f + (r + (r * r) * tail);
}

float mt_expf(float x)
{
    if (x != x) return x;
    if (x > EXP_OVERFLOW) return from_bits(0x7f800000u);
    if (x < EXP_UNDERFLOW) return 0.0f;
    float scaled = x * INV_LN2;
    int k = (int)(scaled < 0.0f ? scaled - 0.5f : scaled + 0.5f);
    float r = (x - (float)k * LN2_HI) - (float)k * LN2_LO;
    float p = exp_reduced(r);
    /* 2^k in two factors where one would leave float's normal range */
    if (k > 127) return p * pow2(127) * pow2(k - 127);
    if (k < -126) return p * pow2(k + 100) * pow2(-100);
    return p * pow2(k);
}

/* log(1 + f) - f + f^2/2 for f = m - 1, m in [sqrt(1/2), sqrt(2)) (fdlibm's
 * scheme: the leading term f is exact, only small corrections round).
 * s = f / (2 + f), |s| <= 0.172; series to s^14 (truncation below 1e-11). */
static float log_correction(float f, float half_f_squared)
{
    float s = f / (2.0f + f), z = s * s;
    float series = 2.0f / 13.0f;
    series = 2.0f / 11.0f + z * series;
    series = 2.0f / 9.0f + z * series;
    series = 2.0f / 7.0f + z * series;
    series = 2.0f / 5.0f + z * series;
    series = 2.0f / 3.0f + z * series;
    return s * (half_f_squared + z * series);
}

float mt_logf(float x)
{
    if (x != x || x < 0.0f) return from_bits(0x7fc00000u);
    if (x == 0.0f) return from_bits(0xff800000u);
    if (to_bits(x) >= 0x7f800000u) return x;
    int e = 0;
    if (x < 1.17549435e-38f) { /* subnormal: scale into the normal range first */
        x *= 8388608.0f;
        e = -23;
    }
    uint32_t bits = to_bits(x);
    e += (int)(bits >> 23) - 127;
    float m = from_bits((bits & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    float k = (float)e, f = m - 1.0f, half_f_squared = 0.5f * f * f;
    return k * LN2_HI - ((half_f_squared - (log_correction(f, half_f_squared) + k * LN2_LO)) - f);
}

float mt_one_minus_powf(float base, uint32_t n)
{
    float complement = 0.0f, one_minus_base = 1.0f - base; /* exact for base in [0.5, 1] */
    for (int bit = 31; bit >= 0; bit--) {
        complement = complement * (2.0f - complement);
        if ((n >> bit) & 1u) complement = one_minus_base + base * complement;
    }
    return complement;
}
