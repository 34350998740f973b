/* Program validation: everything a kernel will touch is checked here once,
 * so a hostile op list can never make the executor read or write outside
 * the arena. Sizes are computed in 64 bits to rule out overflow. */
#include "mt_exec.h"

#define F32 4u

typedef struct {
    uint64_t need[MT_OP_MAX_TENSORS]; /* bytes each slot must hold */
    uint8_t n_slots;                  /* slots the op uses */
    uint8_t optional;                 /* bit i: slot i may be MT_NO_TENSOR */
} op_needs;

/* Products saturate far above any arena (<= 4 GiB), so hostile params can
 * never wrap around to a small size. */
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

static void set_slots(op_needs *needs, int n_slots, uint8_t optional)
{
    needs->n_slots = (uint8_t)n_slots;
    needs->optional = optional;
}

/* FC and conv share their slot layouts: forward [X, W, B?, Y],
 * gradient [X, dY, dW, dB?], derivative [dY, W, dX]. */
static void weighted_slots(op_needs *needs, int forward, int gradient,
                           uint64_t x, uint64_t w, uint64_t b, uint64_t y)
{
    if (forward) {
        set_slots(needs, 4, 1u << 2);
        needs->need[0] = x; needs->need[1] = w; needs->need[2] = b; needs->need[3] = y;
    } else if (gradient) {
        set_slots(needs, 4, 1u << 3);
        needs->need[0] = x; needs->need[1] = y; needs->need[2] = w; needs->need[3] = b;
    } else {
        set_slots(needs, 3, 0);
        needs->need[0] = y; needs->need[1] = w; needs->need[2] = x;
    }
}

static int fc_needs(const mt_op *op, op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 3)) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], F32, 1), w = mul4(p[2], p[1], F32, 1);
    uint64_t b = mul(p[2], F32), y = mul4(p[0], p[2], F32, 1);
    weighted_slots(needs, op->kind == MT_OP_FC_FWD, op->kind == MT_OP_FC_GRAD, x, w, b, y);
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

static int conv_needs(const mt_op *op, op_needs *needs)
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
    weighted_slots(needs, op->kind == MT_OP_CONV_FWD, op->kind == MT_OP_CONV_GRAD, x, w, b, y);
    return MT_OK;
}

static int pool_needs(const mt_op *op, op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 8) || !positive(p + 10, 2)) return MT_ERR_BAD_OP;
    if (!window_ok(p[2], p[4], p[6], p[8], p[10]) || !window_ok(p[3], p[5], p[7], p[9], p[11]))
        return MT_ERR_BAD_OP;
    uint64_t x = mul(mul4(p[0], p[1], p[2], p[3]), F32);
    uint64_t y = mul(mul4(p[0], p[1], p[10], p[11]), F32);
    switch (op->kind) {
    case MT_OP_MAXPOOL_FWD: set_slots(needs, 3, 0);
        needs->need[0] = x; needs->need[1] = y; needs->need[2] = y; break;
    case MT_OP_MAXPOOL_DERIV: set_slots(needs, 3, 0);
        needs->need[0] = y; needs->need[1] = y; needs->need[2] = x; break;
    case MT_OP_AVGPOOL_FWD: set_slots(needs, 2, 0);
        needs->need[0] = x; needs->need[1] = y; break;
    default: set_slots(needs, 2, 0);
        needs->need[0] = y; needs->need[1] = x; break;
    }
    return MT_OK;
}

static int act_needs(const mt_op *op, op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 2) || p[2] < MT_ACT_RELU || p[2] > MT_ACT_SOFTMAX) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], F32, 1);
    set_slots(needs, op->kind == MT_OP_ACT_FWD ? 2 : 3, 0);
    for (int i = 0; i < needs->n_slots; i++) needs->need[i] = x;
    return MT_OK;
}

static int actx_needs(const mt_op *op, op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[1] < MT_ACT_LEAKY_RELU || p[1] > MT_ACT_GELU) return MT_ERR_BAD_OP;
    set_slots(needs, op->kind == MT_OP_ACTX_FWD ? 2 : 3, 0);
    for (int i = 0; i < needs->n_slots; i++) needs->need[i] = mul(p[0], F32);
    return MT_OK;
}

