/* Integer SGD with momentum and Adam, with QAS and stochastic rounding
 * (docs/int8.md, "SGD with QAS and momentum", "Adam"). The per-channel multipliers in LR carry lr, the
 * gradient's static factor and the QAS rescaling (s_w^-1 instead of the int8
 * graph's s_w); steps are Q16 units of the weight's integer, except for int32
 * biases (E = 4): their scale s_x s_w is so small (1e-10 in fixed) that a Q16
 * step would saturate int32, so their steps are whole units, rounded by requant,
 * with no random draw. */
#include "mt_kernels_q.h"
#include "mt_requant.h"

/* The new weight after a step v: Q16 stochastically rounded for int8/int16
 * weights (one draw per element), whole units for int32 biases (no draw). */
static int64_t step_weight(int64_t q, int64_t v, int whole, uint32_t *rng)
{
    if (whole) return q - v;
    return q - mt_floor_shift(v + (int64_t)(mt_xorshift32(rng) >> 16), 16);
}

/* One channel's rate: delta = requant(g, m, shift), with a fast path when
 * shift is in [0, 62] and M in range (|g M| < 2^30 fits int32). */
typedef struct {
    int32_t m;
    int64_t shift;
    int fast;
    mt_rshift rs;
} qsgd_rate;

static qsgd_rate rate_of(const int32_t *lr, int ch, int c, int64_t e_dw)
{
    qsgd_rate r;
    r.m = lr[c];
    r.shift = (int64_t)lr[ch + c] - e_dw;
    r.fast = r.shift >= 0 && r.shift <= 62 && r.m >= 0 && r.m <= 32767;
    r.rs = mt_rshift_by(r.fast ? (int)r.shift : 0);
    return r;
}

/* The momentum is m16 (docs/int8.md): int32 exponent em in [0, 16], then int16
 * values; element value mom[i] 2^em in Q16 units of q. v = mu mom + delta. */
#define MOM_EXP_MAX 16

static inline int32_t velocity(const qsgd_rate *r, int16_t g, const int16_t *mom, int64_t em,
                               int32_t mu)
{
    int64_t delta = r->fast ? mt_rshift_apply(r->rs, (int32_t)g * r->m) : mt_requant(g, r->m, r->shift);
    if (!mom) return mt_sat32(delta);
    return mt_sat32(mt_round_shift((int64_t)mu * ((int64_t)*mom * ((int64_t)1 << em)), 15) + delta);
}

/* Pass 1: the largest |v| of the tensor, which fixes the new momentum exponent. */
static uint64_t velocity_max(const int16_t *g, const int32_t *lr, const int16_t *mom, int64_t em,
                             int32_t mu, int numel, int ch, int64_t e_dw)
{
    int rows = numel / ch;
    uint64_t top = 0;
    for (int c = 0; c < ch; c++) {
        qsgd_rate r = rate_of(lr, ch, c, e_dw);
        for (int i = c * rows; i < (c + 1) * rows; i++) {
            uint64_t a = mt_abs64(velocity(&r, g[i], mom + i, em, mu));
            if (a > top) top = a;
        }
    }
    return top;
}

/* Pass 2 over one channel: the step with the full v; the momentum keeps v
 * rounded to the new exponent em_new. */
#define QSGD_ROWS(NAME, T, WHOLE)                                                     \
static void NAME(T *w, const int16_t *g, int16_t *mom, int64_t em, int64_t em_new,   \
                 uint32_t *rng, int count, const qsgd_rate *r, int32_t mu,           \
                 int64_t lo, int64_t hi)                                             \
{                                                                                     \
    for (int i = 0; i < count; i++) {                                                 \
        int32_t v = velocity(r, g[i], mom ? mom + i : 0, em, mu);                     \
        if (mom) mom[i] = mt_sat16(mt_round_shift(v, em_new));                        \
        w[i] = (T)mt_q_clamp64(step_weight(w[i], v, WHOLE, rng), lo, hi);            \
    }                                                                                 \
}

