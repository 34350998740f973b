/* Integer kernels (docs/int8.md). `e` is the element bytes of activations /
 * weights: 1 int8, 2 int16 (precision "fixed"); gradient pointers point at g16
 * tensors (int32 exponent, then int16 values). None of them uses float but
 * mt_quantize / mt_dequantize. */
#ifndef MT_KERNELS_Q_H
#define MT_KERNELS_Q_H

#include <stdint.h>
#include "mt_kernels.h"  /* mt_conv_shape, mt_pool_shape */

void mt_qfc_fwd(int e, const void *x, const void *w, const int32_t *b, void *y,
                const int32_t *rq, int n, int in, int out, int zx, int zy);
void mt_qfc_grad(int e, const void *x, const void *dy, void *dw, void *db,
                 int n, int in, int out, int zx);
void mt_qfc_deriv(int e, const void *dy, const void *w, const int32_t *ws, void *dx,
                  int n, int in, int out, int ws_exp);

void mt_qrelu_fwd(int e, const void *x, void *y, int numel, int z);
void mt_qrelu_deriv(int e, const void *y, const void *dy, void *dx, int numel, int z);
void mt_qnarrow(int e, const int32_t *x, void *y, int numel);

/* Writes P (int32 Q30) and metrics[0..1] (float32 bits: mean loss, correct). */
void mt_qce_softmax_fwd(int e, const void *z, const int32_t *labels, int32_t *p,
                        uint32_t *metrics, int n, int f, int32_t mz, int32_t shz);
void mt_qce_softmax_deriv(const int32_t *p, const int32_t *labels, void *dz, int n, int f);

/* Fixed-point helpers of the loss (exposed for tests). */
int64_t mt_exp2_q30(int64_t u);
int64_t mt_log2_q16(int64_t p);
uint32_t mt_q_to_f32_bits(int64_t v, int frac_bits);

/* residual addition: p = [NUMEL, E, za, zb, zy, Ma, sha, Mb, shb]; g16 sum */
void mt_qadd_fwd(const void *a, const void *b, void *y, const int32_t *p);
void mt_qg16_add(const void *a, const void *b, void *y, int numel);

/* e: 1 / 2 / 4 (int8, int16 weights, int32 biases); mom (m16: int32 exponent,
 * int16 values) NULL without momentum. */
void mt_qsgd_apply(int e, void *w, const void *dw, const int32_t *lr, uint32_t *rng,
                   void *mom, int numel, int ch, int32_t mu);

/* p = [NUMEL, E, CH, B1, B2, EPS_M, EPS_SH]; m, v: a16 (int32 base, int16 words);
 * step: [t, beta1^t, beta2^t]. */
void mt_qadam_apply(int e, void *w, const void *dw, const int32_t *lr, void *m, void *v,
                    int32_t *step, uint32_t *rng, int numel, int ch, const int32_t *p);

/* Pieces of the two optimizers for the fused gradient + update (mt_kernels_qfused.c):
 * the same arithmetic on `count` consecutive elements of channel c (weights,
 * e = 1 or 2) whose int16 gradient values g with exponent e_g the caller made.
 * SGD: vmax is pass 1 (the largest |v|), step pass 2 (mom NULL without momentum). */
int64_t mt_qsgd_mom_exp(const void *mom);
uint64_t mt_qsgd_chunk_vmax(const int16_t *g, int64_t e_g, const int32_t *lr, int ch, int c,
                            const int16_t *mom, int64_t em, int32_t mu, int count);
void mt_qsgd_chunk_step(int e, void *w, const int16_t *g, int64_t e_g, const int32_t *lr, int ch,
                        int c, int16_t *mom, int64_t em, int64_t em_new, uint32_t *rng,
                        int32_t mu, int count);

/* Adam: begin (advances STEP, reads the old bases), chunk_tops over every
 * element (pass 1), bases, chunk_step over every element (pass 2), end (stores
 * the new bases). m, v point at the chunk's words; p is QADAM_APPLY's p[]. */
typedef struct {
    int64_t bm, bv, bm_new, bv_new, top_m, top_v, c1, c2, sq2;
} mt_qadam_pass;
void mt_qadam_begin(mt_qadam_pass *s, void *m, void *v, int32_t *step, const int32_t *p);
void mt_qadam_chunk_tops(mt_qadam_pass *s, const int16_t *g, int64_t e_g, int16_t *m, int16_t *v,
                         const int32_t *p, int count);
void mt_qadam_bases(mt_qadam_pass *s);
void mt_qadam_chunk_step(const mt_qadam_pass *s, int e, void *w, const int16_t *g, int64_t e_g,
                         int16_t *m, int16_t *v, uint32_t *rng, const int32_t *p, int32_t lr_m,
                         int32_t lr_sh, int count);
void mt_qadam_end(const mt_qadam_pass *s, void *m, void *v);

/* QFC_GRAD's pieces: the exact sums a[o, i0..i0+len) (len <= 64), and dB. */
void mt_qfc_grad_sums(int e, const void *x, const int16_t *dy, int64_t *acc, int n, int in,
                      int out, int zx, int o, int i0, int len);
void mt_qfc_bias_grad(const int16_t *dy, int32_t e_dy, void *db, int n, int out);
/* int8 with n <= 256: the same sums, exact in int32 */
void mt_qfc_grad_sums8_short(const int8_t *x, const int16_t *dy, int32_t *part, int n, int in,
                             int out, int zx, int o, int i0, int len);

/* Fused QFC weight gradient + update (kinds 121, 122): p = [N, IN, OUT, E, zx, ...]. */
void mt_qfc_grad_qsgd(const int32_t *p, void *const *slot);
void mt_qfc_grad_qadam(const int32_t *p, void *const *slot);

/* conv: p[15] of the forward / gradient op packs the zero points (int8 range):
 * (zx + 128) | (zy + 128) << 8 */
void mt_qconv_zero_points(int32_t packed, int *zx, int *zy);
void mt_qconv_fwd(int e, const mt_conv_shape *s, const void *x, const void *w,
                  const int32_t *b, void *y, const int32_t *rq, int zx, int zy);
void mt_qconv_grad(int e, const mt_conv_shape *s, const void *x, const void *dy, void *dw,
                   void *db, int zx);
void mt_qconv_deriv(int e, const mt_conv_shape *s, const void *dy, const void *w,
                    const int32_t *ws, void *dx, int ws_exp);

void mt_qmaxpool_fwd(int e, const mt_pool_shape *s, const void *x, void *y, int32_t *idx);
void mt_qmaxpool_deriv(const mt_pool_shape *s, const void *dy, const int32_t *idx, void *dx);
/* the same derivative with no IDX: each window's first maximum found again in X */
void mt_qmaxpool_deriv_x(int e, const mt_pool_shape *s, const void *dy, const void *x, void *dx);
void mt_qavgpool_fwd(int e, const mt_pool_shape *s, const void *x, void *y, int z);
void mt_qavgpool_deriv(const mt_pool_shape *s, const void *dy, void *dx);

#ifndef MT_NO_FLOAT_KERNELS
void mt_quantize(int e, const float *x, void *y, int numel, int z, float inv_scale);
void mt_dequantize(int e, const void *x, float *y, int numel, int z, float scale);
#endif

#endif