static int bn_needs(const mt_op *op, op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 3)) return MT_ERR_BAD_OP;
    uint64_t x = mul4(p[0], p[1], p[2], F32), c = mul(p[1], F32);
    if (op->kind == MT_OP_BN_FWD) {
        set_slots(needs, 8, 0);
        uint64_t sizes[8] = {x, c, c, c, c, x, c, c};
        for (int i = 0; i < 8; i++) needs->need[i] = sizes[i];
    } else if (op->kind == MT_OP_BN_GRAD) {
        set_slots(needs, 6, 0);
        uint64_t sizes[6] = {x, x, c, c, c, c};
        for (int i = 0; i < 6; i++) needs->need[i] = sizes[i];
    } else {
        set_slots(needs, 6, 0);
        uint64_t sizes[6] = {x, x, c, c, c, x};
        for (int i = 0; i < 6; i++) needs->need[i] = sizes[i];
    }
    return MT_OK;
}

static int elementwise_needs(const mt_op *op, op_needs *needs)
{
    if (op->p[0] <= 0) return MT_ERR_BAD_OP;
    uint64_t x = mul(op->p[0], F32);
    int n = 0;
    switch (op->kind) {
    case MT_OP_ADD:
        while (n < MT_OP_MAX_TENSORS && op->t[n] != MT_NO_TENSOR) n++;
        if (n < 3) return MT_ERR_BAD_OP;
        break;
    case MT_OP_COPY: n = 2; break;
    case MT_OP_DROPOUT_FWD:
        if (!(op->f[0] >= 0.0f && op->f[0] < 1.0f)) return MT_ERR_BAD_OP;
        n = 4; break;
    default: n = 3; break; /* dropout derivative */
    }
    set_slots(needs, n, 0);
    for (int i = 0; i < n; i++) needs->need[i] = x;
    if (op->kind == MT_OP_DROPOUT_FWD) needs->need[3] = 4;
    return MT_OK;
}

/* SUB / MUL: 3 slots, NEG: 2, DECAY_GRAD: 2; all NUMEL floats.
 * L2NORM_LOSS: [W (NUMEL), METRICS (2 floats)]. */
static int binary_needs(const mt_op *op, op_needs *needs)
{
    if (op->p[0] <= 0) return MT_ERR_BAD_OP;
    uint64_t x = mul(op->p[0], F32);
    int n = (op->kind == MT_OP_SUB || op->kind == MT_OP_MUL) ? 3 : 2;
    set_slots(needs, n, 0);
    for (int i = 0; i < n; i++) needs->need[i] = x;
    if (op->kind == MT_OP_L2NORM_LOSS) needs->need[1] = 2 * F32;
    return MT_OK;
}

static int loss_needs(const mt_op *op, op_needs *needs)
{
    const int32_t *p = op->p;
    if (!positive(p, 2) || (p[2] != MT_LABEL_INDEX && p[2] != MT_LABEL_DENSE)) return MT_ERR_BAD_OP;
    uint64_t y = mul4(p[0], p[1], F32, 1);
    uint64_t t = p[2] == MT_LABEL_INDEX ? mul(p[0], 4u) : y;
    int fwd = op->kind == MT_OP_LOSS_MSE_FWD || op->kind == MT_OP_LOSS_CE_SOFTMAX_FWD ||
              op->kind == MT_OP_LOSS_CE_SIGMOID_FWD;
    if (op->kind == MT_OP_LOSS_MSE_FWD) {
        set_slots(needs, 3, 0);
        needs->need[0] = y; needs->need[1] = t; needs->need[2] = 2 * F32;
    } else if (fwd) {
        set_slots(needs, 4, 0);
        needs->need[0] = y; needs->need[1] = t; needs->need[2] = y; needs->need[3] = 2 * F32;
    } else {
        set_slots(needs, 3, 0);
        needs->need[0] = y; needs->need[1] = t; needs->need[2] = y;
    }
    return MT_OK;
}

static int optim_needs(const mt_op *op, op_needs *needs)
{
    if (op->p[0] <= 0) return MT_ERR_BAD_OP;
    uint64_t w = mul(op->p[0], F32);
    if (op->kind == MT_OP_SGD_APPLY) {
        int has_momentum = op->f[1] != 0.0f;
        set_slots(needs, has_momentum ? 3 : 2, 0);
        needs->need[0] = w; needs->need[1] = w; needs->need[2] = w;
    } else {
        set_slots(needs, 5, 0);
        needs->need[0] = w; needs->need[1] = w; needs->need[2] = w; needs->need[3] = w;
        needs->need[4] = 4;
    }
    return MT_OK;
}

