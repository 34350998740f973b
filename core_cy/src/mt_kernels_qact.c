/* Integer ReLU (clamp at the zero point) and the int32 -> int8/int16 narrowing
 * of pre-quantized input. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

void mt_qrelu_fwd(int e, const void *x, void *y, int numel, int z)
{
    if (e == 1) {
        const int8_t *xs = x;
        int8_t *ys = y;
        for (int i = 0; i < numel; i++) ys[i] = xs[i] > z ? xs[i] : (int8_t)z;
    } else {
        const int16_t *xs = x;
        int16_t *ys = y;
        for (int i = 0; i < numel; i++) ys[i] = xs[i] > z ? xs[i] : (int16_t)z;
    }
}

/* dX may be dY: the exponent is the same, values are read before written. */
void mt_qrelu_deriv(int e, const void *y, const void *dy, void *dx, int numel, int z)
{
    const int16_t *dyv = mt_g16_cvals(dy);
    int16_t *dxv = mt_g16_vals(dx);
    mt_g16_set_exp(dx, mt_g16_exp(dy));
    if (e == 1) {
        const int8_t *ys = y;
        for (int i = 0; i < numel; i++) dxv[i] = ys[i] > z ? dyv[i] : 0;
    } else {
        const int16_t *ys = y;
        for (int i = 0; i < numel; i++) dxv[i] = ys[i] > z ? dyv[i] : 0;
    }
}

void mt_qnarrow(int e, const int32_t *x, void *y, int numel)
{
    if (e == 1) {
        int8_t *ys = y;
        for (int i = 0; i < numel; i++) ys[i] = mt_sat8(x[i]);
    } else {
        int16_t *ys = y;
        for (int i = 0; i < numel; i++) ys[i] = mt_sat16(x[i]);
    }
}
