/* Order-2 (dot product) micro-kernels of mt_gemm_simd.h for VL <= 8: each
 * dot product's 8 lanes are LANES = 8 / VL vectors. */
#define LANES (8 / VL)
#define DOT_ROWS DOT_NS   /* samples per block */

/* The fixed tree over lanes 0..7 (held in LANES vectors),
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)): on one 8-float vector
 * by shuffles (each add keeps the scalar tree's operand order; AVX2 forward
 * 3-15% faster), else on scalars (a shuffled form gained nothing on SSE). */
#if VL == 8
static inline float SIMD_FN(tree)(const v8 *v)
{
    v8 a = v[0];
    a = a + PERMUTE(a, 1, 0, 3, 2, 5, 4, 7, 6);
    a = a + PERMUTE(a, 2, 3, 0, 1, 6, 7, 4, 5);
    a = a + PERMUTE(a, 4, 5, 6, 7, 0, 1, 2, 3);
    return a[0];
}
#else
static inline float SIMD_FN(tree)(const v8 *v)
{
    float l[8];
    memcpy(l, v, sizeof l);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}
#endif

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

#undef LANES
