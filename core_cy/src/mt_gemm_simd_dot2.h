/* Order-2 (dot product) micro-kernels of mt_gemm_simd.h for VL == 16: the
 * 8 lanes of sample s fill the low half of a vector and those of sample s + 1
 * the high half, against one weight row in both halves, so each multiply and
 * add advances two dot products and each half holds exactly order 2's lanes.
 * A sample left over (odd count) runs on 8-float half vectors. The includer
 * defines DOT_NP x DOT_NO (sample pairs x outputs per block). */
#include <immintrin.h>

#define DOT_ROWS (2 * DOT_NP)   /* samples per block */

#define LD8(p) ((h8)*(const h8u *)(p))
/* [8 floats at lo | 8 floats at hi]: one load and one insert from memory */
#define JOIN(lo, hi) ((v8)_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd( \
                          (const double *)(lo))), _mm256_loadu_pd((const double *)(hi)), 1))
/* [8 floats at p | the same 8]: a broadcast load, no shuffle */
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

/* y block of NP sample pairs x NO outputs at (s, o) (order 2). */
#define DOT2_BLOCK(NAME, NP, NO)                                                 \
static inline void NAME(const mt_gemm_dot_args *g, long s, long o)              \
{                                                                                \
    v8 acc[NP][NO];                                                              \
    float tail[2 * NP][NO];                                                      \
    const float *x = g->x + s * g->ldx, *w = g->w + o * g->ldw;                  \
    int p, q, i, kv = g->kn & ~7;                                                \
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
            xv[p] = JOIN(x + 2 * p * g->ldx + i, x + (2 * p + 1) * g->ldx + i);    \
        UNROLL                                                                   \
        for (q = 0; q < NO; q++)                                                 \
            wv[q] = TWICE(w + q * g->ldw + i);                                   \
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

DOT2_BLOCK(SIMD_FN(dot_block), DOT_NP, DOT_NO)
DOT2_BLOCK(SIMD_FN(dot_pair), 1, DOT_NO)
DOT1_BLOCK(SIMD_FN(dot_row), DOT_NO)
DOT2_BLOCK(SIMD_FN(dot_col), DOT_NP, 1)
DOT2_BLOCK(SIMD_FN(dot_col_pair), 1, 1)
DOT1_BLOCK(SIMD_FN(dot_one), 1)

/* Output blocks outermost: DOT_NO weight rows stay in L1 for every sample. */
static void SIMD_FN(dot)(const mt_gemm_dot_args *g, int s0, int s1, int o0, int o1)
{
    long o = o0, s;
    for (; o + DOT_NO <= o1; o += DOT_NO) {
        for (s = s0; s + 2 * DOT_NP <= s1; s += 2 * DOT_NP)
            SIMD_FN(dot_block)(g, s, o);
        for (; s + 2 <= s1; s += 2)
            SIMD_FN(dot_pair)(g, s, o);
        if (s < s1)
            SIMD_FN(dot_row)(g, s, o);
    }
    for (; o < o1; o++) {
        for (s = s0; s + 2 * DOT_NP <= s1; s += 2 * DOT_NP)
            SIMD_FN(dot_col)(g, s, o);
        for (; s + 2 <= s1; s += 2)
            SIMD_FN(dot_col_pair)(g, s, o);
        if (s < s1)
            SIMD_FN(dot_one)(g, s, o);
    }
}

#undef DOT_TAIL
#undef DOT2_BLOCK
#undef DOT1_BLOCK
#undef JOIN
#undef TWICE
#undef LD8
