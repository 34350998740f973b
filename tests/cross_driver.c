/* Runs the portable core's float kernels and whole training iterations and
 * writes every result byte to a file, so builds for different CPUs (x86-64
 * natively, AArch64 under qemu-aarch64) can be compared bit for bit.
 *
 *   cross_driver VARIANT kernels OUT        FC, conv, pooling results
 *   cross_driver VARIANT train BUNDLE N OUT  the arena after N iterations
 *
 * VARIANT is "auto" or a GEMM micro-kernel set (mt_gemm_select). Inputs come
 * from an integer generator, so every build sees the same floats. Prints the
 * set it ran with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mt_bundle.h"
#include "mt_exec.h"
#include "mt_gemm.h"
#include "mt_kernels.h"

#define BIG (1 << 20)
static float x[BIG], w[BIG], b[BIG], y[BIG], dy[BIG], dw[BIG], db[BIG], dx[BIG];
/* the Cortex-M minimum, and a Linux board's planned conv scratch (wide and
 * implicit GEMM paths) */
static float scratch[MT_CONV_SCRATCH_BYTES / 4], wide_scratch[(256 << 10) / 4];
static FILE *out;

static void fill(float *a, long n, unsigned *state)
{
    long i;
    for (i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        a[i] = (float)((int)(*state >> 8) - (1 << 23)) / (float)(1 << 23);
    }
}

static void emit(const float *a, long n)
{
    fwrite(a, sizeof(float), (size_t)n, out);
}

/* FC_FWD_PACKED's kernel with a host plan's scratch (every kept region)
 * must give y's bits; exits with a message where it does not. */
static void packed_fc_matches(int n, int in, int o)
{
    uint64_t bytes = mt_fc_packed_scratch_bytes(n, in, MT_GEMM_KEPT_REGIONS);
    if (bytes > sizeof wide_scratch)
        return;
    mt_fc_fwd_packed(x, w, b, dx, n, in, o, wide_scratch, (uint32_t)bytes);
    if (memcmp(dx, y, sizeof(float) * (size_t)n * (size_t)o)) {
        fprintf(stderr, "FC_FWD_PACKED differs from FC_FWD at n=%d in=%d out=%d\n", n, in, o);
        exit(1);
    }
}

static void fc_case(int n, int in, int o, unsigned seed)
{
    fill(x, (long)n * in, &seed);
    fill(w, (long)o * in, &seed);
    fill(b, o, &seed);
    fill(dy, (long)n * o, &seed);
    mt_fc_fwd(x, w, b, y, n, in, o);
    packed_fc_matches(n, in, o);
    mt_fc_grad(x, dy, dw, db, n, in, o);
    mt_fc_deriv(dy, w, dx, n, in, o);
    emit(y, (long)n * o);
    emit(dw, (long)o * in);
    emit(db, o);
    emit(dx, (long)n * in);
}

/* n, c, hw, oc, k, stride, pad, groups */
static void conv_case(int n, int c, int hw, int oc, int k, int st, int pad, int groups,
                      unsigned seed)
{
    mt_conv_shape s;
    int o = (hw + 2 * pad - k) / st + 1;
    long xs = (long)n * c * hw * hw, ws = (long)oc * (c / groups) * k * k, ys = (long)n * oc * o * o;
    s.n = n; s.c = c; s.h = hw; s.w = hw; s.oc = oc; s.kh = k; s.kw = k;
    s.sh = st; s.sw = st; s.ph = pad; s.pw = pad; s.oh = o; s.ow = o; s.groups = groups;
    fill(x, xs, &seed);
    fill(w, ws, &seed);
    fill(b, oc, &seed);
    fill(dy, ys, &seed);
    mt_conv_fwd(&s, x, w, b, y, scratch);
    mt_conv_grad(&s, x, dy, dw, db, scratch);
    mt_conv_deriv(&s, dy, w, dx, scratch);
    emit(y, ys);
    emit(dw, ws);
    emit(db, oc);
    emit(dx, xs);
    mt_conv_fwd_sized(&s, x, w, b, y, wide_scratch, sizeof wide_scratch);
    mt_conv_grad_sized(&s, x, dy, dw, db, wide_scratch, sizeof wide_scratch);
    mt_conv_deriv_sized(&s, dy, w, dx, wide_scratch, sizeof wide_scratch);
    emit(y, ys);
    emit(dw, ws);
    emit(db, oc);
    emit(dx, xs);
}

