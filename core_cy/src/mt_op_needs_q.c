/* Size rules of the integer ops (docs/int8.md): element bytes E pick int8 or
 * int16 activations / weights; gradients are g16 (an int32 exponent, then
 * int16 values). Dimensions stay <= 65536 so no integer sum can overflow. */
#include "mt_op_needs.h"

#define G16(numel) (4u + 2u * (uint64_t)(numel))
#define I32 4u
#define MAX_DIM 65536
#define MAX_NUMEL (1 << 30)

static int dims_ok(const int32_t *p, int count)
{
    for (int i = 0; i < count; i++)
        if (p[i] <= 0 || p[i] > MAX_DIM) return 0;
    return 1;
}

static int elem_ok(int32_t e)
{
    return e == 1 || e == 2;
}

/* A zero point representable in the element type. */
static int zero_point_ok(int32_t z, int32_t e)
{
    int32_t lim = e == 1 ? 128 : 32768;
    return z >= -lim && z < lim;
}

static void set_needs(mt_op_needs *needs, int n_slots, const uint64_t *sizes)
{
    needs->n_slots = (uint8_t)n_slots;
    for (int i = 0; i < n_slots; i++) needs->need[i] = sizes[i];
}

mt_status mt_qfc_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!dims_ok(p, 3) || !elem_ok(p[3]) || !zero_point_ok(p[4], p[3])) return MT_ERR_BAD_OP;
    uint64_t n = (uint64_t)p[0], in = (uint64_t)p[1], out = (uint64_t)p[2], e = (uint64_t)p[3];
    uint64_t x = n * in * e, w = out * in * e;
    if (op->kind == MT_OP_QFC_FWD) {
        if (!zero_point_ok(p[5], p[3])) return MT_ERR_BAD_OP;
        const uint64_t fwd[5] = {x, w, out * I32, n * out * e, 2 * out * I32};
        set_needs(needs, 5, fwd);
    } else if (op->kind == MT_OP_QFC_GRAD) {
        const uint64_t grad[4] = {x, G16(n * out), G16(out * in), G16(out)};
        set_needs(needs, 4, grad);
    } else {
        /* p[4] is ws_exp, any value (shift amounts are clamped) */
        const uint64_t deriv[4] = {G16(n * out), w, out * I32, G16(n * in)};
        set_needs(needs, 4, deriv);
    }
    return MT_OK;
}

mt_status mt_qrelu_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[0] > MAX_NUMEL || !elem_ok(p[1]) || !zero_point_ok(p[2], p[1]))
        return MT_ERR_BAD_OP;
    uint64_t x = (uint64_t)p[0] * (uint64_t)p[1];
    const uint64_t fwd[2] = {x, x}, deriv[3] = {x, G16(p[0]), G16(p[0])};
    if (op->kind == MT_OP_QRELU_FWD) set_needs(needs, 2, fwd);
    else set_needs(needs, 3, deriv);
    return MT_OK;
}

mt_status mt_qce_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!dims_ok(p, 2)) return MT_ERR_BAD_OP;
    uint64_t nf = (uint64_t)p[0] * (uint64_t)p[1], t = (uint64_t)p[0] * I32;
    if (op->kind == MT_OP_QCE_SOFTMAX_FWD) {
        /* p[3], p[4]: the multiplier of s_z * 2^16 (M in [0, 2^15), shift in [-62, 62]) */
        if (!elem_ok(p[2]) || p[3] < 0 || p[3] >= 32768 || p[4] < -62 || p[4] > 62)
            return MT_ERR_BAD_OP;
        const uint64_t fwd[4] = {nf * (uint64_t)p[2], t, nf * I32, 2 * I32};
        set_needs(needs, 4, fwd);
    } else {
        const uint64_t deriv[3] = {nf * I32, t, G16(nf)};
        set_needs(needs, 3, deriv);
    }
    return MT_OK;
}

mt_status mt_qsgd_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[0] > MAX_NUMEL || (p[1] != 1 && p[1] != 2 && p[1] != 4)) return MT_ERR_BAD_OP;
    if (p[2] <= 0 || p[0] % p[2] || p[3] < 0 || p[3] > 32767) return MT_ERR_BAD_OP;
    uint64_t numel = (uint64_t)p[0];
    const uint64_t sizes[5] = {numel * (uint64_t)p[1], G16(numel), 2u * I32 * (uint64_t)p[2],
                               I32, G16(numel)};
    set_needs(needs, p[3] ? 5 : 4, sizes);  /* MOM (m16, the g16 layout) only with momentum */
    return MT_OK;
}

/* QNARROW: int32 in; QUANTIZE: float in; DEQUANTIZE: float out. */
mt_status mt_qconvert_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[0] > MAX_NUMEL || !elem_ok(p[1])) return MT_ERR_BAD_OP;
    if (op->kind != MT_OP_QNARROW && !zero_point_ok(p[2], p[1])) return MT_ERR_BAD_OP;
    uint64_t wide = (uint64_t)p[0] * I32, narrow = (uint64_t)p[0] * (uint64_t)p[1];
    const uint64_t to_narrow[2] = {wide, narrow}, to_wide[2] = {narrow, wide};
    set_needs(needs, 2, op->kind == MT_OP_DEQUANTIZE ? to_wide : to_narrow);
    return MT_OK;
}

