/* The GEMM layer's drivers: micro-kernel set selection, the portable scalar
 * set (Cortex-M and any target without a vector set), and the split of an
 * output into thread tasks. The summation order is in mt_gemm.h. */
#include <string.h>
#include "mt_gemm.h"
#include "mt_kernel_util.h"


/* ---- scalar set: the register blocks of mt_kernel_util.h ---- */

static void scalar_acc(const mt_gemm_acc_args *g, int r0, int r1, int j0, int j1)
{
    int r, j;
    for (r = r0; r < r1; r += 4) {
        int four = r + 4 <= r1;
        float *d = g->c + (long)r * g->ldc;
        const float *cf = g->a + (long)r * g->ar;
        for (j = j0; j < j1;) {
            int w = j + 8 <= j1 ? 8 : j + 4 <= j1 ? 4 : 1, q;
            for (q = 0; q < (four ? 1 : r1 - r); q++) {
                float *dq = d + (long)q * g->ldc + j;
                const float *cq = cf + (long)q * g->ar;
                const float *s = g->b + j;
                if (four && w == 8)
                    mt_block_4x8(dq, g->ldc, s, g->ldb, cq, g->ak, g->ar, g->kn, g->from_c);
                else if (four && w == 4)
                    mt_block_4x4(dq, g->ldc, s, g->ldb, cq, g->ak, g->ar, g->kn, g->from_c);
                else if (four)
                    mt_block_4x1(dq, g->ldc, s, g->ldb, cq, g->ak, g->ar, g->kn, g->from_c);
                else if (w == 8)
                    mt_block_1x8(dq, g->ldc, s, g->ldb, cq, g->ak, g->ar, g->kn, g->from_c);
                else if (w == 4)
                    mt_block_1x4(dq, g->ldc, s, g->ldb, cq, g->ak, g->ar, g->kn, g->from_c);
                else
                    mt_block_1x1(dq, g->ldc, s, g->ldb, cq, g->ak, g->ar, g->kn, g->from_c);
            }
            j += w;
        }
    }
}

/* Eight lanes per output (order 2), NO outputs of one sample per block. */
#define DOT_LANES(NAME, NO)                                                      \
MT_BLOCK static void NAME(const float *restrict x, const float *restrict w,     \
                          long ldw, float *restrict y, int kn)                  \
{                                                                                \
    float acc[NO][8], tl[NO];                                                    \
    int i, c, q, kv = kn & ~7;                                                   \
    for (c = 0; c < NO; c++) {                                                   \
        tl[c] = 0.0f;                                                            \
        for (q = 0; q < 8; q++)                                                  \
            acc[c][q] = 0.0f;                                                    \
    }                                                                            \
    for (i = 0; i < kv; i += 8)                                                  \
        for (c = 0; c < NO; c++)                                                 \
            for (q = 0; q < 8; q++)                                              \
                acc[c][q] += x[i + q] * w[(long)c * ldw + i + q];                \
    for (; i < kn; i++)                                                          \
        for (c = 0; c < NO; c++)                                                 \
            tl[c] += x[i] * w[(long)c * ldw + i];                                \
    for (c = 0; c < NO; c++)                                                     \
        y[c] = (((acc[c][0] + acc[c][1]) + (acc[c][2] + acc[c][3])) +            \
                ((acc[c][4] + acc[c][5]) + (acc[c][6] + acc[c][7]))) + tl[c];    \
}

DOT_LANES(dot_lanes_2, 2)
DOT_LANES(dot_lanes_1, 1)

static void scalar_dot(const mt_gemm_dot_args *g, int s0, int s1, int o0, int o1)
{
    int s, o;
    for (s = s0; s < s1; s++) {
        const float *x = g->x + (long)s * g->ldx;
        float *y = g->y + (long)s * g->ldy;
        for (o = o0; o + 2 <= o1; o += 2)
            dot_lanes_2(x, g->w + (long)o * g->ldw, g->ldw, y + o, g->kn);
        if (o < o1)
            dot_lanes_1(x, g->w + (long)o * g->ldw, g->ldw, y + o, g->kn);
    }
}

/* Row-pointer B, scalar: one C element at a time, k ascending (only large
 * scratches, on Linux boards without a vector set, take this path). */
static void scalar_acc_rows(const mt_gemm_rows_args *g, int r0, int r1, int j0, int j1)
{
    int r, j, k;
    for (r = r0; r < r1; r++) {
        const float *a = g->a + (long)r * g->ar;
        float *c = g->c + (long)r * g->ldc;
        for (j = j0; j < j1; j++) {
            float acc = g->from_c ? c[j] : 0.0f;
            for (k = 0; k < g->kn; k++)
                acc = acc + a[(long)k * g->ak] * g->brows[k][j];
            c[j] = acc;
        }
    }
}

