/* NEON micro-kernels of the GEMM layer on AArch64 (see mt_gemm_simd.h):
 * 4-float q registers; 4 rows x 4 vectors (acc) and 2 samples x 4 outputs
 * x 2 vectors (dot) keep 16 accumulators of the 32 registers. Advanced SIMD is part of every AArch64 core, so the
 * set is chosen at build time. */
#include "mt_gemm.h"

#if defined(__aarch64__) && defined(__GNUC__)
#define SIMD_NAME "neon"
#define SIMD_FN(x) neon_##x
#define VL 4
#define ACC_MR 4
#define ACC_NV 4
#define DOT_NS 2
#define DOT_NO 4
#include "mt_gemm_simd.h"

const mt_gemm_variant *mt_gemm_neon_variant(void)
{
    return &neon_set;
}
#else
const mt_gemm_variant *mt_gemm_neon_variant(void)
{
    return 0;
}
#endif
