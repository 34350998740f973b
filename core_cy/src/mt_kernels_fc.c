/* Fully connected kernels. Every reduction has an order fixed by this code:
 * dot products use 8 interleaved lanes combined by a fixed tree, and the
 * gradients are axpy sweeps (out[j] += a * in[j]) over ascending n / o, so
 * the compiler may vectorize them without changing a single bit. */
#include <string.h>
#include "mt_kernels.h"
#include "mt_program.h"

#define LANES 8

/* Runs the statement for j in [0, n) in blocks of 8, then 4: GCC -O2 (very-cheap
 * cost model) vectorizes only inner loops with a known trip count. */
#define FOR8(j, n, ...) do { int j##_b_ = 0, j##_k_, j; \
    for (; j##_b_ + 8 <= (n); j##_b_ += 8) \
        for (j##_k_ = 0; j##_k_ < 8; j##_k_++) { j = j##_b_ + j##_k_; __VA_ARGS__; } \
    if (j##_b_ + 4 <= (n)) { \
        for (j##_k_ = 0; j##_k_ < 4; j##_k_++) { j = j##_b_ + j##_k_; __VA_ARGS__; } \
        j##_b_ += 4; } \
    for (j = j##_b_; j < (n); j++) { __VA_ARGS__; } } while (0)

/* Lane k sums a[i]*b[i] for i == k (mod 8) over full blocks; the tail is
 * summed separately; lanes are folded by a fixed tree. */
static float dot_lanes(const float *restrict a, const float *restrict b, int n)
{
    float s[LANES] = {0};
    float t = 0.0f;
    int i = 0, k;
    for (; i + LANES <= n; i += LANES)
        for (k = 0; k < LANES; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        t += a[i] * b[i];
    return (((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))) + t;
}

/* Same formula as dot_lanes for four b vectors at once: a is loaded once. */
static void dot_lanes4(const float *restrict a, const float *restrict b0,
                       const float *restrict b1, const float *restrict b2,
                       const float *restrict b3, int n, float out[4])
{
    float s0[LANES] = {0}, s1[LANES] = {0}, s2[LANES] = {0}, s3[LANES] = {0};
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
    int i = 0, k;
    for (; i + LANES <= n; i += LANES)
        for (k = 0; k < LANES; k++) {
            float av = a[i + k];
            s0[k] += av * b0[i + k];
            s1[k] += av * b1[i + k];
            s2[k] += av * b2[i + k];
            s3[k] += av * b3[i + k];
        }
    for (; i < n; i++) {
        t0 += a[i] * b0[i];
        t1 += a[i] * b1[i];
        t2 += a[i] * b2[i];
        t3 += a[i] * b3[i];
    }
#define FOLD(s, t) ((((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))) + t)
    out[0] = FOLD(s0, t0);
    out[1] = FOLD(s1, t1);
    out[2] = FOLD(s2, t2);
    out[3] = FOLD(s3, t3);
#undef FOLD
}

/* y[j] = (((y[j] + a0 x0[j]) + a1 x1[j]) + a2 x2[j]) + a3 x3[j]:
 * identical to four separate axpys in that order, with y touched once. */
static void axpy4_into1(float *restrict y, const float *restrict x0,
                        const float *restrict x1, const float *restrict x2,
                        const float *restrict x3, const float *a, int n)
{
    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    FOR8(j, n, y[j] = (((y[j] + a0 * x0[j]) + a1 * x1[j]) + a2 * x2[j]) + a3 * x3[j]);
}

static void axpy(float *restrict y, const float *restrict x, float a, int n)
{
    FOR8(j, n, y[j] += a * x[j]);
}

/* y_k[j] += a_k x[j] for four rows: x is loaded once. */
static void axpy_1into4(float *restrict y0, float *restrict y1, float *restrict y2,
                        float *restrict y3, const float *restrict x, const float *a, int n)
{
    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    FOR8(j, n, y0[j] += a0 * x[j]; y1[j] += a1 * x[j]; y2[j] += a2 * x[j]; y3[j] += a3 * x[j]);
}

void mt_fc_fwd(const float *x, const float *w, const float *b,
               float *y, int n, int in, int out)
{
    int s, o;
    for (s = 0; s < n; s++) {
        const float *xr = x + (long)s * in;
        float *yr = y + (long)s * out;
        /* four outputs share each load of x; the per-output formula is the
         * same as dot_lanes, so blocking never changes a result */
        for (o = 0; o + 4 <= out; o += 4) {
            const float *wr = w + (long)o * in;
            dot_lanes4(xr, wr, wr + in, wr + 2 * in, wr + 3 * in, in, yr + o);
        }
        for (; o < out; o++)
            yr[o] = dot_lanes(xr, w + (long)o * in, in);
        if (b)
            for (o = 0; o < out; o++)
                yr[o] += b[o];
    }
}

void mt_fc_grad(const float *x, const float *dy, float *dw, float *db,
                int n, int in, int out)
{
    int s, o;
    memset(dw, 0, sizeof(float) * (size_t)in * (size_t)out);
    /* dw[o,:] = sum_s dy[s,o] x[s,:], s ascending; four rows per x load */
    for (o = 0; o + 4 <= out; o += 4) {
        float *d0 = dw + (long)o * in;
        for (s = 0; s < n; s++)
            axpy_1into4(d0, d0 + in, d0 + 2 * in, d0 + 3 * in, x + (long)s * in,
                        dy + (long)s * out + o, in);
    }
    for (; o < out; o++)
        for (s = 0; s < n; s++)
            axpy(dw + (long)o * in, x + (long)s * in, dy[(long)s * out + o], in);
    if (db) {
        memset(db, 0, sizeof(float) * (size_t)out);
        for (s = 0; s < n; s++)
            axpy(db, dy + (long)s * out, 1.0f, out);
    }
}

void mt_fc_deriv(const float *dy, const float *w, float *dx, int n, int in, int out)
{
    int s, o;
    for (s = 0; s < n; s++) {
        float *xr = dx + (long)s * in;
        const float *g = dy + (long)s * out;
        memset(xr, 0, sizeof(float) * (size_t)in);
        /* dx[s,:] = sum_o dy[s,o] w[o,:], o ascending, four rows per pass */
        for (o = 0; o + 4 <= out; o += 4) {
            const float *wr = w + (long)o * in;
            axpy4_into1(xr, wr, wr + in, wr + 2 * in, wr + 3 * in, g + o, in);
        }
        for (; o < out; o++)
            axpy(xr, w + (long)o * in, g[o], in);
    }
}