QSGD_ROWS(rows8, int8_t, 0)
QSGD_ROWS(rows16, int16_t, 0)
QSGD_ROWS(rows32, int32_t, 1)

void mt_qsgd_apply(int e, void *w, const void *dw, const int32_t *lr, uint32_t *rng,
                   void *mom, int numel, int ch, int32_t mu)
{
    const int16_t *g = mt_g16_cvals(dw);
    int64_t e_dw = mt_g16_exp(dw), em = 0, em_new = 0;
    int16_t *mv = mom ? mt_g16_vals(mom) : 0;
    int rows = numel / ch;
    if (mom) {
        em = mt_q_clamp64(mt_g16_exp(mom), 0, MOM_EXP_MAX);   /* arena data: clamped */
        em_new = mt_g16_shift(velocity_max(g, lr, mv, em, mu, numel, ch, e_dw));
    }
    for (int c = 0; c < ch; c++) {
        long at = (long)c * rows;
        qsgd_rate r = rate_of(lr, ch, c, e_dw);
        int16_t *mc = mv ? mv + at : 0;
        if (e == 1) rows8((int8_t *)w + at, g + at, mc, em, em_new, rng, rows, &r, mu, -127, 127);
        else if (e == 2) rows16((int16_t *)w + at, g + at, mc, em, em_new, rng, rows, &r, mu, -32767, 32767);
        else rows32((int32_t *)w + at, g + at, mc, em, em_new, rng, rows, &r, mu, INT32_MIN, INT32_MAX);
    }
    if (mom) mt_g16_set_exp(mom, em_new);
}

/* ---- Adam (docs/int8.md, "Adam"): m and v as a16 tensors ---- */

#define Q30 ((int64_t)1 << 30)
#define EPS_CAP ((int64_t)1 << 60)
#define A16_MANT 10      /* |mant| in [2^9, 2^10) when normalised */
#define A16_EXP_TOP 31   /* the 5-bit per-element exponent offset: 0..31 */
#define A16_BASE_MAX ((int64_t)1 << 30)

/* a16 word: exp_off = word & 31, mant = (word - exp_off) / 32 (signed 11 bits);
 * value mant 2^(base + exp_off). */
static void a16_decode(int16_t word, int64_t base, int64_t *mant, int64_t *exp)
{
    int64_t off = word & 31;
    *exp = base + off;
    *mant = ((int64_t)word - off) / 32;   /* exact: a multiple of 32 */
}

/* A moment's new value before rounding: t1 2^x1 + t2 2^x2 (|t| < 2^61), both
 * aligned to the larger top bit minus 61 (the smaller rounded half up), summed
 * exactly: (a, x) with value a 2^x. */
typedef struct {
    int64_t a, x;
} a16_sum;

static a16_sum moment_sum(int64_t t1, int64_t x1, int64_t t2, int64_t x2)
{
    a16_sum s = {0, 0};
    if (t1 == 0 && t2 == 0) return s;
    int64_t top1 = t1 ? x1 + mt_bitlen(mt_abs64(t1)) : INT32_MIN;
    int64_t top2 = t2 ? x2 + mt_bitlen(mt_abs64(t2)) : INT32_MIN;
    s.x = (top1 > top2 ? top1 : top2) - 61;
    s.a = (t1 ? mt_round_shift(t1, s.x - x1) : 0) + (t2 ? mt_round_shift(t2, s.x - x2) : 0);
    return s;
}

/* The top bit position of a sum (INT64_MIN for 0): the tensor's largest one fixes the base. */
static int64_t sum_top(a16_sum s)
{
    return s.a ? s.x + mt_bitlen(mt_abs64(s.a)) : INT64_MIN;
}

/* The nearest a16 word to a 2^x under base: 10 significant bits, rounded half up;
 * offsets above 31 saturate, below 0 lose bits (0 at the bottom). */
