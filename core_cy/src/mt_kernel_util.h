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

#endif