static int op_needs_for(const mt_op *op, op_needs *needs)
{
    switch (op->kind) {
    case MT_OP_FC_FWD: case MT_OP_FC_GRAD: case MT_OP_FC_DERIV:
        return fc_needs(op, needs);
    case MT_OP_CONV_FWD: case MT_OP_CONV_GRAD: case MT_OP_CONV_DERIV:
        return conv_needs(op, needs);
    case MT_OP_MAXPOOL_FWD: case MT_OP_MAXPOOL_DERIV:
    case MT_OP_AVGPOOL_FWD: case MT_OP_AVGPOOL_DERIV:
        return pool_needs(op, needs);
    case MT_OP_ACT_FWD: case MT_OP_ACT_DERIV:
        return act_needs(op, needs);
    case MT_OP_ACTX_FWD: case MT_OP_ACTX_DERIV:
        return actx_needs(op, needs);
    case MT_OP_BN_FWD: case MT_OP_BN_GRAD: case MT_OP_BN_DERIV:
        return bn_needs(op, needs);
    case MT_OP_ADD: case MT_OP_COPY: case MT_OP_DROPOUT_FWD: case MT_OP_DROPOUT_DERIV:
        return elementwise_needs(op, needs);
    case MT_OP_LOSS_MSE_FWD: case MT_OP_LOSS_MSE_DERIV:
    case MT_OP_LOSS_CE_SOFTMAX_FWD: case MT_OP_LOSS_CE_SOFTMAX_DERIV:
    case MT_OP_LOSS_CE_SIGMOID_FWD: case MT_OP_LOSS_CE_SIGMOID_DERIV:
        return loss_needs(op, needs);
    case MT_OP_SGD_APPLY: case MT_OP_ADAM_APPLY:
        return optim_needs(op, needs);
    case MT_OP_SUB: case MT_OP_MUL: case MT_OP_NEG:
    case MT_OP_DECAY_GRAD: case MT_OP_L2NORM_LOSS:
        return binary_needs(op, needs);
    default:
        return MT_ERR_BAD_OP;
    }
}

static int tensor_ok(const mt_program *prog, int32_t id, uint64_t need)
{
    if (id < 0 || (uint32_t)id >= prog->n_tensors) return MT_ERR_BAD_TENSOR;
    const mt_tensor *t = &prog->tensors[id];
    if (t->offset % 4u || (uint64_t)t->offset + t->nbytes > prog->arena_bytes) return MT_ERR_BAD_TENSOR;
    return t->nbytes < need ? MT_ERR_BAD_SIZE : MT_OK;
}

int mt_op_validate(const mt_program *prog, const mt_op *op)
{
    op_needs needs;
    int status = op_needs_for(op, &needs);
    if (status != MT_OK) return status;
    if (op->phase > MT_PHASE_APPLY) return MT_ERR_BAD_OP;
    for (int i = 0; i < MT_OP_MAX_TENSORS; i++) {
        int32_t id = op->t[i];
        if (i >= needs.n_slots) {
            if (id != MT_NO_TENSOR) return MT_ERR_BAD_OP;
            continue;
        }
        if (id == MT_NO_TENSOR && (needs.optional >> i) & 1u) continue;
        status = tensor_ok(prog, id, needs.need[i]);
        if (status != MT_OK) return status;
    }
    return MT_OK;
}

int mt_program_validate(const mt_program *prog)
{
    if (!prog->ops || !prog->tensors) return MT_ERR_BAD_OP;
    for (uint32_t i = 0; i < prog->n_tensors; i++) {
        const mt_tensor *t = &prog->tensors[i];
        if (t->offset % 4u || (uint64_t)t->offset + t->nbytes > prog->arena_bytes) return MT_ERR_BAD_TENSOR;
    }
    for (uint32_t i = 0; i < prog->n_ops; i++) {
        int status = mt_op_validate(prog, &prog->ops[i]);
        if (status != MT_OK) return status;
    }
    int status = tensor_ok(prog, prog->input, 4);
    if (status == MT_OK) status = tensor_ok(prog, prog->labels, 4);
    if (status == MT_OK) status = tensor_ok(prog, prog->metrics, 2 * F32);
    if (status == MT_OK) status = tensor_ok(prog, prog->output, 4);
    return status;
}
