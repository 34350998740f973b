/* Order-2 (dot product) micro-kernels of mt_gemm_simd.h for VL == 16: the
 * 8 lanes of sample s fill the low half of a vector and those of sample s + 1
 * the high half, against one weight row in both halves, so each multiply and
 * add advances two dot products and each half holds exactly order 2's lanes.
 * A sample left over (odd count) runs on 8-float half vectors. The includer
 * defines DOT_NP x DOT_NO (sample pairs x outputs per block).
 * Building those vectors costs a shuffle uop each on AMD Zen (JOIN: a load
 * and an insert; TWICE: a 256-bit broadcast), 9 per 40 multiplies and adds:
 * with x's pairs packed by mt_gemm_dot_packed, and the weights stored twice
 * by a block's first sample block in a claimed region (short K only: the
 * region and the x block must share L1), the other blocks read plain loads.
 * Same products, same adds, same order: the same bits. */
#include <immintrin.h>

#define DOT_ROWS (2 * DOT_NP)   /* samples per block */

#define LD8(p) ((h8)*(const h8u *)(p))
/* [8 floats at lo | 8 floats at hi]: one load and one insert from memory */
#define JOIN(lo, hi) ((v8)_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd( \
                          (const double *)(lo))), _mm256_loadu_pd((const double *)(hi)), 1))
/* [8 floats at p | the same 8]: a broadcast load (a shuffle uop on Zen) */
#define TWICE(p) ((v8)_mm512_broadcast_f64x4(_mm256_loadu_pd((const double *)(p))))

