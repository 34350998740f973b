/* The order-1 (accumulating) micro-kernels of mt_gemm_simd.h, written once
 * for every way of finding A and B: included with ACC_ARGS (the args type),
 * ACC_FN(x) (a unique prefix), B_ROW(g, k) (pointer to B(k, 0)), A_SETUP(g, r)
 * (declarations for a block of rows from r) and A_AT(g, q, k) (A(r + q, k)). */
/* C block of R rows x NV vectors of type T (TU unaligned, W floats) at
 * (r, j), k ascending (order 1). */
#define ACC_BLOCK(NAME, R, NV, T, TU, W)                                         \
static inline void NAME(const ACC_ARGS *g, long r, long j)              \
{                                                                                \
    T acc[R][NV];                                                                \
    float *c = g->c + r * g->ldc + j;                                            \
    A_SETUP(g, r);                                                               \
    int q, v, k;                                                                 \
    UNROLL                                                                       \
    for (q = 0; q < R; q++)                                                      \
        UNROLL                                                                   \
        for (v = 0; v < NV; v++)                                                 \
            acc[q][v] = g->from_c ? (T)*(const TU *)(c + q * g->ldc + W * v) : (T){0}; \
    for (k = 0; k < g->kn; k++) {                                                \
        const float *bk = B_ROW(g, k) + j;                                       \
        T bv[NV];                                                                \
        UNROLL                                                                   \
        for (v = 0; v < NV; v++)                                                 \
            bv[v] = (T)*(const TU *)(bk + W * v);                                \
        UNROLL                                                                   \
        for (q = 0; q < R; q++) {                                                \
            float s = A_AT(g, q, k);                                             \
            UNROLL                                                               \
            for (v = 0; v < NV; v++)                                             \
                acc[q][v] = acc[q][v] + s * bv[v];                               \
        }                                                                        \
    }                                                                            \
    UNROLL                                                                       \
    for (q = 0; q < R; q++)                                                      \
        UNROLL                                                                   \
        for (v = 0; v < NV; v++)                                                 \
            *(TU *)(c + q * g->ldc + W * v) = acc[q][v];                         \
}

ACC_BLOCK(ACC_FN(acc_wide), ACC_MR, ACC_NV, v8, v8u, VL)
ACC_BLOCK(ACC_FN(acc_one), ACC_MR, 1, v8, v8u, VL)
ACC_BLOCK(ACC_FN(acc_row_long), 1, 4 * ACC_NV, v8, v8u, VL)
ACC_BLOCK(ACC_FN(acc_row), 1, 1, v8, v8u, VL)
#if VL == 16   /* 8 columns left over: half vectors rather than scalars */
ACC_BLOCK(ACC_FN(acc_half), ACC_MR, 1, h8, h8u, 8)
ACC_BLOCK(ACC_FN(acc_row_half), 1, 1, h8, h8u, 8)
#endif
/* The R rows left under ACC_MR (2 <= R < ACC_MR) in one block with about as
 * many accumulators as a full block, so B is read once for them all. */
