/* AVX-512 micro-kernels of the GEMM layer (see mt_gemm.h, mt_gemm_simd.h),
 * compiled for AVX-512 by the pragma below whatever the build flags and used
 * only when the CPU reports AVX-512F and VL at run time. The pragma enables
 * no FMA contraction (the build has -ffp-contract=off), so products and sums
 * round as on every target. 16-float zmm vectors and 32 registers:
 * ACC_MR rows x ACC_NV vectors (acc) and DOT_NP sample pairs x DOT_NO
 * outputs (dot, two samples' 8 lanes per vector) of accumulators. */
#include "mt_gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
/* Only the kernels are AVX-512 code: the CPU check below must run anywhere. */
#if defined(__clang__)
#pragma clang attribute push (__attribute__((target("avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
#endif
#define SIMD_NAME "avx512"
#define SIMD_FN(x) avx512_##x
#define VL 16
#ifndef ACC_MR
#define ACC_MR 8
#endif
#ifndef ACC_NV
#define ACC_NV 3
#endif
#ifndef DOT_NP
#define DOT_NP 4
#endif
#ifndef DOT_NO
#define DOT_NO 5
#endif
#include "mt_gemm_simd.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const mt_gemm_variant *mt_gemm_avx512_variant(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        ? &avx512_set : 0;
}
#else
const mt_gemm_variant *mt_gemm_avx512_variant(void)
{
    return 0;
}
#endif