/* Row-pointer A, scalar, as scalar_acc_rows. */
static void scalar_acc_arows(const mt_gemm_arows_args *g, int r0, int r1, int j0, int j1)
{
    int r, j, k;
    for (r = r0; r < r1; r++) {
        const float *a = g->arows[r];
        float *c = g->c + (long)r * g->ldc;
        for (j = j0; j < j1; j++) {
            float acc = g->from_c ? c[j] : 0.0f;
            for (k = 0; k < g->kn; k++)
                acc = acc + a[k] * g->b[(long)k * g->ldb + j];
            c[j] = acc;
        }
    }
}

const mt_gemm_variant mt_gemm_scalar = {"scalar", scalar_acc, scalar_dot, scalar_acc_rows,
                                        scalar_acc_arows, 4, 8, 1, 2, 0};


/* ---- selection ---- */

static const mt_gemm_variant *chosen;

static const mt_gemm_variant *automatic(void)
{
    const mt_gemm_variant *v = mt_gemm_neon_variant();
    if (!v)
        v = mt_gemm_avx512_variant();
    if (!v)
        v = mt_gemm_avx2_variant();
    if (!v)
        v = mt_gemm_sse_variant();
    return v ? v : &mt_gemm_scalar;
}

static const mt_gemm_variant *variant(void)
{
    if (!chosen)
        chosen = automatic();
    return chosen;
}

int mt_gemm_select(const char *name)
{
    const mt_gemm_variant *all[5];
    int i;
    if (!name) {
        chosen = automatic();
        return 1;
    }
    all[0] = &mt_gemm_scalar;
    all[1] = mt_gemm_sse_variant();
    all[2] = mt_gemm_avx2_variant();
    all[3] = mt_gemm_neon_variant();
    all[4] = mt_gemm_avx512_variant();
    for (i = 0; i < 5; i++)
        if (all[i] && strcmp(all[i]->name, name) == 0) {
            chosen = all[i];
            return 1;
        }
    return 0;
}

const char *mt_gemm_variant_name(void)
{
    return variant()->name;
}


/* ---- thread tasks: output rows or columns, in whole blocks ---- */

static mt_parallel_fn parallel_runner;
static int parallel_threads = 1;

void mt_set_parallel(mt_parallel_fn runner, int threads)
{
    parallel_runner = runner;
    parallel_threads = runner && threads > 1 ? threads : 1;
}

void mt_parallel(mt_task_fn task, void *ctx, int n, long work)
{
    if (parallel_runner && n > 1)
        parallel_runner(task, ctx, n, work);
    else if (n > 0)
        task(ctx, 0, n);
}

/* A task unit is one register block of rows (or columns) of the set in use. */
typedef struct {
    const void *args;
    const mt_gemm_variant *v;
    int by_rows;
    int rows, cols;
    int row_unit, col_unit;
} split;

static void unit_range(const split *sp, int lo, int hi, int *r0, int *r1, int *j0, int *j1)
{
    int unit = sp->by_rows ? sp->row_unit : sp->col_unit;
    int limit = sp->by_rows ? sp->rows : sp->cols;
    int a = lo * unit, b = hi * unit > limit ? limit : hi * unit;
    *r0 = 0; *r1 = sp->rows; *j0 = 0; *j1 = sp->cols;
    if (sp->by_rows) {
        *r0 = a; *r1 = b;
    } else {
        *j0 = a; *j1 = b;
    }
}

static void acc_task(void *ctx, int lo, int hi)
{
    const split *sp = ctx;
    int r0, r1, j0, j1;
    unit_range(sp, lo, hi, &r0, &r1, &j0, &j1);
    sp->v->acc(sp->args, r0, r1, j0, j1);
}

static void rows_task(void *ctx, int lo, int hi)
{
    const split *sp = ctx;
    int r0, r1, j0, j1;
    unit_range(sp, lo, hi, &r0, &r1, &j0, &j1);
    sp->v->acc_rows(sp->args, r0, r1, j0, j1);
}

static void arows_task(void *ctx, int lo, int hi)
{
    const split *sp = ctx;
    int r0, r1, j0, j1;
    unit_range(sp, lo, hi, &r0, &r1, &j0, &j1);
    sp->v->acc_arows(sp->args, r0, r1, j0, j1);
}

static void dot_task(void *ctx, int lo, int hi)
{
    const split *sp = ctx;
    int r0, r1, j0, j1;
    unit_range(sp, lo, hi, &r0, &r1, &j0, &j1);
    sp->v->dot(sp->args, r0, r1, j0, j1);
}

/* Splits the dimension whose whole blocks share out most evenly over the
 * threads (the busiest thread's share, relative to an even share, is
 * smaller), the one with more blocks on a tie. */
