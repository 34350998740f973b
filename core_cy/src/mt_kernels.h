/* microtrain kernels: portable C99, float32, no allocation, no globals.
 * Every pointer points into the caller's arena. Layouts follow PyTorch:
 * activations NCHW, Linear weight (out, in), Conv weight (oc, c/groups, kh, kw).
 * Results must not depend on the compiler: build with -ffp-contract=off and
 * never rely on reassociation (no -ffast-math). */
#ifndef MT_KERNELS_H
#define MT_KERNELS_H

#include <stdint.h>

/* ---- fully connected: y(n,out) = x(n,in) w(out,in)^T + b(out) ---- */
void mt_fc_fwd(const float *x, const float *w, const float *b /* may be NULL */,
               float *y, int n, int in, int out);
/* mt_fc_fwd, the same bits, with scratch_bytes of arena scratch for the
 * GEMM's packed operands (at least mt_fc_packed_scratch_bytes(n, in, 0); each
 * of up to MT_GEMM_KEPT_REGIONS more regions lets one more thread task keep
 * its weights packed). Sets that would not read them ignore the scratch. */
uint64_t mt_fc_packed_scratch_bytes(int n, int in, int regions);
void mt_fc_fwd_packed(const float *x, const float *w, const float *b /* may be NULL */,
                      float *y, int n, int in, int out, void *scratch, uint32_t scratch_bytes);
/* dw = dy^T x, db = sum_n dy (overwrite, not accumulate) */
void mt_fc_grad(const float *x, const float *dy, float *dw, float *db /* may be NULL */,
                int n, int in, int out);
/* dx = dy w */
void mt_fc_deriv(const float *dy, const float *w, float *dx, int n, int in, int out);

/* ---- 2-D convolution ---- */
typedef struct {
    int n, c, h, w;      /* input */
    int oc, kh, kw;      /* filters */
    int sh, sw;          /* stride */
    int ph, pw;          /* top / left zero padding */
    int oh, ow;          /* output size (implies bottom / right padding) */
    int groups;          /* c and oc divisible by groups; groups == c is depthwise */
} mt_conv_shape;

/* Scratch every conv kernel takes (from the arena, 4-byte aligned): at least
 * MT_CONV_SCRATCH_BYTES, a column tile of MT_CONV_TILE_FLOATS floats plus one
 * chunk's weights and tap offsets (the Cortex-M default). The _sized entry
 * points use a larger scratch, planned by the host, for wider tiles and
 * larger GEMMs; the scratch size never changes a result bit. */
#define MT_CONV_TILE_FLOATS 256
#define MT_CONV_SCRATCH_BYTES ((MT_CONV_TILE_FLOATS + 16 * 4 + 16) * 4)

void mt_conv_fwd(const mt_conv_shape *s, const float *x, const float *w,
                 const float *b /* may be NULL */, float *y, void *scratch);
void mt_conv_grad(const mt_conv_shape *s, const float *x, const float *dy,
                  float *dw, float *db /* may be NULL */, void *scratch);
void mt_conv_deriv(const mt_conv_shape *s, const float *dy, const float *w, float *dx,
                   void *scratch);
void mt_conv_fwd_sized(const mt_conv_shape *s, const float *x, const float *w,
                       const float *b, float *y, void *scratch, uint32_t scratch_bytes);
void mt_conv_grad_sized(const mt_conv_shape *s, const float *x, const float *dy,
                        float *dw, float *db, void *scratch, uint32_t scratch_bytes);
void mt_conv_deriv_sized(const mt_conv_shape *s, const float *dy, const float *w, float *dx,
                         void *scratch, uint32_t scratch_bytes);
/* Resumable halves of the above (tiles by output channels, mt_kernels_tile.h):
 * dx += / dw += their terms in the untiled order, continuing each element's
 * sum; db = the bias gradient alone. The grad one is for dense or grouped
 * convolutions (not the depthwise path: one input channel, < 4 filters). */
void mt_conv_deriv_continue_sized(const mt_conv_shape *s, const float *dy, const float *w,
                                  float *dx, void *scratch, uint32_t scratch_bytes);
void mt_conv_grad_continue_sized(const mt_conv_shape *s, const float *x, const float *dy,
                                 float *dw, void *scratch, uint32_t scratch_bytes);
void mt_conv_bias_grad(const mt_conv_shape *s, const float *dy, float *db);

/* ---- pooling ---- */
typedef struct {
    int n, c, h, w;
    int kh, kw, sh, sw, ph, pw, oh, ow;
} mt_pool_shape;

/* idx[i] = argmax position (h*W + w) inside the input plane; first max wins,
 * padding never wins (PyTorch semantics). */
void mt_maxpool_fwd(const mt_pool_shape *s, const float *x, float *y, int32_t *idx);
void mt_maxpool_deriv(const mt_pool_shape *s, const float *dy, const int32_t *idx, float *dx);
/* divisor kh*kw, padding counted (PyTorch count_include_pad=True) */
void mt_avgpool_fwd(const mt_pool_shape *s, const float *x, float *y);
void mt_avgpool_deriv(const mt_pool_shape *s, const float *dy, float *dx);

/* ---- activations (act = enum mt_act); softmax over each row of `cols`.
 * y may equal x; dx may equal dy. The derivative uses only the output y. ---- */
