/* Fused FC weight gradient + its consumer, one output row at a time.
 * Scratch S holds N floats (the dY column of row o) then IN floats (the row).
 * The untiled kinds (200..202) run rows [0, OUT) of the whole W; the tile
 * kinds (230..232) run rows [O0, O0+ROWS) of a weight chunk (mt_kernels_tile.h)
 * with the same row loop, so both give the unfused ops' bits. */
#include <string.h>
#include "mt_kernels_fused.h"
#include "mt_kernels.h"

#define F32 4u
#define SIZE_LIMIT ((uint64_t)1 << 40)

static uint64_t mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > SIZE_LIMIT / a) return SIZE_LIMIT;
    return a * b;
}

/* Output rows [o0, o0 + rows) of one op: whole layer (o0 = 0, rows = OUT) or one tile. */
typedef struct {
    const float *x, *dy;
    float *col, *row;
    int n, in, out, o0, rows;
} row_range;

static int is_tile(const mt_op *op)
{
    return op->kind == MT_OP_FC_GRAD_SGD_TILE || op->kind == MT_OP_FC_GRAD_ADAM_TILE ||
           op->kind == MT_OP_FC_GRAD_ACC_TILE;
}

static row_range range_of(const mt_op *op, void *const *slot, int scratch_slot)
{
    row_range r;
    r.x = slot[0]; r.dy = slot[1];
    r.n = op->p[0]; r.in = op->p[1]; r.out = op->p[2];
    r.o0 = is_tile(op) ? op->p[3] : 0;
    r.rows = is_tile(op) ? op->p[4] : r.out;
    r.col = slot[scratch_slot]; r.row = r.col + r.n;
    return r;
}

/* Row o of dW into r->row, and dB[o] when db: exactly what mt_fc_grad computes
 * for that row (it sums each element over the samples in order). */
static void fc_grad_row(const row_range *r, float *db, int o)
{
    for (int s = 0; s < r->n; s++) r->col[s] = r->dy[(long)s * r->out + o];
    mt_fc_grad(r->x, r->col, r->row, db ? db + o : 0, r->n, r->in, 1);
}

/* dB for the untiled kinds goes row by row; a tile (the first one carries dB)
 * writes the whole dB with mt_fc_grad's loop, as FC_GRAD_TILE does. */
static float *row_bias(const mt_op *op, const row_range *r, float *db)
{
    if (!db || !is_tile(op)) return db;
    memset(db, 0, sizeof(float) * (size_t)r->out);
    for (int s = 0; s < r->n; s++)
        for (int o = 0; o < r->out; o++)
            db[o] += r->dy[(long)s * r->out + o];
    return 0;
}

/* p = [N, IN, OUT] (+ [O0, ROWS] for tiles, + [LAST] for the Adam tile). Slots:
 * FC_GRAD_SGD  [X, dY, W, MOM?, dB?, S]             f = [lr, momentum, d1, d2]
 *              (d1, d2: dW += d * W before the step, as DECAY_GRAD; 0: none)
 * FC_GRAD_ADAM [X, dY, W, M, V, STEP, dB?, S]       f = [lr, beta1, beta2, eps]
 * FC_GRAD_ACC  [X, dY, ACC, dB?, S]                 ACC += dW (micro-batch accumulator)
 * W, MOM, M, V, ACC hold the op's rows only (a chunk for tiles); dB is whole. */
mt_status mt_fused_needs(const mt_op *op, mt_op_needs *needs)
{
    const int32_t *p = op->p;
    if (p[0] <= 0 || p[1] <= 0 || p[2] <= 0) return MT_ERR_BAD_OP;
    if (is_tile(op) && (p[3] < 0 || p[4] <= 0 || (int64_t)p[3] + p[4] > p[2]))
        return MT_ERR_BAD_OP;
    if (op->kind == MT_OP_FC_GRAD_ADAM_TILE && p[5] != 0 && p[5] != 1) return MT_ERR_BAD_OP;
    int sgd_kind = op->kind == MT_OP_FC_GRAD_SGD || op->kind == MT_OP_FC_GRAD_SGD_TILE;
    int adam_kind = op->kind == MT_OP_FC_GRAD_ADAM || op->kind == MT_OP_FC_GRAD_ADAM_TILE;
    /* momentum needs its buffer: SGD_APPLY's rule, as a slot may not vanish silently */
    if (sgd_kind && op->f[1] != 0.0f && op->t[3] == MT_NO_TENSOR) return MT_ERR_BAD_OP;
    uint64_t rows = is_tile(op) ? (uint64_t)p[4] : (uint64_t)p[2];
    uint64_t x = mul(mul(p[0], p[1]), F32), dy = mul(mul(p[0], p[2]), F32);
    uint64_t w = mul(mul(rows, p[1]), F32), b = mul(p[2], F32);
    uint64_t s = mul((uint64_t)p[0] + (uint64_t)p[1], F32);
    const uint64_t sgd[6] = {x, dy, w, w, b, s};
    const uint64_t adam[8] = {x, dy, w, w, w, 4, b, s};
    const uint64_t acc[5] = {x, dy, w, b, s};
    const uint64_t *sizes = sgd_kind ? sgd : adam_kind ? adam : acc;
    int n = sgd_kind ? 6 : adam_kind ? 8 : 5;
    needs->n_slots = (uint8_t)n;
    for (int i = 0; i < n; i++) needs->need[i] = sizes[i];
    return MT_OK;
}

void mt_run_fc_grad_sgd(const mt_op *op, void *const *slot, int mode)
{
    row_range r = range_of(op, slot, 5);
    float *w = slot[2], *mom = slot[3], *db = row_bias(op, &r, slot[4]);
    (void)mode;
    for (int k = 0; k < r.rows; k++) {
        float *w_row = w + (long)k * r.in;
        fc_grad_row(&r, db, r.o0 + k);
        for (int d = 2; d < 4; d++)   /* the DECAY_GRAD terms it absorbed, in their order */
            if (op->f[d] != 0.0f) mt_decay_grad(w_row, r.row, r.in, op->f[d]);
        mt_sgd_apply(w_row, r.row, mom ? mom + (long)k * r.in : 0, r.in, op->f[0], op->f[1]);
    }
}

void mt_run_fc_grad_adam(const mt_op *op, void *const *slot, int mode)
{
    row_range r = range_of(op, slot, 7);
    float *w = slot[2], *m = slot[3], *v = slot[4], *db = row_bias(op, &r, slot[6]);
    uint32_t *step = slot[5], first = *step;
    (void)mode;
    for (int k = 0; k < r.rows; k++) {
        uint32_t row_step = first;   /* every row takes the same step, as one whole call */
        long at = (long)k * r.in;
        fc_grad_row(&r, db, r.o0 + k);
        mt_adam_apply(w + at, r.row, m + at, v + at, &row_step, r.in,
                      op->f[0], op->f[1], op->f[2], op->f[3]);
    }
    /* every chunk of a tiled weight takes the same step; its LAST chunk stores it */
    if (op->kind == MT_OP_FC_GRAD_ADAM || op->p[5]) *step = first + 1;
}

void mt_run_fc_grad_acc(const mt_op *op, void *const *slot, int mode)
{
    row_range r = range_of(op, slot, 4);
    float *acc = slot[2], *db = row_bias(op, &r, slot[3]);
    (void)mode;
    for (int k = 0; k < r.rows; k++) {
        float *acc_row = acc + (long)k * r.in;
        const float *terms[2];
        terms[0] = acc_row;
        terms[1] = r.row;
        fc_grad_row(&r, db, r.o0 + k);
        mt_add(acc_row, terms, 2, r.in);
    }
}
