/* Vector micro-kernels of the GEMM layer, written once with GCC vector
 * extensions and compiled per target by the file that includes this header,
 * with vectors of the target's register width: VL = 16 floats on AVX-512,
 * 8 on AVX2, 4 on SSE and NEON (wider generic vectors would live in memory). Vector + and *
 * are lane-wise IEEE operations (no contraction: -ffp-contract=off), so every
 * target computes exactly the orders of mt_gemm.h.
 *
 * The includer defines SIMD_NAME (the set's name string), SIMD_FN(x) (a
 * unique prefix for x), VL, ACC_MR x ACC_NV (rows x vectors per acc block)
 * and DOT_NS x DOT_NO (samples x outputs per dot block). */
#include <string.h>
#include "mt_gemm.h"

typedef float v8 __attribute__((vector_size(VL * 4)));
typedef float v8u __attribute__((vector_size(VL * 4), aligned(4), may_alias));
/* v with its lanes permuted (indices 0..VL-1): __builtin_shufflevector on
 * clang and GCC >= 12, __builtin_shuffle on older GCC. */
#if defined(__clang__) || __GNUC__ >= 12
#define PERMUTE(v, ...) __builtin_shufflevector(v, v, __VA_ARGS__)
#else
typedef int v8i __attribute__((vector_size(VL * 4)));
#define PERMUTE(v, ...) __builtin_shuffle(v, (v8i){__VA_ARGS__})
#endif
#if VL == 16   /* half vectors: 8 floats */
typedef float h8 __attribute__((vector_size(32)));
typedef float h8u __attribute__((vector_size(32), aligned(4), may_alias));
#endif

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

/* Order 2 (dot products): 8 lanes in 8 / VL vectors, or with 16-float
 * vectors the 8 lanes of two samples side by side in one. */
#if VL == 16
#include "mt_gemm_simd_dot2.h"
#else
#include "mt_gemm_simd_dot.h"
#endif

static const mt_gemm_variant SIMD_FN(set) = {SIMD_NAME, SIMD_FN(acc), SIMD_FN(dot),
                                              SIMD_FN(rows_acc), SIMD_FN(arows_acc),
                                              ACC_MR, VL * ACC_NV, DOT_ROWS, DOT_NO, VL == 16};
