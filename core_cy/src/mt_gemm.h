/* The GEMM layer every float FC and convolution kernel runs on, and the one
 * summation order all targets share.
 *
 * CANONICAL SUMMATION ORDER (bit-identical on Cortex-M, x86-64 and AArch64)
 * Every float is rounded after every multiply and after every add (IEEE-754
 * single precision, round to nearest); no fused multiply-add anywhere: all
 * targets build with -ffp-contract=off and no kernel calls fmaf. (Cortex-M3
 * has no FMA at all, so fusing on the others would break identity.)
 *
 * 1. Accumulating products, mt_gemm_acc:
 *        C[r][j] = init + A(r,0) B(0,j) + A(r,1) B(1,j) + ... + A(r,K-1) B(K-1,j)
 *    evaluated left to right (c = c + a*b for k = 0, 1, ..., K-1), where init
 *    is C[r][j] itself (from_c) or +0.0f. Vector units work across j (and r):
 *    each lane owns one C element, so lane count and register blocking never
 *    change a bit. Used by the FC weight gradient and input derivative and by
 *    every convolution (forward, derivative and weight gradient).
 *    mt_gemm_acc_rows is the same with each row k of B found through a
 *    pointer (stride-1 convolutions read B straight from padded planes:
 *    implicit im2col), and mt_gemm_acc_arows with each row r of A found
 *    through a pointer (a stride-1 convolution's weight gradient).
 *
 * 2. Dot products of two contiguous rows, mt_gemm_dot (FC forward):
 *        y[s][o] = ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) + t
 *    with L = 8 lanes: lane q sums x[s][i] w[o][i] for i == q (mod 8) over
 *    i < K - K%8, in ascending i, starting from +0.0f; t sums the last K%8
 *    products in ascending i, starting from +0.0f. One 8-float vector on AVX2,
 *    half of a 16-float vector on AVX-512 (two samples side by side, the tree
 *    run on both halves at once), two 4-float vectors on SSE and NEON, eight
 *    scalars on Cortex-M.
 *
 * Work splits (blocks, threads) only ever partition the output elements, so
 * results do not depend on the block sizes, on the number of threads or on
 * which thread claims which chunk.
 * Which micro-kernel set runs: chosen at build time (scalar C; NEON on
 * AArch64) and at run time on x86-64 (AVX-512 when the CPU has it, else AVX2,
 * else SSE). */
#ifndef MT_GEMM_H
#define MT_GEMM_H

/* C[r*ldc + j] (r < rows, j < cols) per order 1, with A(r,k) = a[k*ak + r*ar]
 * and B(k,j) = b[k*ldb + j]. */
typedef struct {
    float *c;
    long ldc;
    const float *a;
    long ak, ar;
    const float *b;
    long ldb;
    int rows, cols, kn, from_c;
} mt_gemm_acc_args;

/* mt_gemm_acc_args with B(k,j) = brows[k][j]: rows anywhere in memory. */
typedef struct {
    float *c;
    long ldc;
    const float *a;
    long ak, ar;
    const float *const *brows;
    int rows, cols, kn, from_c;
} mt_gemm_rows_args;

/* mt_gemm_acc_args with A(r,k) = arows[r][k]. */
typedef struct {
    float *c;
    long ldc;
    const float *const *arows;
    const float *b;
    long ldb;
    int rows, cols, kn, from_c;
} mt_gemm_arows_args;

/* y[s*ldy + o] (s < ns, o < no) per order 2 over x[s*ldx + i] and
 * w[o*ldw + i], i < kn. The rest is mt_gemm_dot_packed's (NULL / 0 for
 * mt_gemm_dot): x's sample pairs packed, and kept_regions regions of
 * kept_floats floats where a task may keep its weight rows twice, each
 * claimed through its kept_busy flag. */
typedef struct {
    const float *x;
    long ldx;
    const float *w;
    long ldw;
    float *y;
    long ldy;
    int ns, no, kn;
    const float *xp;
    float *kept;
    int *kept_busy;
    int kept_regions;
    long kept_floats;
} mt_gemm_dot_args;

/* One target's micro-kernel set; each computes the sub-block
 * [r0, r1) x [j0, j1) of its output (rows x columns, or samples x outputs).
 * The register block sizes set the thread split's units, so that work splits
 * fall on block edges. */
