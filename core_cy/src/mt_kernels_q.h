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
void mt_qavgpool_fwd(int e, const mt_pool_shape *s, const void *x, void *y, int z);
void mt_qavgpool_deriv(const mt_pool_shape *s, const void *dy, void *dx);

#ifndef MT_NO_FLOAT_KERNELS
void mt_quantize(int e, const float *x, void *y, int numel, int z, float inv_scale);
void mt_dequantize(int e, const void *x, float *y, int numel, int z, float scale);
#endif

#endif