static int16_t a16_encode(a16_sum s, int64_t base)
{
    if (s.a == 0) return 0;
    int64_t sh = (int64_t)mt_bitlen(mt_abs64(s.a)) - A16_MANT;
    int64_t mant = mt_round_shift(s.a, sh);
    if (mant == ((int64_t)1 << A16_MANT) || mant == -((int64_t)1 << A16_MANT)) {
        mant /= 2;
        sh++;
    }
    int64_t off = s.x + sh - base;
    if (off > A16_EXP_TOP) {
        mant = mant < 0 ? -(((int64_t)1 << A16_MANT) - 1) : ((int64_t)1 << A16_MANT) - 1;
        off = A16_EXP_TOP;
    } else if (off < 0) {
        mant = mt_round_shift(mant, -off);
        off = 0;
        if (mant == 0) return 0;
    }
    return (int16_t)(mant * 32 + off);
}

/* The new base: the largest top bit lands in offset 31 (base kept when all are 0). */
static int64_t a16_base(int64_t top, int64_t old)
{
    if (top == INT64_MIN) return old;
    return mt_q_clamp64(top - A16_MANT - A16_EXP_TOP, -A16_BASE_MAX, A16_BASE_MAX);
}

/* floor(sqrt(x)) for x >= 0, bit by bit. */
static int64_t isqrt64(int64_t x)
{
    uint64_t v = (uint64_t)x, root = 0, bit = (uint64_t)1 << 62;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return (int64_t)root;
}

/* The Q16 ratio m / (sqrt(v) / sqrt(c2) + eps) of one element (0 when the
 * denominator is 0); sq2 = sqrt(c2 2^30). */
static int64_t adam_ratio(int64_t mm, int64_t me, int64_t vm, int64_t ve, int64_t sq2,
                          int32_t eps_m, int32_t eps_sh)
{
    if (vm < 0) vm = 0;
    if (ve % 2) {
        vm *= 2;
        ve -= 1;
    }
    int64_t es = (ve - 30) / 2;   /* exact: ve is even */
    int64_t eps = mt_round_shift(eps_m, eps_sh + es);   /* capped: div_round needs 2d < 2^63 */
    int64_t d = mt_div_round(isqrt64(vm * Q30) * Q30, sq2) + (eps < EPS_CAP ? eps : EPS_CAP);
    if (d <= 0) return 0;
    return mt_round_shift(mt_div_round(mm * Q30, d), 14 - me + es);
}

/* One step's view of the two moment tensors: old bases and values, the gradient. */
typedef struct {
    const int16_t *g;
    int64_t e_g, bm, bv, b1, b2;
    int16_t *m, *v;
} adam_moments;

static a16_sum new_m(const adam_moments *a, int i)
{
    int64_t mm, me;
    a16_decode(a->m[i], a->bm, &mm, &me);
    return moment_sum(a->b1 * mm, me - 30, (Q30 - a->b1) * a->g[i], a->e_g - 30);
}

static a16_sum new_v(const adam_moments *a, int i)
{
    int64_t vm, ve, gi = a->g[i];
    a16_decode(a->v[i], a->bv, &vm, &ve);
    return moment_sum(a->b2 * (vm < 0 ? 0 : vm), ve - 30, (Q30 - a->b2) * gi * gi, 2 * a->e_g - 30);
}

/* Pass 1: the new bases from the largest new m and v of the tensor. */
static void new_bases(const adam_moments *a, int numel, int64_t *bm, int64_t *bv)
{
    int64_t top_m = INT64_MIN, top_v = INT64_MIN;
    for (int i = 0; i < numel; i++) {
        int64_t tm = sum_top(new_m(a, i)), tv = sum_top(new_v(a, i));
        if (tm > top_m) top_m = tm;
        if (tv > top_v) top_v = tv;
    }
    *bm = a16_base(top_m, a->bm);
    *bv = a16_base(top_v, a->bv);
}

/* Pass 2 over one channel: the new moments rounded to a16 under the new bases,
 * the step from the rounded moments (what the next step will read). */