#define REST_NV(R) (ACC_MR * ACC_NV / (R))
#define REST_BLOCKS(R)                                                         \
ACC_BLOCK(ACC_FN(acc_rest##R), R, REST_NV(R), v8, v8u, VL)                     \
ACC_BLOCK(ACC_FN(acc_rest##R##_mid), R, ACC_NV, v8, v8u, VL)                   \
ACC_BLOCK(ACC_FN(acc_rest##R##_one), R, 1, v8, v8u, VL)
#if ACC_MR > 2
REST_BLOCKS(2)
#endif
#if ACC_MR > 3
REST_BLOCKS(3)
#endif
#if ACC_MR > 4
REST_BLOCKS(4)
#endif
#if ACC_MR > 5
REST_BLOCKS(5)
#endif
#if ACC_MR > 6
REST_BLOCKS(6)
#endif
#if ACC_MR > 7
REST_BLOCKS(7)
#endif
#if ACC_MR > 8
#error "acc_rest covers ACC_MR <= 8"
#endif
#undef REST_BLOCKS
#undef ACC_BLOCK

/* One column j of rows [r0, r1), scalar (the last cols % VL). */
static void ACC_FN(acc_column)(const ACC_ARGS *g, long r0, long r1, long j)
{
    long r;
    int k;
    for (r = r0; r < r1; r++) {
        A_SETUP(g, r);
        float *c = g->c + r * g->ldc + j, acc = g->from_c ? *c : 0.0f;
        for (k = 0; k < g->kn; k++)
            acc = acc + A_AT(g, 0, k) * B_ROW(g, k)[j];
        *c = acc;
    }
}

/* Columns [j, j1) of row r alone: long strips keep enough independent
 * sums in flight to hide the add latency (a single row is the batch-1 case). */
static void ACC_FN(acc_row_tail)(const ACC_ARGS *g, long r, long j, long j1)
{
    const long longer = 4 * VL * ACC_NV;
    for (; j + longer <= j1; j += longer)
        ACC_FN(acc_row_long)(g, r, j);
    for (; j + VL <= j1; j += VL)
        ACC_FN(acc_row)(g, r, j);
#if VL == 16
    for (; j + 8 <= j1; j += 8)
        ACC_FN(acc_row_half)(g, r, j);
#endif
    for (; j < j1; j++)
        ACC_FN(acc_column)(g, r, r + 1, j);
}

/* Columns from j0 of the `rows` rows left from r in whole vectors, in strips
 * of decreasing width (a narrow strip has too few sums in flight); returns
 * where they stopped (the rest goes row by row). */
#define REST_CASE(R)                                                           \
    case R:                                                                    \
        for (; j + VL * REST_NV(R) <= j1; j += VL * REST_NV(R))                \
            ACC_FN(acc_rest##R)(g, r, j);                                      \
        for (; j + VL * ACC_NV <= j1; j += VL * ACC_NV)                        \
            ACC_FN(acc_rest##R##_mid)(g, r, j);                                \
        for (; j + VL <= j1; j += VL)                                          \
            ACC_FN(acc_rest##R##_one)(g, r, j);                                \
        break;
static long ACC_FN(acc_rest)(const ACC_ARGS *g, long r, long rows, long j0, long j1)
{
    long j = j0;
    switch (rows) {
#if ACC_MR > 2
    REST_CASE(2)
#endif
#if ACC_MR > 3
    REST_CASE(3)
#endif
#if ACC_MR > 4
    REST_CASE(4)
#endif
#if ACC_MR > 5
    REST_CASE(5)
#endif
#if ACC_MR > 6
    REST_CASE(6)
#endif
#if ACC_MR > 7
    REST_CASE(7)
#endif
    default:
        break;
    }
    return j;
}
#undef REST_CASE
#undef REST_NV

/* Rows in blocks of ACC_MR. With a large B, column strips outermost: a strip
 * of B (kn x strip) stays in L1 while every row block passes over it; a
 * small B stays in L2 anyway, so C is written row after row. Rows left over
 * go together (acc_rest), then their last columns row by row (acc_row_tail). */
static void ACC_FN(acc)(const ACC_ARGS *g, int r0, int r1, int j0, int j1)
{
    const long wide = VL * ACC_NV;
    long rows_full = r0 + (long)(r1 - r0) / ACC_MR * ACC_MR, j, r;
    if ((long)g->kn * (j1 - j0) <= SMALL_B_FLOATS) {   /* B stays in L2: C row-major */
        for (r = r0; r < rows_full; r += ACC_MR)
            for (j = j0; j + wide <= j1; j += wide)
                ACC_FN(acc_wide)(g, r, j);
        j = j0 + (j1 - j0) / wide * wide;
    } else {
        for (j = j0; j + wide <= j1; j += wide)
            for (r = r0; r < rows_full; r += ACC_MR)
                ACC_FN(acc_wide)(g, r, j);
    }
    for (; j + VL <= j1; j += VL)
        for (r = r0; r < rows_full; r += ACC_MR)
            ACC_FN(acc_one)(g, r, j);
#if VL == 16
    for (; j + 8 <= j1; j += 8)
        for (r = r0; r < rows_full; r += ACC_MR)
            ACC_FN(acc_half)(g, r, j);
#endif
    for (; j < j1; j++)
        ACC_FN(acc_column)(g, r0, rows_full, j);
    j = r1 - rows_full > 1 ? ACC_FN(acc_rest)(g, rows_full, r1 - rows_full, j0, j1) : j0;
    for (r = rows_full; r < r1; r++)
        ACC_FN(acc_row_tail)(g, r, j, j1);
}

#undef ACC_ARGS
#undef ACC_FN
#undef B_ROW
#undef A_SETUP
#undef A_AT
