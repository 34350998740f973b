/* Size rules per op family. Sizes are computed in 64 bits and saturate, so
 * hostile params can never wrap around to a small size. */
#include "mt_op_needs.h"
#include "mt_kernels.h"

#define F32 4u
/* Products saturate far above any arena (<= 4 GiB). */
#define SIZE_LIMIT ((uint64_t)1 << 40)

static uint64_t mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > SIZE_LIMIT / a) return SIZE_LIMIT;
    return a * b;
}

static uint64_t mul4(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    return mul(mul(a, b), mul(c, d));
}

static int positive(const int32_t *p, int count)
{
    for (int i = 0; i < count; i++)
        if (p[i] <= 0) return 0;
    return 1;
}

static void set_needs(mt_op_needs *needs, int n_slots, const uint64_t *sizes)
{
    needs->n_slots = (uint8_t)n_slots;
    for (int i = 0; i < n_slots; i++) needs->need[i] = sizes[i];
}

/* FC and conv share their slot layouts: forward [X, W, B?, Y],
 * gradient [X, dY, dW, dB?], derivative [dY, W, dX]. */
static void weighted_needs(mt_op_needs *needs, uint16_t kind, uint64_t x, uint64_t w,
                           uint64_t b, uint64_t y)
{
    if (kind == MT_OP_FC_FWD || kind == MT_OP_CONV_FWD) {
        const uint64_t sizes[4] = {x, w, b, y};
        set_needs(needs, 4, sizes);
    } else if (kind == MT_OP_FC_GRAD || kind == MT_OP_CONV_GRAD) {
        const uint64_t sizes[4] = {x, y, w, b};
        set_needs(needs, 4, sizes);
    } else {
        const uint64_t sizes[3] = {y, w, x};
        set_needs(needs, 3, sizes);
    }
}

mt_status mt_fc_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 3)) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], F32, 1), w = mul4(p[2], p[1], F32, 1);
    uint64_t b = mul(p[2], F32), y = mul4(p[0], p[2], F32, 1);
    weighted_needs(needs, op->kind, x, w, b, y);
    return MT_OK;
}

/* FC_FWD's slots, then the scratch: p[3] bytes, at least the packed operands'. */
mt_status mt_fc_packed_needs(const mt_op *op, mt_op_needs *needs)
{
    mt_op fwd = *op;
    fwd.kind = MT_OP_FC_FWD;
    if (mt_fc_needs(&fwd, needs) != MT_OK) return MT_ERR_BAD_OP;
    if (op->p[3] <= 0 || (uint64_t)op->p[3] < mt_fc_packed_scratch_bytes(op->p[0], op->p[1], 0))
        return MT_ERR_BAD_OP;
    needs->need[needs->n_slots++] = (uint64_t)op->p[3];
    return MT_OK;
}

/* Implied bottom/right padding must lie in (-stride, kernel): a negative value
 * means trailing input the window never reaches (floor rounding); anything else is
 * a planner bug or a hostile bundle. */
static int window_ok(int32_t in, int32_t k, int32_t s, int32_t pad, int32_t out)
{
    int64_t far_pad = (int64_t)(out - 1) * s + k - in - pad;
    return pad >= 0 && pad < k && far_pad > -s && far_pad < k;
}

mt_status mt_conv_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 9) || !positive(p + 11, 3)) return MT_ERR_BAD_OP;
    if (p[1] % p[13] || p[4] % p[13]) return MT_ERR_BAD_OP;
    if (!window_ok(p[2], p[5], p[7], p[9], p[11]) || !window_ok(p[3], p[6], p[8], p[10], p[12]))
        return MT_ERR_BAD_OP;
    uint64_t x = mul(mul4(p[0], p[1], p[2], p[3]), F32);
    uint64_t w = mul(mul4(p[4], p[1] / p[13], p[5], p[6]), F32);
    uint64_t b = mul(p[4], F32);
    uint64_t y = mul(mul4(p[0], p[4], p[11], p[12]), F32);
    /* the scratch slot comes last: p[14] bytes planned by the host, 0 for the minimum */
    if (p[14] != 0 && (p[14] < MT_CONV_SCRATCH_BYTES || p[14] % 4)) return MT_ERR_BAD_OP;
    weighted_needs(needs, op->kind, x, w, b, y);
    needs->need[needs->n_slots++] = p[14] ? (uint64_t)p[14] : MT_CONV_SCRATCH_BYTES;
    return MT_OK;
}