#define QADAM_ROWS(NAME, T, WHOLE)                                                    \
static void NAME(T *w, const adam_moments *a, int at, int64_t bm, int64_t bv,        \
                 uint32_t *rng, int count, const int32_t *p, int64_t c1, int64_t sq2, \
                 int32_t lr_m, int64_t lr_sh, int64_t lo, int64_t hi)                 \
{                                                                                     \
    for (int i = at; i < at + count; i++) {                                           \
        int16_t mw = a16_encode(new_m(a, i), bm), vw = a16_encode(new_v(a, i), bv);   \
        int64_t mm, me, vm, ve;                                                       \
        a->m[i] = mw;                                                                 \
        a->v[i] = vw;                                                                 \
        a16_decode(mw, bm, &mm, &me);                                                 \
        a16_decode(vw, bv, &vm, &ve);                                                 \
        int64_t r = mt_sat32(adam_ratio(mm, me, vm, ve, sq2, p[5], p[6]));            \
        int32_t step = mt_sat32(mt_requant(mt_div_round(r * Q30, c1), lr_m, lr_sh));  \
        w[i - at] = (T)mt_q_clamp64(step_weight(w[i - at], step, WHOLE, rng), lo, hi); \
    }                                                                                 \
}

QADAM_ROWS(adam8, int8_t, 0)
QADAM_ROWS(adam16, int16_t, 0)
QADAM_ROWS(adam32, int32_t, 1)

/* STEP = [t, beta1^t, beta2^t (Q30)]: advanced first, as PyTorch counts steps. */
static void adam_step(int32_t *step, const int32_t *p, int64_t *c1, int64_t *c2)
{
    int64_t p1 = mt_q_clamp64(step[1], 0, Q30), p2 = mt_q_clamp64(step[2], 0, Q30);
    step[0] = step[0] < INT32_MAX ? step[0] + 1 : INT32_MAX;
    step[1] = (int32_t)mt_round_shift(p1 * p[3], 30);
    step[2] = (int32_t)mt_round_shift(p2 * p[4], 30);
    *c1 = Q30 - step[1];
    *c2 = Q30 - step[2];
}

void mt_qadam_apply(int e, void *w, const void *dw, const int32_t *lr, void *m, void *v,
                    int32_t *step, uint32_t *rng, int numel, int ch, const int32_t *p)
{
    adam_moments a;
    int64_t c1, c2, bm, bv;
    int rows = numel / ch;
    a.g = mt_g16_cvals(dw);
    a.e_g = mt_g16_exp(dw);
    a.bm = mt_q_clamp64(mt_g16_exp(m), -A16_BASE_MAX, A16_BASE_MAX);   /* arena data */
    a.bv = mt_q_clamp64(mt_g16_exp(v), -A16_BASE_MAX, A16_BASE_MAX);
    a.b1 = p[3];
    a.b2 = p[4];
    a.m = mt_g16_vals(m);
    a.v = mt_g16_vals(v);
    adam_step(step, p, &c1, &c2);
    int64_t sq2 = isqrt64(c2 * Q30);
    new_bases(&a, numel, &bm, &bv);
    for (int c = 0; c < ch; c++) {
        int at = c * rows;
        if (e == 1)
            adam8((int8_t *)w + at, &a, at, bm, bv, rng, rows, p, c1, sq2, lr[c], lr[ch + c], -127, 127);
        else if (e == 2)
            adam16((int16_t *)w + at, &a, at, bm, bv, rng, rows, p, c1, sq2, lr[c], lr[ch + c],
                   -32767, 32767);
        else
            adam32((int32_t *)w + at, &a, at, bm, bv, rng, rows, p, c1, sq2, lr[c], lr[ch + c],
                   INT32_MIN, INT32_MAX);
    }
    mt_g16_set_exp(m, bm);
    mt_g16_set_exp(v, bv);
}

/* ---- pieces for the fused gradient + update (mt_kernels_qfused.c) ----
 * The same arithmetic as mt_qsgd_apply / mt_qadam_apply on `count` consecutive
 * elements of channel c whose gradient values g (exponent e_g) the caller made;
 * the caller runs the passes over the whole tensor, so results are bit-identical. */

