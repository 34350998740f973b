/* Fused integer FC weight gradient + optimizer step (kinds 121, 122;
 * docs/int8.md, "Fused weight gradient + update"). The whole dW of QFC_GRAD
 * never exists: every pass remakes the exact sums a[o, i] 64 columns at a
 * time on the stack and hands them on as int16 values at once.
 *
 * The result is bit-identical to QFC_GRAD followed by QSGD_APPLY / QADAM_APPLY:
 * those need tensor-wide maxima before anything is stored (the g16 shift of
 * dW, then the optimizer state's new exponent or bases), so the sums are made
 * once more per maximum instead of being kept. Pass 1 finds the gradient's
 * shift and, with the shift the last step had (GE, as dW's header guessed it),
 * the optimizer's maximum too; a wrong guess costs one more pass. The last
 * pass steps the weights and stores the state. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

#define CHUNK 64

/* What makes the gradient: QFC_GRAD's inputs. */
typedef struct {
    int e, n, in, out, zx;
    const void *x;
    const int16_t *dy;
} qgrad;

/* Receives the int16 gradient values of row o, columns [i0, i0 + len). */
typedef void (*chunk_fn)(void *ctx, int o, int i0, int len, const int16_t *g);

/* Row o's sums for columns [i0, i0 + len) rounded by rs into g; returns their
 * largest magnitude. int8 with n <= 256 sums in 32 bits, as QFC_GRAD does. */
static uint64_t chunk_values(const qgrad *q, mt_rshift rs, int o, int i0, int len, int16_t *g)
{
    uint64_t max_abs = 0;
    if (q->e == 1 && q->n <= 256) {
        int32_t part[CHUNK];
        uint32_t top = 0;
        mt_qfc_grad_sums8_short(q->x, q->dy, part, q->n, q->in, q->out, q->zx, o, i0, len);
        for (int k = 0; k < len; k++) {
            uint32_t a = part[k] < 0 ? (uint32_t)0 - (uint32_t)part[k] : (uint32_t)part[k];
            if (a > top) top = a;
            g[k] = mt_sat16(mt_rshift_apply(rs, part[k]));
        }
        return top;
    }
    int64_t acc[CHUNK];
    mt_qfc_grad_sums(q->e, q->x, q->dy, acc, q->n, q->in, q->out, q->zx, o, i0, len);
    for (int k = 0; k < len; k++) {
        uint64_t a = mt_abs64(acc[k]);
        if (a > max_abs) max_abs = a;
        g[k] = mt_sat16(mt_rshift_apply(rs, acc[k]));
    }
    return max_abs;
}

/* One pass over dW: each chunk's sums rounded by `shift` (as QFC_GRAD writes
 * them) go to visit (if any); returns the largest |sum|. */
static uint64_t grad_pass(const qgrad *q, int shift, chunk_fn visit, void *ctx)
{
    int16_t g[CHUNK];
    uint64_t max_abs = 0;
    mt_rshift rs = mt_rshift_by(shift);
    for (int o = 0; o < q->out; o++)
        for (int i0 = 0; i0 < q->in; i0 += CHUNK) {
            int len = q->in - i0 < CHUNK ? q->in - i0 : CHUNK;
            uint64_t top = chunk_values(q, rs, o, i0, len, g);
            if (top > max_abs) max_abs = top;
            if (visit) visit(ctx, o, i0, len, g);
        }
    return max_abs;
}

/* dW's exponent for a shift, as mt_g16_set_exp stores it (the optimizers read that). */
static int64_t grad_exp(int32_t e_dy, int shift)
{
    return mt_q_clamp64((int64_t)e_dy + shift, -MT_Q_EXP_MAX, MT_Q_EXP_MAX);
}

/* The shift of the last step (GE holds its exponent), in [0, 62], else 0. */
static int guess_shift(const int32_t *ge, int32_t e_dy)
{
    int64_t guess = (int64_t)ge[0] - e_dy;
    return guess < 0 || guess > 62 ? 0 : (int)guess;
}

static qgrad grad_of(const int32_t *p, void *const *slot)
{
    qgrad q;
    q.n = p[0];
    q.in = p[1];
    q.out = p[2];
    q.e = p[3];
    q.zx = p[4];
    q.x = slot[0];
    q.dy = mt_g16_cvals(slot[1]);
    return q;
}

/* ---- kind 121: t = [X, dY, W, LR, RNG, MOM?, GE], p = [N, IN, OUT, E, zx, mu] ---- */

typedef struct {
    int e, in, out;
    void *w;
    const int32_t *lr;
    int16_t *mom;
    int64_t e_g, em, em_new;
    int32_t mu;
    uint32_t *rng;
    uint64_t vmax;
} sgd_ctx;