/* A conv tile's channel range keeps the untiled derivative's blocks of 4
 * (mt_kernels_tile_conv.c). */
static int channel_range_ok(const int32_t *p)
{
    int64_t oc = p[4], o0 = p[13], rows = p[15];
    if (o0 < 0 || rows <= 0 || o0 + rows > oc || o0 % 4) return 0;
    if (o0 == 0 && rows == oc) return 1;
    return rows >= 4 && (rows % 4 == 0 || o0 + rows == oc);
}

/* CONV_FWD / GRAD / DERIV's rules on the whole layer (groups 1), the weight
 * slot holding ROWS filters. */
mt_status mt_conv_tile_needs(const mt_op *op, mt_op_needs *needs)
{
    mt_op whole = *op;
    int weight_slot = 1;
    mt_status status;
    if (!channel_range_ok(op->p)) return MT_ERR_BAD_OP;
    whole.p[13] = 1;
    if (op->kind == MT_OP_CONV_FWD_TILE || op->kind == MT_OP_CONV_FWD_TILE_NEXT) {
        whole.kind = MT_OP_CONV_FWD;
    } else if (op->kind == MT_OP_CONV_GRAD_TILE) {
        whole.kind = MT_OP_CONV_GRAD;
        weight_slot = 2;
    } else {
        whole.kind = MT_OP_CONV_DERIV;
    }
    status = mt_conv_needs(&whole, needs);
    if (status != MT_OK) return status;
    needs->need[weight_slot] = mul(mul4(op->p[15], op->p[1], op->p[5], op->p[6]), F32);
    return MT_OK;
}

mt_status mt_pool_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 8) || !positive(p + 10, 2)) return MT_ERR_BAD_OP;
    if (!window_ok(p[2], p[4], p[6], p[8], p[10]) || !window_ok(p[3], p[5], p[7], p[9], p[11]))
        return MT_ERR_BAD_OP;
    uint64_t x = mul(mul4(p[0], p[1], p[2], p[3]), F32);
    uint64_t y = mul(mul4(p[0], p[1], p[10], p[11]), F32);
    const uint64_t max_fwd[3] = {x, y, y}, max_deriv[3] = {y, y, x};
    const uint64_t avg_fwd[2] = {x, y}, avg_deriv[2] = {y, x};
    switch (op->kind) {
    case MT_OP_MAXPOOL_FWD: set_needs(needs, 3, max_fwd); break;
    case MT_OP_MAXPOOL_DERIV: set_needs(needs, 3, max_deriv); break;
    case MT_OP_AVGPOOL_FWD: set_needs(needs, 2, avg_fwd); break;
    case MT_OP_AVGPOOL_DERIV: set_needs(needs, 2, avg_deriv); break;
    default: return MT_ERR_BAD_OP;
    }
    return MT_OK;
}

mt_status mt_act_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 2) || p[2] < MT_ACT_RELU || p[2] > MT_ACT_SOFTMAX) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], F32, 1);
    const uint64_t sizes[3] = {x, x, x};
    set_needs(needs, op->kind == MT_OP_ACT_FWD ? 2 : 3, sizes);
    return MT_OK;
}

mt_status mt_bn_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 3)) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], p[2], F32), c = mul(p[1], F32);
    const uint64_t fwd[8] = {x, c, c, c, c, x, c, c};
    const uint64_t grad[6] = {x, x, c, c, c, c};
    const uint64_t deriv[6] = {x, x, c, c, c, x};
    if (op->kind == MT_OP_BN_FWD) set_needs(needs, 8, fwd);
    else if (op->kind == MT_OP_BN_GRAD) set_needs(needs, 6, grad);
    else set_needs(needs, 6, deriv);
    return MT_OK;
}

/* ADD takes every leading slot up to the first MT_NO_TENSOR: Y and 2..7 inputs. */
static int add_slots(const mt_op *op)
{
    int n = 0;
    while (n < MT_OP_MAX_TENSORS && op->t[n] != MT_NO_TENSOR) n++;
    return n;
}