/* As the float ops: implied bottom/right padding in (-stride, kernel). */
static int window_ok(int32_t in, int32_t k, int32_t s, int32_t pad, int32_t out)
{
    int64_t far_pad = (int64_t)(out - 1) * s + k - in - pad;
    return pad >= 0 && pad < k && far_pad > -s && far_pad < k;
}

static int positive(const int32_t *p, int count)
{
    for (int i = 0; i < count; i++)
        if (p[i] <= 0) return 0;
    return 1;
}

/* Product of positive dimensions, saturating far above MAX_NUMEL. */
static uint64_t prod4(int32_t a, int32_t b, int32_t c, int32_t d)
{
    const int32_t f[4] = {a, b, c, d};
    uint64_t r = 1;
    for (int i = 0; i < 4; i++) {
        r *= (uint64_t)f[i];   /* r <= 2^40 and f < 2^31: no wrap */
        if (r > ((uint64_t)1 << 40)) r = (uint64_t)1 << 40;
    }
    return r;
}

/* p = [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW, G, E, ZP or ws_exp] */
mt_status mt_qconv_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 9) || !positive(p + 11, 3) || p[1] % p[13] || p[4] % p[13]) return MT_ERR_BAD_OP;
    if (!window_ok(p[2], p[5], p[7], p[9], p[11]) || !window_ok(p[3], p[6], p[8], p[10], p[12]))
        return MT_ERR_BAD_OP;
    if (!elem_ok(p[14])) return MT_ERR_BAD_OP;
    if (op->kind != MT_OP_QCONV_DERIV && (p[15] < 0 || p[15] > 0xFFFF)) return MT_ERR_BAD_OP;
    uint64_t taps = (uint64_t)p[5] * (uint64_t)p[6];
    if (taps * (uint64_t)(p[1] / p[13]) > MAX_DIM || taps * (uint64_t)(p[4] / p[13]) > MAX_DIM)
        return MT_ERR_BAD_OP;  /* int32 sums (int8) and int64 sums stay exact */
    uint64_t e = (uint64_t)p[14];
    uint64_t xn = prod4(p[0], p[1], p[2], p[3]), yn = prod4(p[0], p[4], p[11], p[12]);
    uint64_t wn = prod4(p[4], p[1] / p[13], p[5], p[6]), oc = (uint64_t)p[4];
    if (xn > MAX_NUMEL || yn > MAX_NUMEL || wn > MAX_NUMEL) return MT_ERR_BAD_OP;
    if (op->kind == MT_OP_QCONV_FWD) {
        const uint64_t fwd[5] = {xn * e, wn * e, oc * I32, yn * e, 2 * oc * I32};
        set_needs(needs, 5, fwd);
    } else if (op->kind == MT_OP_QCONV_GRAD) {
        const uint64_t grad[4] = {xn * e, G16(yn), G16(wn), G16(oc)};
        set_needs(needs, 4, grad);
    } else {
        const uint64_t deriv[4] = {G16(yn), wn * e, oc * I32, G16(xn)};
        set_needs(needs, 4, deriv);
    }
    return MT_OK;
}

/* p = [N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW, E (forwards), z (average forward)] */
mt_status mt_qpool_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 8) || !positive(p + 10, 2)) return MT_ERR_BAD_OP;
    if (!window_ok(p[2], p[4], p[6], p[8], p[10]) || !window_ok(p[3], p[5], p[7], p[9], p[11]))
        return MT_ERR_BAD_OP;
    uint64_t xn = prod4(p[0], p[1], p[2], p[3]), yn = prod4(p[0], p[1], p[10], p[11]);
    if (xn > MAX_NUMEL || yn > MAX_NUMEL || (uint64_t)p[4] * (uint64_t)p[5] > MAX_DIM)
        return MT_ERR_BAD_OP;
    int fwd = op->kind == MT_OP_QMAXPOOL_FWD || op->kind == MT_OP_QAVGPOOL_FWD ||
              op->kind == MT_OP_QMAXPOOL_DERIV_X;   /* E: the element bytes of X */
    if (fwd && !elem_ok(p[12])) return MT_ERR_BAD_OP;
    if (op->kind == MT_OP_QAVGPOOL_FWD && !zero_point_ok(p[13], p[12])) return MT_ERR_BAD_OP;
    uint64_t e = fwd ? (uint64_t)p[12] : 0;
    const uint64_t max_fwd[3] = {xn * e, yn * e, yn * I32}, max_deriv[3] = {G16(yn), yn * I32, G16(xn)};
    const uint64_t avg_fwd[2] = {xn * e, yn * e}, avg_deriv[2] = {G16(yn), G16(xn)};
    const uint64_t max_deriv_x[3] = {G16(yn), xn * e, G16(xn)};
    switch (op->kind) {
    case MT_OP_QMAXPOOL_FWD: set_needs(needs, 3, max_fwd); break;
    case MT_OP_QMAXPOOL_DERIV: set_needs(needs, 3, max_deriv); break;
    case MT_OP_QMAXPOOL_DERIV_X: set_needs(needs, 3, max_deriv_x); break;
    case MT_OP_QAVGPOOL_FWD: set_needs(needs, 2, avg_fwd); break;
    default: set_needs(needs, 2, avg_deriv); break;
    }
    return MT_OK;
}