int64_t mt_qsgd_mom_exp(const void *mom)
{
    return mt_q_clamp64(mt_g16_exp(mom), 0, MOM_EXP_MAX);
}

uint64_t mt_qsgd_chunk_vmax(const int16_t *g, int64_t e_g, const int32_t *lr, int ch, int c,
                            const int16_t *mom, int64_t em, int32_t mu, int count)
{
    qsgd_rate r = rate_of(lr, ch, c, e_g);
    uint64_t top = 0;
    for (int i = 0; i < count; i++) {
        uint64_t a = mt_abs64(velocity(&r, g[i], mom + i, em, mu));
        if (a > top) top = a;
    }
    return top;
}

void mt_qsgd_chunk_step(int e, void *w, const int16_t *g, int64_t e_g, const int32_t *lr, int ch,
                        int c, int16_t *mom, int64_t em, int64_t em_new, uint32_t *rng,
                        int32_t mu, int count)
{
    qsgd_rate r = rate_of(lr, ch, c, e_g);
    if (e == 1) rows8(w, g, mom, em, em_new, rng, count, &r, mu, -127, 127);
    else rows16(w, g, mom, em, em_new, rng, count, &r, mu, -32767, 32767);
}

void mt_qadam_begin(mt_qadam_pass *s, void *m, void *v, int32_t *step, const int32_t *p)
{
    s->bm = mt_q_clamp64(mt_g16_exp(m), -A16_BASE_MAX, A16_BASE_MAX);   /* arena data */
    s->bv = mt_q_clamp64(mt_g16_exp(v), -A16_BASE_MAX, A16_BASE_MAX);
    s->top_m = s->top_v = INT64_MIN;
    adam_step(step, p, &s->c1, &s->c2);
    s->sq2 = isqrt64(s->c2 * Q30);
}

static adam_moments chunk_moments(const mt_qadam_pass *s, const int16_t *g, int64_t e_g,
                                  int16_t *m, int16_t *v, const int32_t *p)
{
    adam_moments a;
    a.g = g;
    a.e_g = e_g;
    a.bm = s->bm;
    a.bv = s->bv;
    a.b1 = p[3];
    a.b2 = p[4];
    a.m = m;
    a.v = v;
    return a;
}

void mt_qadam_chunk_tops(mt_qadam_pass *s, const int16_t *g, int64_t e_g, int16_t *m, int16_t *v,
                         const int32_t *p, int count)
{
    adam_moments a = chunk_moments(s, g, e_g, m, v, p);
    for (int i = 0; i < count; i++) {
        int64_t tm = sum_top(new_m(&a, i)), tv = sum_top(new_v(&a, i));
        if (tm > s->top_m) s->top_m = tm;
        if (tv > s->top_v) s->top_v = tv;
    }
}

void mt_qadam_bases(mt_qadam_pass *s)
{
    s->bm_new = a16_base(s->top_m, s->bm);
    s->bv_new = a16_base(s->top_v, s->bv);
}

void mt_qadam_chunk_step(const mt_qadam_pass *s, int e, void *w, const int16_t *g, int64_t e_g,
                         int16_t *m, int16_t *v, uint32_t *rng, const int32_t *p, int32_t lr_m,
                         int32_t lr_sh, int count)
{
    adam_moments a = chunk_moments(s, g, e_g, m, v, p);
    if (e == 1)
        adam8(w, &a, 0, s->bm_new, s->bv_new, rng, count, p, s->c1, s->sq2, lr_m, lr_sh, -127, 127);
    else
        adam16(w, &a, 0, s->bm_new, s->bv_new, rng, count, p, s->c1, s->sq2, lr_m, lr_sh,
               -32767, 32767);
}

void mt_qadam_end(const mt_qadam_pass *s, void *m, void *v)
{
    mt_g16_set_exp(m, s->bm_new);
    mt_g16_set_exp(v, s->bv_new);
}