static void sgd_vmax(void *ctx, int o, int i0, int len, const int16_t *g)
{
    sgd_ctx *c = ctx;
    uint64_t top = mt_qsgd_chunk_vmax(g, c->e_g, c->lr, c->out, o, c->mom + (long)o * c->in + i0,
                                      c->em, c->mu, len);
    if (top > c->vmax) c->vmax = top;
}

static void sgd_step(void *ctx, int o, int i0, int len, const int16_t *g)
{
    sgd_ctx *c = ctx;
    long at = (long)o * c->in + i0;
    mt_qsgd_chunk_step(c->e, (char *)c->w + at * c->e, g, c->e_g, c->lr, c->out, o,
                       c->mom ? c->mom + at : 0, c->em, c->em_new, c->rng, c->mu, len);
}

void mt_qfc_grad_qsgd(const int32_t *p, void *const *slot)
{
    qgrad q = grad_of(p, slot);
    int32_t e_dy = mt_g16_exp(slot[1]), *ge = slot[6];
    void *mom = p[5] ? slot[5] : 0;   /* as QSGD_APPLY: no momentum, no buffer */
    sgd_ctx c = {q.e, q.in, q.out, slot[2], slot[3], mom ? mt_g16_vals(mom) : 0, 0, 0, 0,
                 p[5], slot[4], 0};
    int guess = guess_shift(ge, e_dy), shift;
    if (mom) c.em = mt_qsgd_mom_exp(mom);
    c.e_g = grad_exp(e_dy, guess);
    shift = mt_g16_shift(grad_pass(&q, guess, mom ? sgd_vmax : 0, &c));
    c.e_g = grad_exp(e_dy, shift);
    if (mom && shift != guess) {
        c.vmax = 0;
        grad_pass(&q, shift, sgd_vmax, &c);
    }
    c.em_new = mom ? mt_g16_shift(c.vmax) : 0;
    grad_pass(&q, shift, sgd_step, &c);
    if (mom) mt_g16_set_exp(mom, c.em_new);
    ge[0] = (int32_t)c.e_g;
}

/* ---- kind 122: t = [X, dY, W, LR, M, V, STEP, RNG], STEP = QADAM's [t, P1, P2]
 *      then GE; p = [N, IN, OUT, E, zx, B1, B2, EPS_M, EPS_SH] ---- */

typedef struct {
    int e, in;
    void *w;
    const int32_t *lr;
    int16_t *m, *v;
    int64_t e_g;
    uint32_t *rng;
    int32_t p[7];   /* QADAM_APPLY's p[] for the weight tensor */
    mt_qadam_pass pass;
} adam_ctx;

static void adam_tops(void *ctx, int o, int i0, int len, const int16_t *g)
{
    adam_ctx *c = ctx;
    long at = (long)o * c->in + i0;
    mt_qadam_chunk_tops(&c->pass, g, c->e_g, c->m + at, c->v + at, c->p, len);
}

static void adam_step(void *ctx, int o, int i0, int len, const int16_t *g)
{
    adam_ctx *c = ctx;
    long at = (long)o * c->in + i0;
    int ch = c->p[2];
    mt_qadam_chunk_step(&c->pass, c->e, (char *)c->w + at * c->e, g, c->e_g, c->m + at, c->v + at,
                        c->rng, c->p, c->lr[o], c->lr[ch + o], len);
}

void mt_qfc_grad_qadam(const int32_t *p, void *const *slot)
{
    qgrad q = grad_of(p, slot);
    int32_t e_dy = mt_g16_exp(slot[1]), *ge = (int32_t *)slot[6] + 3;
    adam_ctx c;
    c.e = q.e;
    c.in = q.in;
    c.w = slot[2];
    c.lr = slot[3];
    c.m = mt_g16_vals(slot[4]);
    c.v = mt_g16_vals(slot[5]);
    c.rng = slot[7];
    c.p[0] = q.out * q.in;
    c.p[1] = q.e;
    c.p[2] = q.out;
    for (int i = 3; i < 7; i++) c.p[i] = p[i + 2];
    mt_qadam_begin(&c.pass, slot[4], slot[5], slot[6], c.p);
    int guess = guess_shift(ge, e_dy), shift;
    c.e_g = grad_exp(e_dy, guess);
    shift = mt_g16_shift(grad_pass(&q, guess, adam_tops, &c));
    c.e_g = grad_exp(e_dy, shift);
    if (shift != guess) {
        c.pass.top_m = c.pass.top_v = INT64_MIN;
        grad_pass(&q, shift, adam_tops, &c);
    }
    mt_qadam_bases(&c.pass);
    grad_pass(&q, shift, adam_step, &c);
    mt_qadam_end(&c.pass, slot[4], slot[5]);
    ge[0] = (int32_t)c.e_g;
}