/* p = [NUMEL, E (1, 2, 4), CH, B1, B2 in [0, 2^30), EPS_M in [0, 2^15), EPS_SH in [-62, 62]] */
mt_status mt_qadam_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[0] > MAX_NUMEL || (p[1] != 1 && p[1] != 2 && p[1] != 4)) return MT_ERR_BAD_OP;
    if (p[2] <= 0 || p[0] % p[2]) return MT_ERR_BAD_OP;
    if (p[3] < 0 || p[3] >= (1 << 30) || p[4] < 0 || p[4] >= (1 << 30)) return MT_ERR_BAD_OP;
    if (p[5] < 0 || p[5] >= 32768 || p[6] < -62 || p[6] > 62) return MT_ERR_BAD_OP;
    uint64_t numel = (uint64_t)p[0];
    const uint64_t sizes[7] = {numel * (uint64_t)p[1], G16(numel), 2u * I32 * (uint64_t)p[2],
                               G16(numel), G16(numel), 3 * I32, I32};   /* m, v: a16 */
    set_needs(needs, 7, sizes);
    return MT_OK;
}

/* QADD_FWD: two activations in, one out (E-byte elements); QG16_ADD: three g16. */
mt_status mt_qadd_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[0] > MAX_NUMEL) return MT_ERR_BAD_OP;
    uint64_t numel = (uint64_t)p[0];
    if (op->kind == MT_OP_QG16_ADD) {
        const uint64_t sums[3] = {G16(numel), G16(numel), G16(numel)};
        set_needs(needs, 3, sums);
        return MT_OK;
    }
    if (!elem_ok(p[1]) || !zero_point_ok(p[2], p[1]) || !zero_point_ok(p[3], p[1]) ||
        !zero_point_ok(p[4], p[1]))
        return MT_ERR_BAD_OP;
    if (p[6] < -62 || p[6] > 62 || p[8] < -62 || p[8] > 62) return MT_ERR_BAD_OP;
    uint64_t bytes = numel * (uint64_t)p[1];
    const uint64_t acts[3] = {bytes, bytes, bytes};
    set_needs(needs, 3, acts);
    return MT_OK;
}

/* Fused QFC weight gradient + step (kinds 121, 122): QFC_GRAD's inputs and the
 * optimizer's slots; GE (int32: the gradient exponent of the last step) is 121's
 * last slot and 122's STEP[3]. p = [N, IN, OUT, E (1, 2), zx, then mu (121) or
 * B1, B2, EPS_M, EPS_SH (122)]. QFC_BIAS_GRAD (123): [dY, dB], p = [N, OUT]. */
mt_status mt_qfused_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (op->kind == MT_OP_QFC_BIAS_GRAD) {
        if (!dims_ok(p, 2)) return MT_ERR_BAD_OP;
        const uint64_t bias[2] = {G16((uint64_t)p[0] * (uint64_t)p[1]), G16(p[1])};
        set_needs(needs, 2, bias);
        return MT_OK;
    }
    if (!dims_ok(p, 3) || !elem_ok(p[3]) || !zero_point_ok(p[4], p[3])) return MT_ERR_BAD_OP;
    uint64_t n = (uint64_t)p[0], in = (uint64_t)p[1], out = (uint64_t)p[2], e = (uint64_t)p[3];
    uint64_t x = n * in * e, dy = G16(n * out), w = out * in * e, lr = 2u * I32 * out;
    if (op->kind == MT_OP_QFC_GRAD_QSGD) {
        /* momentum needs its buffer (QSGD_APPLY's rule): a slot may not vanish silently */
        if (p[5] < 0 || p[5] > 32767 || (p[5] && op->t[5] == MT_NO_TENSOR)) return MT_ERR_BAD_OP;
        const uint64_t sgd[7] = {x, dy, w, lr, I32, G16(out * in), I32};
        set_needs(needs, 7, sgd);
        return MT_OK;
    }
    if (p[5] < 0 || p[5] >= (1 << 30) || p[6] < 0 || p[6] >= (1 << 30)) return MT_ERR_BAD_OP;
    if (p[7] < 0 || p[7] >= 32768 || p[8] < -62 || p[8] > 62) return MT_ERR_BAD_OP;
    const uint64_t adam[8] = {x, dy, w, lr, G16(out * in), G16(out * in), 4 * I32, I32};
    set_needs(needs, 8, adam);
    return MT_OK;
}