mt_status mt_elementwise_needs(const mt_op *op, mt_op_needs *needs)
{
    if (op->p[0] <= 0) return MT_ERR_BAD_OP;
    uint64_t x = mul(op->p[0], F32);
    uint64_t sizes[MT_OP_MAX_TENSORS] = {x, x, x, x, x, x, x, x};
    int n_slots = 3; /* dropout derivative */
    if (op->kind == MT_OP_ADD) {
        n_slots = add_slots(op);
        if (n_slots < 3) return MT_ERR_BAD_OP;
    } else if (op->kind == MT_OP_COPY) {
        n_slots = 2;
    } else if (op->kind == MT_OP_DROPOUT_FWD) {
        if (!(op->f[0] >= 0.0f && op->f[0] < 1.0f)) return MT_ERR_BAD_OP;
        n_slots = 4;
        sizes[3] = 4; /* the xorshift32 state */
    }
    set_needs(needs, n_slots, sizes);
    return MT_OK;
}

static int is_loss_forward(uint16_t kind)
{
    return kind == MT_OP_LOSS_MSE_FWD || kind == MT_OP_LOSS_CE_SOFTMAX_FWD ||
           kind == MT_OP_LOSS_CE_SIGMOID_FWD;
}

mt_status mt_loss_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 2) || (p[2] != MT_LABEL_INDEX && p[2] != MT_LABEL_DENSE)) return MT_ERR_BAD_OP;
    if (p[3] < 0) return MT_ERR_BAD_OP;  /* micro-batches per iteration */
    uint64_t y = mul4(p[0], p[1], F32, 1);
    uint64_t t = p[2] == MT_LABEL_INDEX ? mul(p[0], 4u) : y;
    const uint64_t mse_fwd[3] = {y, t, 2 * F32};
    const uint64_t ce_fwd[4] = {y, t, y, 2 * F32};
    const uint64_t deriv[3] = {y, t, y};
    if (op->kind == MT_OP_LOSS_MSE_FWD) set_needs(needs, 3, mse_fwd);
    else if (is_loss_forward(op->kind)) set_needs(needs, 4, ce_fwd);
    else set_needs(needs, 3, deriv);
    return MT_OK;
}

mt_status mt_optim_needs(const mt_op *op, mt_op_needs *needs)
{
    if (op->p[0] <= 0 || (op->p[1] != 0 && op->p[1] != 1)) return MT_ERR_BAD_OP;
    uint64_t w = mul(op->p[0], F32);
    const uint64_t sizes[5] = {w, w, w, w, 4 /* Adam's uint32 step */};
    if (op->kind == MT_OP_SGD_APPLY) set_needs(needs, op->f[1] != 0.0f ? 3 : 2, sizes);
    else set_needs(needs, 5, sizes);
    return MT_OK;
}

/* p = [NUMEL, act]: LEAKY_RELU..GELU only (the others are ACT_* ops). */
mt_status mt_actx_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[1] < MT_ACT_LEAKY_RELU || p[1] > MT_ACT_GELU) return MT_ERR_BAD_OP;
    uint64_t x = mul(p[0], F32);
    const uint64_t sizes[3] = {x, x, x};
    set_needs(needs, op->kind == MT_OP_ACTX_FWD ? 2 : 3, sizes);
    return MT_OK;
}

/* SUB / MUL: 3 slots, NEG / DECAY_GRAD: 2, all NUMEL floats;
 * L2NORM_LOSS: [W (NUMEL floats), METRICS (2 floats)]. */
mt_status mt_binary_needs(const mt_op *op, mt_op_needs *needs)
{
    if (op->p[0] <= 0) return MT_ERR_BAD_OP;
    uint64_t x = mul(op->p[0], F32);
    uint64_t sizes[3] = {x, x, x};
    if (op->kind == MT_OP_L2NORM_LOSS) sizes[1] = 2 * F32;
    set_needs(needs, (op->kind == MT_OP_SUB || op->kind == MT_OP_MUL) ? 3 : 2, sizes);
    return MT_OK;
}

