/* Vector micro-kernels of the GEMM layer, written once with GCC vector
 * extensions and compiled per target by the file that includes this header,
 * with vectors of the target's register width: VL = 8 floats on AVX2, 4 on
 * SSE and NEON (wider generic vectors would live in memory). Vector + and *
 * are lane-wise IEEE operations (no contraction: -ffp-contract=off), so every
 * target computes exactly the orders of mt_gemm.h; a dot product's 8 lanes
 * are 8 / VL vectors.
 *
 * The includer defines SIMD_NAME (the set's name string), SIMD_FN(x) (a
 * unique prefix for x), VL, ACC_MR x ACC_NV (rows x vectors per acc block)
 * and DOT_NS x DOT_NO (samples x outputs per dot block). */
#include <string.h>
#include "mt_gemm.h"

typedef float v8 __attribute__((vector_size(VL * 4)));
typedef float v8u __attribute__((vector_size(VL * 4), aligned(4), may_alias));
#define LANES (8 / VL)   /* vectors per dot product */

/* Complete unrolling keeps every accumulator in a register whatever -O level
 * the build uses (GCC unrolls these small loops fully only at -O3). */
#define UNROLL _Pragma("GCC unroll 16")
#define LD(p) ((v8)*(const v8u *)(p))
#define ST(p, v) (*(v8u *)(p) = (v))

#define SMALL_B_FLOATS (64L * 1024)

/* A(r, k) = a[k*ak + r*ar] for the two strided-A forms */
#define STRIDED_A_SETUP(g, r) const float *a = (g)->a + (r) * (g)->ar
#define STRIDED_A_AT(g, q, k) a[(long)(k) * (g)->ak + (long)(q) * (g)->ar]

/* B(k, j) = b[k*ldb + j] (mt_gemm_acc) */
#define ACC_ARGS mt_gemm_acc_args
#define ACC_FN(x) SIMD_FN(x)
#define B_ROW(g, k) ((g)->b + (long)(k) * (g)->ldb)
#define A_SETUP STRIDED_A_SETUP
#define A_AT STRIDED_A_AT
#include "mt_gemm_simd_acc.h"

/* B(k, j) = brows[k][j] (mt_gemm_acc_rows: implicit im2col) */
#define ACC_ARGS mt_gemm_rows_args
#define ACC_FN(x) SIMD_FN(rows_##x)
#define B_ROW(g, k) ((g)->brows[k])
#define A_SETUP STRIDED_A_SETUP
#define A_AT STRIDED_A_AT
#include "mt_gemm_simd_acc.h"

/* A(r, k) = arows[r][k] (mt_gemm_acc_arows: implicit im2col as A) */
#define ACC_ARGS mt_gemm_arows_args
#define ACC_FN(x) SIMD_FN(arows_##x)
#define B_ROW(g, k) ((g)->b + (long)(k) * (g)->ldb)
#define A_SETUP(g, r) const float *const *ap = (g)->arows + (r)
#define A_AT(g, q, k) ap[q][k]
#include "mt_gemm_simd_acc.h"

/* The fixed tree over lanes 0..7 (held in LANES vectors). */
static inline float SIMD_FN(tree)(const v8 *v)
{
    float l[8];
    memcpy(l, v, sizeof l);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* y block of NS samples x NO outputs at (s, o): 8 lanes each (order 2). */
#define DOT_BLOCK(NAME, NS, NO)                                                  \
static inline void NAME(const mt_gemm_dot_args *g, long s, long o)              \
{                                                                                \
    v8 acc[NS][NO][LANES];                                                       \
    float tail[NS][NO];                                                          \
    const float *x = g->x + s * g->ldx, *w = g->w + o * g->ldw;                  \
    int p, q, h, i, kv = g->kn & ~7;                                             \
    UNROLL                                                                       \
    for (p = 0; p < NS; p++)                                                     \
        UNROLL                                                                   \
        for (q = 0; q < NO; q++) {                                               \
            UNROLL                                                               \
            for (h = 0; h < LANES; h++)                                          \
                acc[p][q][h] = (v8){0};                                          \
            tail[p][q] = 0.0f;                                                   \
        }                                                                        \
    for (i = 0; i < kv; i += 8) {                                                \
        v8 xv[NS][LANES], wv[NO][LANES];                                         \
        UNROLL                                                                   \
        for (h = 0; h < LANES; h++) {                                            \
            UNROLL                                                               \
            for (p = 0; p < NS; p++)                                             \
                xv[p][h] = LD(x + p * g->ldx + i + VL * h);                      \
            UNROLL                                                               \
            for (q = 0; q < NO; q++)                                             \
                wv[q][h] = LD(w + q * g->ldw + i + VL * h);                      \
        }                                                                        \
        UNROLL                                                                   \
        for (p = 0; p < NS; p++)                                                 \
            UNROLL                                                               \
            for (q = 0; q < NO; q++)                                             \
                UNROLL                                                           \
                for (h = 0; h < LANES; h++)                                      \
                    acc[p][q][h] = acc[p][q][h] + xv[p][h] * wv[q][h];           \
    }                                                                            \
    for (; i < g->kn; i++)                                                       \
        for (p = 0; p < NS; p++)                                                 \
            for (q = 0; q < NO; q++)                                             \
                tail[p][q] = tail[p][q] + x[p * g->ldx + i] * w[q * g->ldw + i]; \
    for (p = 0; p < NS; p++)                                                     \
        for (q = 0; q < NO; q++)                                                 \
            g->y[(s + p) * g->ldy + o + q] = SIMD_FN(tree)(acc[p][q]) + tail[p][q]; \
}

DOT_BLOCK(SIMD_FN(dot_block), DOT_NS, DOT_NO)
DOT_BLOCK(SIMD_FN(dot_row), 1, DOT_NO)
DOT_BLOCK(SIMD_FN(dot_col), DOT_NS, 1)
DOT_BLOCK(SIMD_FN(dot_one), 1, 1)

/* Output blocks outermost: DOT_NO weight rows stay in L1 for every sample. */
static void SIMD_FN(dot)(const mt_gemm_dot_args *g, int s0, int s1, int o0, int o1)
{
    long o = o0, s;
    for (; o + DOT_NO <= o1; o += DOT_NO) {
        for (s = s0; s + DOT_NS <= s1; s += DOT_NS)
            SIMD_FN(dot_block)(g, s, o);
        for (; s < s1; s++)
            SIMD_FN(dot_row)(g, s, o);
    }
    for (; o < o1; o++) {
        for (s = s0; s + DOT_NS <= s1; s += DOT_NS)
            SIMD_FN(dot_col)(g, s, o);
        for (; s < s1; s++)
            SIMD_FN(dot_one)(g, s, o);
    }
}

static const mt_gemm_variant SIMD_FN(set) = {SIMD_NAME, SIMD_FN(acc), SIMD_FN(dot),
                                              SIMD_FN(rows_acc), SIMD_FN(arows_acc)};
