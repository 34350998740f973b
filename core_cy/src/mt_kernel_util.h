/* Small helpers the kernel families share (header-only, C99). */
#ifndef MT_KERNEL_UTIL_H
#define MT_KERNEL_UTIL_H

/* Runs the statement for j in [0, n) in blocks of 8, then 4: GCC -O2 (very-cheap
 * cost model) vectorizes only inner loops with a known trip count. */
#define FOR8(j, n, ...) do { long j##_b_ = 0, j; int j##_k_; \
    for (; j##_b_ + 8 <= (n); j##_b_ += 8) \
        for (j##_k_ = 0; j##_k_ < 8; j##_k_++) { j = j##_b_ + j##_k_; __VA_ARGS__; } \
    if (j##_b_ + 4 <= (n)) { \
        for (j##_k_ = 0; j##_k_ < 4; j##_k_++) { j = j##_b_ + j##_k_; __VA_ARGS__; } \
        j##_b_ += 4; } \
    for (j = j##_b_; j < (n); j++) { __VA_ARGS__; } } while (0)

/* Output positions o in [*lo, *hi) whose input index o*stride + off lies in
 * [0, in). */
static inline void mt_clip(int off, int stride, int in, int out, int *lo, int *hi)
{
    int a = off < 0 ? (-off + stride - 1) / stride : 0;
    int b = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (b > out)
        b = out;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* Register blocks: GCC's loop vectorizer would vectorize the k loop of a
 * block across iterations (shuffles, accumulators kept in memory); with it
 * off for these functions, SLP vectorizes each block across its independent
 * accumulators. A code-generation hint only: floating-point flags (no
 * contraction) are unchanged, so results are identical either way. */
/* Keeps a helper's frame out of its caller's: on a microcontroller the stack
 * a kernel needs is the deepest call chain, not the sum of every inlined path. */
#if defined(__GNUC__)
#define MT_NOINLINE __attribute__((noinline))
#else
#define MT_NOINLINE
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define MT_BLOCK __attribute__((optimize("no-tree-loop-vectorize")))
#else
#define MT_BLOCK
#endif

/* dst[r*ld + j] = (from_dst ? dst[r*ld + j] : 0) + sum_k coef[k*ck + r*cr] * src[k*ls + j],
 * k ascending. R x J accumulators stay in registers across the k loop. */
#define MT_ACC_BLOCK(NAME, R, J)                                                  \
MT_BLOCK static inline void NAME(float *restrict dst, long ld, const float *restrict src, \
                                 long ls, const float *restrict coef, long ck, long cr, \
                                 int kn, int from_dst)                           \
{                                                                                \
    float acc[R][J];                                                             \
    int r, j, k;                                                                 \
    for (r = 0; r < R; r++)                                                      \
        for (j = 0; j < J; j++)                                                  \
            acc[r][j] = from_dst ? dst[(long)r * ld + j] : 0.0f;                 \
    for (k = 0; k < kn; k++) {                                                   \
        const float *sv = src + (long)k * ls;                                    \
        for (r = 0; r < R; r++) {                                                \
            float c = coef[(long)k * ck + (long)r * cr];                         \
            for (j = 0; j < J; j++)                                              \
                acc[r][j] += c * sv[j];                                          \
        }                                                                        \
    }                                                                            \
    for (r = 0; r < R; r++)                                                      \
        for (j = 0; j < J; j++)                                                  \
            dst[(long)r * ld + j] = acc[r][j];                                   \
}

MT_ACC_BLOCK(mt_block_4x8, 4, 8)
MT_ACC_BLOCK(mt_block_4x4, 4, 4)
MT_ACC_BLOCK(mt_block_4x1, 4, 1)
MT_ACC_BLOCK(mt_block_2x8, 2, 8)
MT_ACC_BLOCK(mt_block_2x4, 2, 4)
MT_ACC_BLOCK(mt_block_2x1, 2, 1)
MT_ACC_BLOCK(mt_block_1x8, 1, 8)
MT_ACC_BLOCK(mt_block_1x4, 1, 4)
MT_ACC_BLOCK(mt_block_1x1, 1, 1)

#endif