/* L2NORM_LOSS_TILE(_NEXT): [Wc (NUMEL floats), METRICS (2 floats), SUM (a double)],
 * p = [NUMEL, LAST] with LAST in {0, 1}. */
mt_status mt_l2norm_tile_needs(const mt_op *op, mt_op_needs *needs)
{
    if (op->p[0] <= 0 || (op->p[1] != 0 && op->p[1] != 1)) return MT_ERR_BAD_OP;
    const uint64_t sizes[3] = {mul(op->p[0], F32), 2 * F32, 8};
    set_needs(needs, 3, sizes);
    return MT_OK;
}

/* CONCAT: K in 2..7, N1..NK > 0, the rest 0; Y holds OUTER * sum N. */
static mt_status concat_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    int k = p[1];
    uint64_t total = 0;
    if (p[0] <= 0 || k < 2 || k > MT_OP_MAX_TENSORS - 1) return MT_ERR_BAD_OP;
    for (int i = 0; i < MT_OP_MAX_TENSORS - 1; i++) {
        if ((i < k) != (p[2 + i] > 0)) return MT_ERR_BAD_OP;
        if (i < k) {
            needs->need[1 + i] = mul4(p[0], p[2 + i], F32, 1);
            total += (uint64_t)p[2 + i];
        }
    }
    needs->need[0] = mul4(p[0], total, F32, 1);
    needs->n_slots = (uint8_t)(1 + k);
    return MT_OK;
}

/* PERMUTE: every index Y reads lies inside X (same element count);
 * UPSAMPLE: X (PLANES, H, W), Y (PLANES, H KH, W KW). */
mt_status mt_shape_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (op->kind == MT_OP_CONCAT || op->kind == MT_OP_CONCAT_DERIV) return concat_needs(op, needs);
    if (op->kind == MT_OP_SLICE || op->kind == MT_OP_SLICE_DERIV) {
        /* p = [OUTER, TOTAL, OFFSET, N]: OFFSET + N within TOTAL */
        if (p[0] <= 0 || p[1] <= 0 || p[2] < 0 || p[3] <= 0 || p[3] > p[1] - p[2])
            return MT_ERR_BAD_OP;
        uint64_t whole = mul4(p[0], p[1], F32, 1), part = mul4(p[0], p[3], F32, 1);
        const uint64_t fwd[2] = {whole, part}, deriv[2] = {part, whole};
        set_needs(needs, 2, op->kind == MT_OP_SLICE ? fwd : deriv);
        return MT_OK;
    }
    if (op->kind == MT_OP_PERMUTE) {
        if (!positive(p, 7)) return MT_ERR_BAD_OP;
        uint64_t numel = mul4(p[1], p[2], p[3], 1);
        uint64_t last = mul(p[1] - 1, p[4]) + mul(p[2] - 1, p[5]) + mul(p[3] - 1, p[6]);
        if (last >= numel) return MT_ERR_BAD_OP;
        const uint64_t sizes[2] = {mul4(p[0], numel, F32, 1), mul4(p[0], numel, F32, 1)};
        set_needs(needs, 2, sizes);
        return MT_OK;
    }
    if (!positive(p, 5)) return MT_ERR_BAD_OP;
    uint64_t small = mul4(p[0], p[1], p[2], F32), big = mul(small, mul(p[3], p[4]));
    const uint64_t fwd[2] = {small, big}, deriv[2] = {big, small};
    set_needs(needs, 2, op->kind == MT_OP_UPSAMPLE_FWD ? fwd : deriv);
    return MT_OK;
}

mt_status mt_ln_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 2)) return MT_ERR_BAD_OP;
    if (op->kind == MT_OP_LN_FWD && !(op->f[0] > 0.0f)) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], F32, 1), c = mul(p[1], F32), r = mul(p[0], F32);
    const uint64_t fwd[6] = {x, c, c, x, r, r}, grad[6] = {x, x, r, r, c, c},
                   deriv[6] = {x, x, c, r, r, x};
    set_needs(needs, 6, op->kind == MT_OP_LN_FWD ? fwd : op->kind == MT_OP_LN_GRAD ? grad : deriv);
    return MT_OK;
}
