/* Fused FC weight gradient + its consumer, one output row at a time.
 * Scratch S holds N floats (the dY column of row o) then IN floats (the row). */
#include "mt_kernels_fused.h"
#include "mt_kernels.h"

#define F32 4u
#define SIZE_LIMIT ((uint64_t)1 << 40)

static uint64_t mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > SIZE_LIMIT / a) return SIZE_LIMIT;
    return a * b;
}

/* Row o of dW into row, and dB[o] when db: exactly what mt_fc_grad computes
 * for that row (it sums each element over the samples in order). */
static void fc_grad_row(const float *x, const float *dy, float *col, float *row, float *db,
                        int n, int in, int out, int o)
{
    for (int s = 0; s < n; s++) col[s] = dy[(long)s * out + o];
    mt_fc_grad(x, col, row, db ? db + o : 0, n, in, 1);
}

/* p = [N, IN, OUT] for all three kinds. Slots:
 * FC_GRAD_SGD  [X, dY, W, MOM?, dB?, S]             f = [lr, momentum]
 * FC_GRAD_ADAM [X, dY, W, M, V, STEP, dB?, S]       f = [lr, beta1, beta2, eps]
 * FC_GRAD_ACC  [X, dY, ACC, dB?, S]                 ACC += dW (micro-batch accumulator) */
mt_status mt_fused_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[1] <= 0 || p[2] <= 0) return MT_ERR_BAD_OP;
    /* momentum needs its buffer: SGD_APPLY's rule, as a slot may not vanish silently */
    if (op->kind == MT_OP_FC_GRAD_SGD && op->f[1] != 0.0f && op->t[3] == MT_NO_TENSOR)
        return MT_ERR_BAD_OP;
    uint64_t x = mul(mul(p[0], p[1]), F32), dy = mul(mul(p[0], p[2]), F32);
    uint64_t w = mul(mul(p[2], p[1]), F32), b = mul(p[2], F32);
    uint64_t s = mul((uint64_t)p[0] + (uint64_t)p[1], F32);
    const uint64_t sgd[6] = {x, dy, w, w, b, s};
    const uint64_t adam[8] = {x, dy, w, w, w, 4, b, s};
    const uint64_t acc[5] = {x, dy, w, b, s};
    const uint64_t *sizes = op->kind == MT_OP_FC_GRAD_SGD ? sgd
                          : op->kind == MT_OP_FC_GRAD_ADAM ? adam : acc;
    int n = op->kind == MT_OP_FC_GRAD_SGD ? 6 : op->kind == MT_OP_FC_GRAD_ADAM ? 8 : 5;
    needs->n_slots = (uint8_t)n;
    for (int i = 0; i < n; i++) needs->need[i] = sizes[i];
    return MT_OK;
}

void mt_run_fc_grad_sgd(const mt_op *op, void *const *slot, int mode)
{
    int n = op->p[0], in = op->p[1], out = op->p[2];
    float *w = slot[2], *mom = slot[3], *col = slot[5], *row = col + n;
    (void)mode;
    for (int o = 0; o < out; o++) {
        fc_grad_row(slot[0], slot[1], col, row, slot[4], n, in, out, o);
        mt_sgd_apply(w + (long)o * in, row, mom ? mom + (long)o * in : 0, in, op->f[0], op->f[1]);
    }
}

void mt_run_fc_grad_adam(const mt_op *op, void *const *slot, int mode)
{
    int n = op->p[0], in = op->p[1], out = op->p[2];
    float *w = slot[2], *m = slot[3], *v = slot[4], *col = slot[7], *row = col + n;
    uint32_t *step = slot[5], first = *step;
    (void)mode;
    for (int o = 0; o < out; o++) {
        uint32_t row_step = first;   /* every row takes the same step, as one whole call */
        fc_grad_row(slot[0], slot[1], col, row, slot[6], n, in, out, o);
        mt_adam_apply(w + (long)o * in, row, m + (long)o * in, v + (long)o * in, &row_step, in,
                      op->f[0], op->f[1], op->f[2], op->f[3]);
    }
    *step = first + 1;
}

void mt_run_fc_grad_acc(const mt_op *op, void *const *slot, int mode)
{
    int n = op->p[0], in = op->p[1], out = op->p[2];
    float *acc = slot[2], *col = slot[4], *row = col + n;
    (void)mode;
    for (int o = 0; o < out; o++) {
        float *acc_row = acc + (long)o * in;
        const float *terms[2];
        terms[0] = acc_row;
        terms[1] = row;
        fc_grad_row(slot[0], slot[1], col, row, slot[3], n, in, out, o);
        mt_add(acc_row, terms, 2, in);
    }
}