/* 2x2 stride-2 pooling of n x c planes of h x w */
static void pool_case(int n, int c, int h, int w, unsigned seed)
{
    mt_pool_shape s = {n, c, h, w, 2, 2, 2, 2, 0, 0, h / 2, w / 2};
    static int32_t idx[4 * 6 * 6 * 6];
    long xs = (long)n * c * h * w, ys = (long)n * c * (h / 2) * (w / 2);
    fill(x, xs, &seed);
    fill(dy, ys, &seed);
    mt_maxpool_fwd(&s, x, y, idx);
    emit(y, ys);
    mt_maxpool_deriv(&s, dy, idx, dx);
    emit(dx, xs);
    mt_avgpool_fwd(&s, x, y);
    emit(y, ys);
    mt_avgpool_deriv(&s, dy, dx);
    emit(dx, xs);
}

static int kernels(void)
{
    static const int fc[][3] = {{1, 784, 128}, {8, 100, 10}, {32, 28, 13}, {5, 37, 19},
                                {64, 512, 40}, {3, 7, 3}, {37, 200, 23}};
    static const int conv[][8] = {{2, 3, 9, 8, 3, 1, 1, 1}, {3, 8, 14, 16, 3, 1, 1, 1},
                                  {2, 8, 14, 16, 3, 2, 1, 1}, {2, 16, 14, 16, 3, 1, 1, 16},
                                  {2, 16, 7, 32, 1, 1, 0, 1}, {2, 1, 32, 6, 5, 1, 0, 1},
                                  {2, 6, 14, 16, 5, 1, 0, 1}, {1, 12, 11, 10, 3, 1, 2, 2}};
    unsigned i;
    for (i = 0; i < sizeof fc / sizeof fc[0]; i++)
        fc_case(fc[i][0], fc[i][1], fc[i][2], 11u + i);
    for (i = 0; i < sizeof conv / sizeof conv[0]; i++)
        conv_case(conv[i][0], conv[i][1], conv[i][2], conv[i][3], conv[i][4], conv[i][5],
                  conv[i][6], conv[i][7], 101u + i);
    pool_case(4, 6, 12, 12, 7u);
    pool_case(3, 1, 6, 5, 8u);    /* rows of 2 outputs, an odd row count */
    pool_case(2, 3, 9, 14, 9u);   /* rows of 7: the last block overlaps */
    return 0;
}

static int train(const char *path, int iterations)
{
    static uint32_t words[(16 << 20) / 4];
    static uint8_t arena[32 << 20];
    static int32_t order[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t len;
    mt_bundle bundle;
    mt_init_record rec;
    uint32_t cursor = 0, i;
    char err[120];
    float loss, correct;
    if (!f)
        return 2;
    len = fread(words, 1, sizeof words, f);
    fclose(f);
    if (mt_bundle_open((const uint8_t *)words, (uint32_t)len, &bundle, err, sizeof err) != MT_OK ||
        !bundle.has_data || bundle.program.arena_bytes > sizeof arena ||
        bundle.data.n_samples > sizeof order / sizeof order[0]) {
        fprintf(stderr, "bad bundle: %s\n", err);
        return 2;
    }
    while (mt_bundle_next_init(&bundle, &cursor, &rec))
        if (rec.where == MT_INIT_ARENA)
            memcpy(arena + rec.offset, rec.bytes, rec.nbytes);
    for (i = 0; i < bundle.data.n_samples; i++)
        order[i] = (int32_t)i;
    for (i = 0; i < (uint32_t)iterations; i++) {
        int status = mt_train_loop(&bundle.program, arena, &bundle.data, order,
                                   bundle.data.n_samples, i, 1, &loss, &correct, 0);
        if (status != MT_OK) {
            fprintf(stderr, "train: %s\n", mt_status_str(status));
            return 2;
        }
        fwrite(&loss, sizeof loss, 1, out);
    }
    fwrite(arena, 1, bundle.program.arena_bytes, out);
    return 0;
}

int main(int argc, char **argv)
{
    int status;
    if (argc < 4 || (strcmp(argv[1], "auto") != 0 && !mt_gemm_select(argv[1]))) {
        fprintf(stderr, "usage: cross_driver VARIANT kernels OUT | VARIANT train BUNDLE N OUT\n");
        return 2;
    }
    out = fopen(argv[argc - 1], "wb");
    if (!out)
        return 2;
    if (strcmp(argv[2], "kernels") == 0)
        status = kernels();
    else if (strcmp(argv[2], "train") == 0 && argc == 6)
        status = train(argv[3], atoi(argv[4]));
    else
        status = 2;
    fclose(out);
    printf("%s\n", mt_gemm_variant_name());
    return status;
}
