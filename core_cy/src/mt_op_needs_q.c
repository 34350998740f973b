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
                               I32, numel * I32};
    set_needs(needs, p[3] ? 5 : 4, sizes);  /* MOM only with momentum */
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