typedef struct {
    const char *name;
    void (*acc)(const mt_gemm_acc_args *g, int r0, int r1, int j0, int j1);
    void (*dot)(const mt_gemm_dot_args *g, int s0, int s1, int o0, int o1);
    void (*acc_rows)(const mt_gemm_rows_args *g, int r0, int r1, int j0, int j1);
    void (*acc_arows)(const mt_gemm_arows_args *g, int r0, int r1, int j0, int j1);
    int acc_block_rows, acc_block_cols, dot_block_rows, dot_block_cols;
    int dot_packs;   /* dot reads mt_gemm_dot_packed's scratch (else ignores it) */
} mt_gemm_variant;

void mt_gemm_acc(const mt_gemm_acc_args *g);
void mt_gemm_dot(const mt_gemm_dot_args *g);
void mt_gemm_acc_rows(const mt_gemm_rows_args *g);
void mt_gemm_acc_arows(const mt_gemm_arows_args *g);

/* mt_gemm_dot with its operands first copied into `bytes` of scratch, for
 * sets whose vectors hold two samples (AVX-512): x's sample pairs packed
 * (below), then up to MT_GEMM_KEPT_REGIONS regions for weights kept twice
 * (kn <= MT_GEMM_KEPT_MAX_K only: longer rows overflow L1). Same bits as
 * mt_gemm_dot for any bytes >= mt_gemm_dot_scratch_bytes(ns, kn, 0). */
#define MT_GEMM_KEPT_REGIONS 4
#define MT_GEMM_KEPT_OUTPUTS 5
#define MT_GEMM_KEPT_MAX_K 512
unsigned long mt_gemm_dot_scratch_bytes(int ns, int kn, int regions);
void mt_gemm_dot_packed(const mt_gemm_dot_args *g, void *scratch, unsigned long bytes);

/* Packed pairs (s, s + 1): in groups of MT_GEMM_PACK_GROUP pairs (the last
 * group may be smaller), each group k-block by k-block (whole 8-float
 * blocks), within a block pair by pair [x_s 8 floats | x_s+1 8 floats]. */
#define MT_GEMM_PACK_GROUP 4

/* Pair `pair`'s first block in xp, and its group's width in pairs (the
 * stride from one k-block to the next is group * 16 floats). */
static inline const float *mt_gemm_packed_pair(const float *xp, long pair, int ns, int kn,
                                               int *group)
{
    long first = pair - pair % MT_GEMM_PACK_GROUP, left = ns / 2 - first;
    *group = left < MT_GEMM_PACK_GROUP ? (int)left : MT_GEMM_PACK_GROUP;
    return xp ? xp + (first * (kn / 8) + pair % MT_GEMM_PACK_GROUP) * 16 : xp;
}

/* Forces a micro-kernel set by name ("scalar", "sse", "avx2", "avx512",
 * "neon");
 * returns 0 when this build or CPU lacks it. NULL restores the automatic
 * choice. For tests and benchmarks comparing targets on one machine. */
int mt_gemm_select(const char *name);
/* Name of the set in use. */
const char *mt_gemm_variant_name(void);

/* The sets this build compiles (NULL where the target lacks one). */
extern const mt_gemm_variant mt_gemm_scalar;
const mt_gemm_variant *mt_gemm_sse_variant(void);
const mt_gemm_variant *mt_gemm_avx2_variant(void);
const mt_gemm_variant *mt_gemm_avx512_variant(void);
const mt_gemm_variant *mt_gemm_neon_variant(void);

/* Work splitting across threads. The core is single-threaded by itself; a
 * port (POSIX: mt_threads.c) may install a runner that calls
 * task(ctx, lo, hi) over a partition of [0, n) on `threads` threads and
 * returns when all are done. Kernels hand it only output-disjoint tasks. */
typedef void (*mt_task_fn)(void *ctx, int lo, int hi);
typedef void (*mt_parallel_fn)(mt_task_fn task, void *ctx, int n, long work);
void mt_set_parallel(mt_parallel_fn runner, int threads);
void mt_parallel(mt_task_fn task, void *ctx, int n, long work);

#endif
