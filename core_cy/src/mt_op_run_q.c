/* Kernel adapters of the integer ops (docs/int8.md). They trust an op that
 * passed mt_op_validate(). */
#include "mt_op_run.h"
#include "mt_kernels_q.h"

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