void mt_act_fwd(int act, const float *x, float *y, int rows, int cols);
void mt_act_deriv(int act, const float *y, const float *dy, float *dx, int rows, int cols);

/* ---- batch normalization over (n, hw) for each of c channels ---- */
void mt_bn_fwd_train(const float *x, const float *gamma, const float *beta,
                     float *running_mean, float *running_var,
                     float *y, float *save_mean, float *save_invstd,
                     int n, int c, int hw, float momentum, float eps);
void mt_bn_fwd_eval(const float *x, const float *gamma, const float *beta,
                    const float *running_mean, const float *running_var,
                    float *y, int n, int c, int hw, float eps);
void mt_bn_grad(const float *x, const float *dy, const float *save_mean,
                const float *save_invstd, float *dgamma, float *dbeta,
                int n, int c, int hw);
void mt_bn_deriv(const float *x, const float *dy, const float *gamma,
                 const float *save_mean, const float *save_invstd, float *dx,
                 int n, int c, int hw);

/* ---- elementwise ---- */
/* y = xs[0] + xs[1] + ... (k >= 1, summed left to right); y may equal xs[0] */
void mt_add(float *y, const float *const *xs, int k, int numel);
void mt_copy(const float *x, float *y, int numel);  /* memmove semantics */

/* ---- activations reading X in backward (mt_kernels_actx.c) ---- */
void mt_actx_fwd(int act, const float *x, float *y, int numel);
void mt_actx_deriv(int act, const float *x, const float *dy, float *dx, int numel);

/* ---- data movement (mt_kernels_shape.c) ---- */
void mt_concat(float *y, const float *const *xs, const int32_t *n, int k, int outer);
void mt_concat_deriv(const float *dy, float *const *dxs, const int32_t *n, int k, int outer);
void mt_permute(const float *x, float *y, int batch, const int32_t *d, const int32_t *s);
void mt_upsample_fwd(const float *x, float *y, int planes, int h, int w, int kh, int kw);
void mt_upsample_deriv(const float *dy, float *dx, int planes, int h, int w, int kh, int kw);
void mt_slice(const float *x, float *y, int outer, int total, int offset, int n);
void mt_slice_deriv(const float *dy, float *dx, int outer, int total, int offset, int n);

/* ---- layer normalization over rows of COLS (mt_kernels_ln.c) ---- */
void mt_ln_fwd(const float *x, const float *gamma, const float *beta, float *y,
               float *mean, float *invstd, int rows, int cols, float eps);
void mt_ln_grad(const float *x, const float *dy, const float *mean, const float *invstd,
                float *dgamma, float *dbeta, int rows, int cols);
void mt_ln_deriv(const float *x, const float *dy, const float *gamma, const float *mean,
                 const float *invstd, float *dx, int rows, int cols);

/* ---- binary elementwise (mt_kernels_binary.c) ---- */
void mt_sub(float *y, const float *a, const float *b, int numel);
void mt_mul(float *y, const float *a, const float *b, int numel);
void mt_neg(const float *x, float *y, int numel);

/* ---- regularization (mt_kernels_reg.c) ---- */
void mt_decay_grad(const float *w, float *dw, int numel, float c);
float mt_l2norm_loss(const float *w, int numel, float c);
double mt_sum_squares(const float *w, int numel, double sum);
float mt_l2norm_of(double sum_squares, float c);

/* ---- dropout: mask[i] = 0 or 1/(1-rate) from xorshift32 *rng; y = x*mask ---- */
void mt_dropout_fwd(const float *x, float *y, float *mask, uint32_t *rng,
                    int numel, float rate);
void mt_dropout_deriv(const float *dy, const float *mask, float *dx, int numel);

/* ---- losses. t is int32 class indices (label == MT_LABEL_INDEX, n values)
 * or float targets (MT_LABEL_DENSE, n*f values). Forward returns the batch's
 * mean loss and writes the number of rows whose argmax matches the label
 * (or the dense target's argmax; for f == 1 a 0.5 threshold) to *correct. ---- */
float mt_loss_mse_fwd(const float *y, const void *t, int label, int n, int f, float *correct);
void mt_loss_mse_deriv(const float *y, const void *t, int label, int n, int f, float *dy);
float mt_loss_ce_softmax_fwd(const float *z, const void *t, int label, int n, int f,
                             float *p, float *correct);
void mt_loss_ce_softmax_deriv(const float *p, const void *t, int label, int n, int f, float *dz);
float mt_loss_ce_sigmoid_fwd(const float *z, const void *t, int label, int n, int f,
                             float *p, float *correct);
void mt_loss_ce_sigmoid_deriv(const float *p, const void *t, int label, int n, int f, float *dz);

/* ---- optimizers (PyTorch semantics) ---- */
/* momentum == 0: w -= lr*dw. Else mom = momentum*mom + dw; w -= lr*mom
 * (mom starts at zero, which equals PyTorch's first-step copy). */
void mt_sgd_apply(float *w, const float *dw, float *mom /* NULL if momentum==0 */,
                  int numel, float lr, float momentum);
/* ++*step; m = b1 m + (1-b1) dw; v = b2 v + (1-b2) dw^2;
 * w -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 * with the bias corrections 1 - b^step in float (mt_one_minus_powf). */
void mt_adam_apply(float *w, const float *dw, float *m, float *v, uint32_t *step,
                   int numel, float lr, float beta1, float beta2, float eps);

#endif
