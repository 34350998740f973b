/* Kernel adapters of the integer ops (docs/int8.md). They trust an op that
 * passed mt_op_validate(). */
#include "mt_op_run.h"
#include "mt_kernels_q.h"
#include "mt_requant.h"

#define IGNORE_MODE (void)mode

MT_RUN_FN(mt_run_qfc_fwd)
{
    const int32_t *p = op->p;
    IGNORE_MODE;
    mt_qfc_fwd(p[3], slot[0], slot[1], slot[2], slot[3], slot[4], p[0], p[1], p[2], p[4], p[5]);
}

MT_RUN_FN(mt_run_qfc_grad)
{
    const int32_t *p = op->p;
    IGNORE_MODE;
    mt_qfc_grad(p[3], slot[0], slot[1], slot[2], slot[3], p[0], p[1], p[2], p[4]);
}

MT_RUN_FN(mt_run_qfc_deriv)
{
    const int32_t *p = op->p;
    IGNORE_MODE;
    mt_qfc_deriv(p[3], slot[0], slot[1], slot[2], slot[3], p[0], p[1], p[2], p[4]);
}

MT_RUN_FN(mt_run_qrelu_fwd)
{
    IGNORE_MODE;
    mt_qrelu_fwd(op->p[1], slot[0], slot[1], op->p[0], op->p[2]);
}

MT_RUN_FN(mt_run_qrelu_deriv)
{
    IGNORE_MODE;
    mt_qrelu_deriv(op->p[1], slot[0], slot[1], slot[2], op->p[0], op->p[2]);
}

MT_RUN_FN(mt_run_qce_softmax_fwd)
{
    const int32_t *p = op->p;
    IGNORE_MODE;
    mt_qce_softmax_fwd(p[2], slot[0], slot[1], slot[2], slot[3], p[0], p[1], p[3], p[4]);
}

MT_RUN_FN(mt_run_qce_softmax_deriv)
{
    IGNORE_MODE;
    mt_qce_softmax_deriv(slot[0], slot[1], slot[2], op->p[0], op->p[1]);
}

MT_RUN_FN(mt_run_qsgd_apply)
{
    const int32_t *p = op->p;
    IGNORE_MODE;
    mt_qsgd_apply(p[1], slot[0], slot[1], slot[2], slot[3], p[3] ? slot[4] : 0, p[0], p[2], p[3]);
}

MT_RUN_FN(mt_run_qnarrow)
{
    IGNORE_MODE;
    mt_qnarrow(op->p[1], slot[0], slot[1], op->p[0]);
}

#ifndef MT_NO_FLOAT_KERNELS
MT_RUN_FN(mt_run_quantize)
{
    IGNORE_MODE;
    mt_quantize(op->p[1], slot[0], slot[1], op->p[0], op->p[2], op->f[0]);
}

MT_RUN_FN(mt_run_dequantize)
{
    IGNORE_MODE;
    mt_dequantize(op->p[1], slot[0], slot[1], op->p[0], op->p[2], op->f[0]);
}
#endif

static mt_conv_shape conv_shape(const int32_t *p)
{
    mt_conv_shape s = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                       p[9], p[10], p[11], p[12], p[13]};
    return s;
}

static mt_pool_shape pool_shape(const int32_t *p)
{
    mt_pool_shape s = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
                       p[9], p[10], p[11]};
    return s;
}

MT_RUN_FN(mt_run_qconv_fwd)
{
    mt_conv_shape s = conv_shape(op->p);
    int zx, zy;
    IGNORE_MODE;
    mt_qconv_zero_points(op->p[15], &zx, &zy);
    mt_qconv_fwd(op->p[14], &s, slot[0], slot[1], slot[2], slot[3], slot[4], zx, zy);
}

MT_RUN_FN(mt_run_qconv_grad)
{
    mt_conv_shape s = conv_shape(op->p);
    int zx, zy;
    IGNORE_MODE;
    mt_qconv_zero_points(op->p[15], &zx, &zy);
    mt_qconv_grad(op->p[14], &s, slot[0], slot[1], slot[2], slot[3], zx);
}

MT_RUN_FN(mt_run_qconv_deriv)
{
    mt_conv_shape s = conv_shape(op->p);
    IGNORE_MODE;
    mt_qconv_deriv(op->p[14], &s, slot[0], slot[1], slot[2], slot[3], op->p[15]);
}

MT_RUN_FN(mt_run_qmaxpool_fwd)
{
    mt_pool_shape s = pool_shape(op->p);
    IGNORE_MODE;
    mt_qmaxpool_fwd(op->p[12], &s, slot[0], slot[1], slot[2]);
}

MT_RUN_FN(mt_run_qmaxpool_deriv)
{
    mt_pool_shape s = pool_shape(op->p);
    IGNORE_MODE;
    mt_qmaxpool_deriv(&s, slot[0], slot[1], slot[2]);
}

MT_RUN_FN(mt_run_qmaxpool_deriv_x)
{
    mt_pool_shape s = pool_shape(op->p);
    IGNORE_MODE;
    mt_qmaxpool_deriv_x(op->p[12], &s, slot[0], slot[1], slot[2]);
}

MT_RUN_FN(mt_run_qavgpool_fwd)
{
    mt_pool_shape s = pool_shape(op->p);
    IGNORE_MODE;
    mt_qavgpool_fwd(op->p[12], &s, slot[0], slot[1], op->p[13]);
}

MT_RUN_FN(mt_run_qavgpool_deriv)
{
    mt_pool_shape s = pool_shape(op->p);
    IGNORE_MODE;
    mt_qavgpool_deriv(&s, slot[0], slot[1]);
}

MT_RUN_FN(mt_run_qadam_apply)
{
    IGNORE_MODE;
    mt_qadam_apply(op->p[1], slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], slot[6],
                   op->p[0], op->p[2], op->p);
}

MT_RUN_FN(mt_run_qadd_fwd)
{
    IGNORE_MODE;
    mt_qadd_fwd(slot[0], slot[1], slot[2], op->p);
}

MT_RUN_FN(mt_run_qg16_add)
{
    IGNORE_MODE;
    mt_qg16_add(slot[0], slot[1], slot[2], op->p[0]);
}

MT_RUN_FN(mt_run_qfc_grad_qsgd)
{
    IGNORE_MODE;
    mt_qfc_grad_qsgd(op->p, slot);
}

MT_RUN_FN(mt_run_qfc_grad_qadam)
{
    IGNORE_MODE;
    mt_qfc_grad_qadam(op->p, slot);
}

MT_RUN_FN(mt_run_qfc_bias_grad)
{
    IGNORE_MODE;
    mt_qfc_bias_grad(mt_g16_cvals(slot[0]), mt_g16_exp(slot[0]), slot[1], op->p[0], op->p[1]);
}
