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

/* C block of R rows x NV vectors at (r, j), k ascending (order 1). */
#define ACC_BLOCK(NAME, R, NV)                                                   \
static inline void NAME(const mt_gemm_acc_args *g, long r, long j)              \
{                                                                                \
    v8 acc[R][NV];                                                               \
    float *c = g->c + r * g->ldc + j;                                            \
    const float *a = g->a + r * g->ar, *b = g->b + j;                            \
    int q, v, k;                                                                 \
    UNROLL                                                                       \
    for (q = 0; q < R; q++)                                                      \
        UNROLL                                                                   \
        for (v = 0; v < NV; v++)                                                 \
            acc[q][v] = g->from_c ? LD(c + q * g->ldc + VL * v) : (v8){0};        \
    for (k = 0; k < g->kn; k++) {                                                \
        const float *bk = b + (long)k * g->ldb, *ak = a + (long)k * g->ak;       \
        v8 bv[NV];                                                               \
        UNROLL                                                                   \
        for (v = 0; v < NV; v++)                                                 \
            bv[v] = LD(bk + VL * v);                                              \
        UNROLL                                                                   \
        for (q = 0; q < R; q++) {                                                \
            float s = ak[q * g->ar];                                             \
            UNROLL                                                               \
            for (v = 0; v < NV; v++)                                             \
                acc[q][v] = acc[q][v] + s * bv[v];                               \
        }                                                                        \
    }                                                                            \
    UNROLL                                                                       \
    for (q = 0; q < R; q++)                                                      \
        UNROLL                                                                   \
        for (v = 0; v < NV; v++)                                                 \
            ST(c + q * g->ldc + VL * v, acc[q][v]);                               \
}

ACC_BLOCK(SIMD_FN(acc_wide), ACC_MR, ACC_NV)
ACC_BLOCK(SIMD_FN(acc_one), ACC_MR, 1)
ACC_BLOCK(SIMD_FN(acc_row_long), 1, 4 * ACC_NV)
ACC_BLOCK(SIMD_FN(acc_row), 1, 1)

#define SMALL_B_FLOATS (64L * 1024)

/* One column j of rows [r0, r1), scalar (the last cols % VL). */
static void SIMD_FN(acc_column)(const mt_gemm_acc_args *g, long r0, long r1, long j)
{
    long r;
    int k;
    for (r = r0; r < r1; r++) {
        const float *a = g->a + r * g->ar;
        float *c = g->c + r * g->ldc + j, acc = g->from_c ? *c : 0.0f;
        for (k = 0; k < g->kn; k++)
            acc = acc + a[(long)k * g->ak] * g->b[(long)k * g->ldb + j];
        *c = acc;
    }
}

/* Rows in blocks of ACC_MR. With a large B, column strips outermost: a strip
 * of B (kn x strip) stays in L1 while every row block passes over it; a
 * small B stays in L2 anyway, so C is written row after row. Rows left over
 * go one at a time in long strips, so enough independent sums are in flight
 * to hide the add latency (a single row is the batch-1 case). */
static void SIMD_FN(acc)(const mt_gemm_acc_args *g, int r0, int r1, int j0, int j1)
{
    const long wide = VL * ACC_NV, longer = 4 * VL * ACC_NV;
    long rows_full = r0 + (long)(r1 - r0) / ACC_MR * ACC_MR, j, r;
    if ((long)g->kn * (j1 - j0) <= SMALL_B_FLOATS) {   /* B stays in L2: C row-major */
        for (r = r0; r < rows_full; r += ACC_MR)
            for (j = j0; j + wide <= j1; j += wide)
                SIMD_FN(acc_wide)(g, r, j);
        j = j0 + (j1 - j0) / wide * wide;
    } else {
        for (j = j0; j + wide <= j1; j += wide)
            for (r = r0; r < rows_full; r += ACC_MR)
                SIMD_FN(acc_wide)(g, r, j);
    }
    for (; j + VL <= j1; j += VL)
        for (r = r0; r < rows_full; r += ACC_MR)
            SIMD_FN(acc_one)(g, r, j);
    for (; j < j1; j++)
        SIMD_FN(acc_column)(g, r0, rows_full, j);
    for (r = rows_full; r < r1; r++) {
        for (j = j0; j + longer <= j1; j += longer)
            SIMD_FN(acc_row_long)(g, r, j);
        for (; j + VL <= j1; j += VL)
            SIMD_FN(acc_row)(g, r, j);
        for (; j < j1; j++)
            SIMD_FN(acc_column)(g, r, r + 1, j);
    }
}

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

static const mt_gemm_variant SIMD_FN(set) = {SIMD_NAME, SIMD_FN(acc), SIMD_FN(dot)};
