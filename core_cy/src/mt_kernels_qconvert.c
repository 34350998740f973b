/* Float <-> integer conversion at the edges of an integer graph (the only
 * integer-op kernels that use float; left out with MT_NO_FLOAT_KERNELS). */
#ifndef MT_NO_FLOAT_KERNELS
#include "mt_kernels_q.h"
#include "mt_requant.h"

/* Round half away from zero, exactly: truncate, then look at the remainder
 * (v - trunc(v) is exact in float). NaN becomes 0; large values saturate. */
static int64_t round_away(float v)
{
    if (!(v == v)) return 0;
    if (v > 1e9f) return 1000000000;
    if (v < -1e9f) return -1000000000;
    int64_t r = (int64_t)v;
    float frac = v - (float)r;
    if (frac >= 0.5f) r++;
    if (frac <= -0.5f) r--;
    return r;
}

void mt_quantize(int e, const float *x, void *y, int numel, int z, float inv_scale)
{
    for (int i = 0; i < numel; i++) {
        int64_t q = round_away(x[i] * inv_scale) + z;
        if (e == 1) ((int8_t *)y)[i] = mt_sat8(q);
        else ((int16_t *)y)[i] = mt_sat16(q);
    }
}

void mt_dequantize(int e, const void *x, float *y, int numel, int z, float scale)
{
    for (int i = 0; i < numel; i++) {
        int32_t q = e == 1 ? ((const int8_t *)x)[i] : ((const int16_t *)x)[i];
        y[i] = (float)(q - z) * scale;
    }
}
#else
typedef int mt_no_float_conversions; /* ISO C: a translation unit is never empty */
#endif