static int plan_split(split *sp, int rows, int cols)
{
    long t = parallel_threads;
    long row_units = (rows + sp->row_unit - 1) / sp->row_unit;
    long col_units = (cols + sp->col_unit - 1) / sp->col_unit;
    /* busiest / even = ceil(units / t) * t / units, compared cross-multiplied */
    long row_excess = (row_units + t - 1) / t * col_units, col_excess = (col_units + t - 1) / t * row_units;
    sp->rows = rows;
    sp->cols = cols;
    sp->by_rows = row_excess < col_excess || (row_excess == col_excess && row_units > col_units);
    return (int)(sp->by_rows ? row_units : col_units);
}

/* Runs `task` over the rows x cols output, split across threads by blocks
 * of row_unit rows or col_unit columns; work (for the thread pool's cut-off)
 * is one unit per output per K step. */
static void run_split(mt_task_fn task, const void *args, int rows, int cols, int kn, int dot)
{
    split sp;
    int units;
    if (rows <= 0 || cols <= 0)
        return;
    sp.args = args;
    sp.v = variant();
    sp.row_unit = dot ? sp.v->dot_block_rows : sp.v->acc_block_rows;
    sp.col_unit = dot ? sp.v->dot_block_cols : sp.v->acc_block_cols;
    units = plan_split(&sp, rows, cols);
    mt_parallel(task, &sp, units, (long)rows * cols * (kn + 1));
}

void mt_gemm_acc(const mt_gemm_acc_args *g)
{
    run_split(acc_task, g, g->rows, g->cols, g->kn, 0);
}

void mt_gemm_dot(const mt_gemm_dot_args *g)
{
    run_split(dot_task, g, g->ns, g->no, g->kn, 1);
}

/* ---- packed dot products: scratch = [busy flags | x's pairs | kept regions] ---- */

#define BUSY_BYTES 64   /* MT_GEMM_KEPT_REGIONS ints, on a cache line of their own */
typedef char busy_flags_fit[MT_GEMM_KEPT_REGIONS * sizeof(int) <= BUSY_BYTES ? 1 : -1];

static unsigned long pairs_bytes(int ns, int kn)
{
    return (unsigned long)(ns / 2) * (unsigned long)(kn / 8) * 16 * sizeof(float);
}

static unsigned long kept_bytes(int kn)
{
    return kn >= 8 && kn <= MT_GEMM_KEPT_MAX_K
        ? (unsigned long)MT_GEMM_KEPT_OUTPUTS * 2 * (unsigned long)(kn & ~7) * sizeof(float) : 0;
}

unsigned long mt_gemm_dot_scratch_bytes(int ns, int kn, int regions)
{
    return BUSY_BYTES + pairs_bytes(ns, kn) + (unsigned long)regions * kept_bytes(kn);
}

static void pack_pairs(const float *x, long ldx, int ns, int kn, float *xp)
{
    long first, pair;
    int group, i;
    for (first = 0; first < ns / 2; first += group) {
        float *d = (float *)mt_gemm_packed_pair(xp, first, ns, kn, &group);
        for (i = 0; i + 8 <= kn; i += 8)
            for (pair = first; pair < first + group; pair++, d += 16) {
                memcpy(d, x + 2 * pair * ldx + i, 8 * sizeof *d);
                memcpy(d + 8, x + (2 * pair + 1) * ldx + i, 8 * sizeof *d);
            }
    }
}

void mt_gemm_dot_packed(const mt_gemm_dot_args *g, void *scratch, unsigned long bytes)
{
    mt_gemm_dot_args packed = *g;
    unsigned long fixed = mt_gemm_dot_scratch_bytes(g->ns, g->kn, 0), each = kept_bytes(g->kn);
    int r;
    if (!variant()->dot_packs || bytes < fixed) {
        mt_gemm_dot(g);
        return;
    }
    packed.kept_busy = (int *)scratch;
    packed.xp = (float *)((char *)scratch + BUSY_BYTES);
    packed.kept = (float *)((char *)scratch + fixed);
    packed.kept_floats = (long)(each / sizeof(float));
    packed.kept_regions = each ? (int)((bytes - fixed) / each) : 0;
    if (packed.kept_regions > MT_GEMM_KEPT_REGIONS)
        packed.kept_regions = MT_GEMM_KEPT_REGIONS;
    for (r = 0; r < MT_GEMM_KEPT_REGIONS; r++)
        packed.kept_busy[r] = 0;
    pack_pairs(g->x, g->ldx, g->ns, g->kn, (float *)packed.xp);
    mt_gemm_dot(&packed);
}

void mt_gemm_acc_rows(const mt_gemm_rows_args *g)
{
    run_split(rows_task, g, g->rows, g->cols, g->kn, 0);
}

void mt_gemm_acc_arows(const mt_gemm_arows_args *g)
{
    run_split(arows_task, g, g->rows, g->cols, g->kn, 0);
}
