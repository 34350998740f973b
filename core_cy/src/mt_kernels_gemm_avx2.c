/* AVX2 micro-kernels of the GEMM layer (see mt_gemm_simd.h), compiled for
 * AVX2 by the pragma below whatever the build flags and used only when the
 * CPU reports AVX2 at run time. The pragma enables no FMA (and the build has
 * -ffp-contract=off), so the products and sums round as on every target.
 * 8-float ymm vectors; 4 rows x 2 vectors (acc) and 2 samples x 4 outputs
 * (dot) keep 8 accumulators of the 16 registers. */
#include "mt_gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
/* Only the kernels are AVX2 code: the CPU check below must run anywhere. */
#if defined(__clang__)
#pragma clang attribute push (__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#define SIMD_NAME "avx2"
#define SIMD_FN(x) avx2_##x
#define VL 8
#define ACC_MR 4
#define ACC_NV 2
#define DOT_NS 2
#define DOT_NO 4
#include "mt_gemm_simd.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const mt_gemm_variant *mt_gemm_avx2_variant(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? &avx2_set : 0;
}
#else
const mt_gemm_variant *mt_gemm_avx2_variant(void)
{
    return 0;
}
#endif