/* The fixed tree over lanes l[0..7]. */
static inline float SIMD_FN(tree)(const float *l)
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* The same tree on both halves of a vector at once: lane 0 ends up holding
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of the low half and lane
 * 8 that of the high half (each add keeps the scalar tree's operand order). */
static inline v8 SIMD_FN(tree2)(v8 a)
{
    a = a + PERMUTE(a, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    a = a + PERMUTE(a, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    return a + PERMUTE(a, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
}

/* The last kn % 8 products of NS samples x NO outputs, ascending i, from 0. */
#define DOT_TAIL(NS, NO)                                                         \
    for (; i < g->kn; i++)                                                       \
        for (p = 0; p < NS; p++)                                                 \
            for (q = 0; q < NO; q++)                                             \
                tail[p][q] = tail[p][q] + x[p * g->ldx + i] * w[q * g->ldw + i];

/* Sample pair p's two 8-float k-block vectors: joined from x's rows, or one
 * plain load from the packed pairs (xq: the block's first pair, in a group
 * of xgroup pairs; see mt_gemm_packed_pair). */
#define XV_JOIN(p) JOIN(x + 2 * (p) * g->ldx + i, x + (2 * (p) + 1) * g->ldx + i)
#define XV_PACKED(p) LD(xq + ((i >> 3) * xgroup + (p)) * 16)
/* Weight row q's k-block twice: broadcast from w; the same, also stored in
 * the kept region (per k-block, DOT_NO rows of 16 floats); or loaded from it. */
#define WV_TWICE(q) TWICE(w + q * g->ldw + i)
#define WV_KEEP(q) SIMD_FN(keep)(kept + ((i >> 3) * DOT_NO + (q)) * 16, WV_TWICE(q))
#define WV_KEPT(q) LD(kept + ((i >> 3) * DOT_NO + (q)) * 16)
#if DOT_NP != MT_GEMM_PACK_GROUP || DOT_NO > MT_GEMM_KEPT_OUTPUTS
#error "a dot block must read one packed group and fit a kept region"
#endif

static inline v8 SIMD_FN(keep)(float *at, v8 v)
{
    ST(at, v);
    return v;
}

/* y block of NP sample pairs x NO outputs at (s, o) (order 2). */
#define DOT2_BLOCK(NAME, NP, NO, XV, WV)                                         \
static inline void NAME(const mt_gemm_dot_args *g, long s, long o, float *kept)  \
{                                                                                \
    v8 acc[NP][NO];                                                              \
    float tail[2 * NP][NO];                                                      \
    const float *x = g->x + s * g->ldx, *w = g->w + o * g->ldw;                  \
    int p, q, i, kv = g->kn & ~7, xgroup;                                        \
    const float *xq = mt_gemm_packed_pair(g->xp, s >> 1, g->ns, g->kn, &xgroup); \
    (void)xq; (void)kept;   /* read by XV_PACKED and WV_KEEP/KEPT only */        \
    UNROLL                                                                       \
    for (q = 0; q < NO; q++) {                                                   \
        UNROLL                                                                   \
        for (p = 0; p < NP; p++)                                                 \
            acc[p][q] = (v8){0};                                                 \
        UNROLL                                                                   \
        for (p = 0; p < 2 * NP; p++)                                             \
            tail[p][q] = 0.0f;                                                   \
    }                                                                            \
    for (i = 0; i < kv; i += 8) {                                                \
        v8 xv[NP], wv[NO];                                                       \
        UNROLL                                                                   \
        for (p = 0; p < NP; p++)                                                 \
            xv[p] = XV(p);                                                       \
        UNROLL                                                                   \
        for (q = 0; q < NO; q++)                                                 \
            wv[q] = WV(q);                                                       \
        UNROLL                                                                   \
        for (p = 0; p < NP; p++)                                                 \
            UNROLL                                                               \
            for (q = 0; q < NO; q++)                                             \
                acc[p][q] = acc[p][q] + xv[p] * wv[q];                           \
    }                                                                            \
    DOT_TAIL(2 * NP, NO)                                                         \
    for (p = 0; p < NP; p++)                                                     \
        for (q = 0; q < NO; q++) {                                               \
            v8 t = SIMD_FN(tree2)(acc[p][q]);                                    \
            g->y[(s + 2 * p) * g->ldy + o + q] = t[0] + tail[2 * p][q];          \
            g->y[(s + 2 * p + 1) * g->ldy + o + q] = t[8] + tail[2 * p + 1][q];  \
        }                                                                        \
}

/* y block of 1 sample x NO outputs at (s, o), on half vectors (order 2). */
#define DOT1_BLOCK(NAME, NO)                                                     \
static inline void NAME(const mt_gemm_dot_args *g, long s, long o)              \
{                                                                                \
    h8 acc[NO];                                                                  \
    float tail[1][NO], l[8];                                                     \
    const float *x = g->x + s * g->ldx, *w = g->w + o * g->ldw;                  \
    int p, q, i, kv = g->kn & ~7;                                                \
    UNROLL                                                                       \
    for (q = 0; q < NO; q++) {                                                   \
        acc[q] = (h8){0};                                                        \
        tail[0][q] = 0.0f;                                                       \
    }                                                                            \
    for (i = 0; i < kv; i += 8) {                                                \
        h8 xv = LD8(x + i);                                                      \
        UNROLL                                                                   \
        for (q = 0; q < NO; q++)                                                 \
            acc[q] = acc[q] + xv * LD8(w + q * g->ldw + i);                      \
    }                                                                            \
    DOT_TAIL(1, NO)                                                              \
    for (q = 0; q < NO; q++) {                                                   \
        memcpy(l, &acc[q], sizeof l);                                            \
        g->y[s * g->ldy + o + q] = SIMD_FN(tree)(l) + tail[0][q];                \
    }                                                                            \
}

DOT2_BLOCK(SIMD_FN(dot_block), DOT_NP, DOT_NO, XV_JOIN, WV_TWICE)
DOT2_BLOCK(SIMD_FN(dot_pair), 1, DOT_NO, XV_JOIN, WV_TWICE)
DOT1_BLOCK(SIMD_FN(dot_row), DOT_NO)
DOT2_BLOCK(SIMD_FN(dot_col), DOT_NP, 1, XV_JOIN, WV_TWICE)
DOT2_BLOCK(SIMD_FN(dot_col_pair), 1, 1, XV_JOIN, WV_TWICE)
DOT1_BLOCK(SIMD_FN(dot_one), 1)
DOT2_BLOCK(SIMD_FN(dotp_block), DOT_NP, DOT_NO, XV_PACKED, WV_TWICE)
DOT2_BLOCK(SIMD_FN(dotp_pair), 1, DOT_NO, XV_PACKED, WV_TWICE)
DOT2_BLOCK(SIMD_FN(dotp_col), DOT_NP, 1, XV_PACKED, WV_TWICE)
DOT2_BLOCK(SIMD_FN(dotp_col_pair), 1, 1, XV_PACKED, WV_TWICE)
DOT2_BLOCK(SIMD_FN(dotk_first), DOT_NP, DOT_NO, XV_PACKED, WV_KEEP)
DOT2_BLOCK(SIMD_FN(dotk_block), DOT_NP, DOT_NO, XV_PACKED, WV_KEPT)

/* Output blocks outermost: DOT_NO weight rows stay in L1 for every sample.
 * The block functions differ only in where the x vectors come from. A sweep
 * takes WIDTH outputs at a time while they last; DOT_LOOPS runs two sweeps:
 * whole output blocks, then the outputs left one at a time. */
#define DOT_SWEEP(WIDTH, BLOCK, PAIR, ROW)                                       \
    for (; o + (WIDTH) <= o1; o += (WIDTH)) {                                    \
        for (s = s0; s + DOT_ROWS <= s1; s += DOT_ROWS)                          \
            BLOCK(g, s, o, 0);                                                   \
        for (; s + 2 <= s1; s += 2)                                              \
            PAIR(g, s, o, 0);                                                    \
        if (s < s1)                                                              \
            ROW(g, s, o);                                                        \
    }
#define DOT_LOOPS(BLOCK, PAIR, COL, COL_PAIR)                                    \
    DOT_SWEEP(DOT_NO, BLOCK, PAIR, SIMD_FN(dot_row))                             \
    DOT_SWEEP(1, COL, COL_PAIR, SIMD_FN(dot_one))

/* A free kept region (its busy flag now set), or NULL when every region is
 * in use by other tasks (this one then broadcasts its weights). */
static float *SIMD_FN(claim)(const mt_gemm_dot_args *g, int *r)
{
    for (*r = 0; *r < g->kept_regions; (*r)++)
        if (!__atomic_exchange_n(g->kept_busy + *r, 1, __ATOMIC_ACQUIRE))
            return g->kept + *r * g->kept_floats;
    return 0;
}

/* Whole output blocks over >= 2 sample blocks, weights kept by the first;
 * returns the first output left to the other paths. */
static long SIMD_FN(dot_kept)(const mt_gemm_dot_args *g, int s0, int s1, int o0, int o1)
{
    long o = o0, s;
    int r;
    float *kept = s0 + 2 * DOT_ROWS <= s1 ? SIMD_FN(claim)(g, &r) : 0;
    if (!kept)
        return o;
    for (; o + DOT_NO <= o1; o += DOT_NO) {
        SIMD_FN(dotk_first)(g, s0, o, kept);
        for (s = s0 + DOT_ROWS; s + DOT_ROWS <= s1; s += DOT_ROWS)
            SIMD_FN(dotk_block)(g, s, o, kept);
        for (; s + 2 <= s1; s += 2)
            SIMD_FN(dotp_pair)(g, s, o, 0);
        if (s < s1)
            SIMD_FN(dot_row)(g, s, o);
    }
    __atomic_store_n(g->kept_busy + r, 0, __ATOMIC_RELEASE);
    return o;
}

/* The split puts s0 on a DOT_ROWS edge, so packed pairs start a group. */
static void SIMD_FN(dot)(const mt_gemm_dot_args *g, int s0, int s1, int o0, int o1)
{
    long o = o0, s;
    if (g->xp) {
        o = SIMD_FN(dot_kept)(g, s0, s1, o0, o1);
        DOT_LOOPS(SIMD_FN(dotp_block), SIMD_FN(dotp_pair), SIMD_FN(dotp_col), SIMD_FN(dotp_col_pair))
    } else {
        DOT_LOOPS(SIMD_FN(dot_block), SIMD_FN(dot_pair), SIMD_FN(dot_col), SIMD_FN(dot_col_pair))
    }
}

#undef DOT_LOOPS
#undef DOT_SWEEP
#undef XV_JOIN
#undef XV_PACKED
#undef WV_TWICE
#undef WV_KEEP
#undef WV_KEPT
#undef DOT_TAIL
#undef DOT2_BLOCK
#undef DOT1_BLOCK
#undef JOIN
#undef TWICE
#undef LD8
