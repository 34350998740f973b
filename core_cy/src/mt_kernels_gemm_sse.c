/* SSE micro-kernels of the GEMM layer (x86-64 baseline; see mt_gemm_simd.h):
 * 4-float xmm vectors; 4 rows x 2 vectors (acc) and 1 sample x 4 outputs
 * x 2 vectors (dot) keep 8 accumulators of the 16 registers. */
#include "mt_gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SIMD_NAME "sse"
#define SIMD_FN(x) sse_##x
#define VL 4
#define ACC_MR 4
#define ACC_NV 2
#define DOT_NS 1
#define DOT_NO 4
#include "mt_gemm_simd.h"

const mt_gemm_variant *mt_gemm_sse_variant(void)
{
    return &sse_set;
}
#else
const mt_gemm_variant *mt_gemm_sse_variant(void)
{
    return 0;
}
#endif
