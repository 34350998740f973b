/* Kernel adapters: unpack an op's params and slot pointers for its kernel.
 * They trust an op that passed mt_op_validate(). */
#include <string.h>
#include "mt_op_run.h"
#include "mt_kernels.h"

#define IGNORE_MODE (void)mode

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

/* Loss forwards add the batch's mean loss (over K micro-batches) and
 * correct count to METRICS. */
static void add_metrics(const mt_op *op, void *metrics_slot, float loss, float correct)
{
    float *metrics = (float *)metrics_slot;
    metrics[0] += op->p[3] > 1 ? loss / (float)op->p[3] : loss;
    metrics[1] += correct;
}

/* A loss derivative over one of K micro-batches: dZ / K, as (loss / K).backward(). */
static void scale_derivative(const mt_op *op, void *dz_slot)
{
    float *dz = (float *)dz_slot;
    int32_t numel = op->p[0] * op->p[1];
    if (op->p[3] <= 1) return;
    for (int32_t i = 0; i < numel; i++) dz[i] /= (float)op->p[3];
}

static void clear_gradient(const mt_op *op, void *dw_slot)
{
    float *dw = (float *)dw_slot;
    if (!op->p[1]) return;
    for (int32_t i = 0; i < op->p[0]; i++) dw[i] = 0.0f;
}

MT_RUN_FN(mt_run_fc_fwd)
{
    IGNORE_MODE;
    mt_fc_fwd(slot[0], slot[1], slot[2], slot[3], op->p[0], op->p[1], op->p[2]);
}

MT_RUN_FN(mt_run_fc_fwd_packed)
{
    IGNORE_MODE;
    mt_fc_fwd_packed(slot[0], slot[1], slot[2], slot[3], op->p[0], op->p[1], op->p[2], slot[4],
                     (uint32_t)op->p[3]);
}

MT_RUN_FN(mt_run_fc_grad)
{
    IGNORE_MODE;
    mt_fc_grad(slot[0], slot[1], slot[2], slot[3], op->p[0], op->p[1], op->p[2]);
}

MT_RUN_FN(mt_run_fc_deriv)
{
    IGNORE_MODE;
    mt_fc_deriv(slot[0], slot[1], slot[2], op->p[0], op->p[1], op->p[2]);
}

MT_RUN_FN(mt_run_conv_fwd)
{
    mt_conv_shape shape = conv_shape(op->p);
    IGNORE_MODE;
    mt_conv_fwd_sized(&shape, slot[0], slot[1], slot[2], slot[3], slot[4], (uint32_t)op->p[14]);
}

MT_RUN_FN(mt_run_conv_grad)
{
    mt_conv_shape shape = conv_shape(op->p);
    IGNORE_MODE;
    mt_conv_grad_sized(&shape, slot[0], slot[1], slot[2], slot[3], slot[4], (uint32_t)op->p[14]);
}

MT_RUN_FN(mt_run_conv_deriv)
{
    mt_conv_shape shape = conv_shape(op->p);
    IGNORE_MODE;
    mt_conv_deriv_sized(&shape, slot[0], slot[1], slot[2], slot[3], (uint32_t)op->p[14]);
}

MT_RUN_FN(mt_run_maxpool_fwd)
{
    mt_pool_shape shape = pool_shape(op->p);
    IGNORE_MODE;
    mt_maxpool_fwd(&shape, slot[0], slot[1], slot[2]);
}

MT_RUN_FN(mt_run_maxpool_deriv)
{
    mt_pool_shape shape = pool_shape(op->p);
    IGNORE_MODE;
    mt_maxpool_deriv(&shape, slot[0], slot[1], slot[2]);
}

MT_RUN_FN(mt_run_avgpool_fwd)
{
    mt_pool_shape shape = pool_shape(op->p);
    IGNORE_MODE;
    mt_avgpool_fwd(&shape, slot[0], slot[1]);
}

MT_RUN_FN(mt_run_avgpool_deriv)
{
    mt_pool_shape shape = pool_shape(op->p);
    IGNORE_MODE;
    mt_avgpool_deriv(&shape, slot[0], slot[1]);
}

MT_RUN_FN(mt_run_act_fwd)
{
    IGNORE_MODE;
    mt_act_fwd(op->p[2], slot[0], slot[1], op->p[0], op->p[1]);
}

MT_RUN_FN(mt_run_act_deriv)
{
    IGNORE_MODE;
    mt_act_deriv(op->p[2], slot[0], slot[1], slot[2], op->p[0], op->p[1]);
}

/* TRAIN uses batch statistics and updates the running ones; EVAL uses the running ones. */
MT_RUN_FN(mt_run_bn_fwd)
{
    const int32_t *p = op->p;
    if (mode == MT_MODE_TRAIN)
        mt_bn_fwd_train(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], slot[6], slot[7],
                        p[0], p[1], p[2], op->f[0], op->f[1]);
    else
        mt_bn_fwd_eval(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5],
                       p[0], p[1], p[2], op->f[1]);
}

MT_RUN_FN(mt_run_bn_grad)
{
    IGNORE_MODE;
    mt_bn_grad(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], op->p[0], op->p[1], op->p[2]);
}

MT_RUN_FN(mt_run_bn_deriv)
{
    IGNORE_MODE;
    mt_bn_deriv(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], op->p[0], op->p[1], op->p[2]);
}

/* Inputs are the leading slots after Y up to the first absent one. */
MT_RUN_FN(mt_run_add)
{
    const float *inputs[MT_OP_MAX_TENSORS];
    int n_inputs = 0;
    IGNORE_MODE;
    while (n_inputs + 1 < MT_OP_MAX_TENSORS && slot[n_inputs + 1]) {
        inputs[n_inputs] = slot[n_inputs + 1];
        n_inputs++;
    }
    mt_add(slot[0], inputs, n_inputs, op->p[0]);
}

MT_RUN_FN(mt_run_copy)
{
    IGNORE_MODE;
    mt_copy(slot[0], slot[1], op->p[0]);
}

/* EVAL copies X: dropout is the identity at inference. */
MT_RUN_FN(mt_run_dropout_fwd)
{
    if (mode == MT_MODE_TRAIN)
        mt_dropout_fwd(slot[0], slot[1], slot[2], slot[3], op->p[0], op->f[0]);
    else
        mt_copy(slot[0], slot[1], op->p[0]);
}

MT_RUN_FN(mt_run_dropout_deriv)
{
    IGNORE_MODE;
    mt_dropout_deriv(slot[0], slot[1], slot[2], op->p[0]);
}

MT_RUN_FN(mt_run_loss_mse_fwd)
{
    float correct = 0.0f;
    IGNORE_MODE;
    float loss = mt_loss_mse_fwd(slot[0], slot[1], op->p[2], op->p[0], op->p[1], &correct);
    add_metrics(op, slot[2], loss, correct);
}

MT_RUN_FN(mt_run_loss_mse_deriv)
{
    IGNORE_MODE;
    mt_loss_mse_deriv(slot[0], slot[1], op->p[2], op->p[0], op->p[1], slot[2]);
    scale_derivative(op, slot[2]);
}

MT_RUN_FN(mt_run_loss_ce_softmax_fwd)
{
    float correct = 0.0f;
    IGNORE_MODE;
    float loss = mt_loss_ce_softmax_fwd(slot[0], slot[1], op->p[2], op->p[0], op->p[1],
                                        slot[2], &correct);
    add_metrics(op, slot[3], loss, correct);
}

MT_RUN_FN(mt_run_loss_ce_softmax_deriv)
{
    IGNORE_MODE;
    mt_loss_ce_softmax_deriv(slot[0], slot[1], op->p[2], op->p[0], op->p[1], slot[2]);
    scale_derivative(op, slot[2]);
}

MT_RUN_FN(mt_run_loss_ce_sigmoid_fwd)
{
    float correct = 0.0f;
    IGNORE_MODE;
    float loss = mt_loss_ce_sigmoid_fwd(slot[0], slot[1], op->p[2], op->p[0], op->p[1],
                                        slot[2], &correct);
    add_metrics(op, slot[3], loss, correct);
}

MT_RUN_FN(mt_run_loss_ce_sigmoid_deriv)
{
    IGNORE_MODE;
    mt_loss_ce_sigmoid_deriv(slot[0], slot[1], op->p[2], op->p[0], op->p[1], slot[2]);
    scale_derivative(op, slot[2]);
}

MT_RUN_FN(mt_run_sgd_apply)
{
    IGNORE_MODE;
    mt_sgd_apply(slot[0], slot[1], slot[2], op->p[0], op->f[0], op->f[1]);
    clear_gradient(op, slot[1]);
}

MT_RUN_FN(mt_run_adam_apply)
{
    IGNORE_MODE;
    mt_adam_apply(slot[0], slot[1], slot[2], slot[3], slot[4], op->p[0],
                  op->f[0], op->f[1], op->f[2], op->f[3]);
    clear_gradient(op, slot[1]);
}

MT_RUN_FN(mt_run_actx_fwd)
{
    IGNORE_MODE;
    mt_actx_fwd(op->p[1], slot[0], slot[1], op->p[0]);
}

MT_RUN_FN(mt_run_actx_deriv)
{
    IGNORE_MODE;
    mt_actx_deriv(op->p[1], slot[0], slot[1], slot[2], op->p[0]);
}

MT_RUN_FN(mt_run_sub)
{
    IGNORE_MODE;
    mt_sub(slot[0], slot[1], slot[2], op->p[0]);
}

MT_RUN_FN(mt_run_mul)
{
    IGNORE_MODE;
    mt_mul(slot[0], slot[1], slot[2], op->p[0]);
}

MT_RUN_FN(mt_run_neg)
{
    IGNORE_MODE;
    mt_neg(slot[0], slot[1], op->p[0]);
}

MT_RUN_FN(mt_run_decay_grad)
{
    IGNORE_MODE;
    mt_decay_grad(slot[0], slot[1], op->p[0], op->f[0]);
}

MT_RUN_FN(mt_run_l2norm_loss)
{
    IGNORE_MODE;
    add_metrics(op, slot[1], mt_l2norm_loss(slot[0], op->p[0], op->f[0]), 0.0f);
}

/* One chunk of the l2norm loss: SUM (a double in its own 8 bytes) carries the
 * untiled sum's partial from chunk to chunk; the LAST chunk adds the loss. */
MT_RUN_FN(mt_run_l2norm_loss_tile)
{
    double sum = 0.0;
    IGNORE_MODE;
    if (op->kind == MT_OP_L2NORM_LOSS_TILE_NEXT) memcpy(&sum, slot[2], sizeof sum);
    sum = mt_sum_squares(slot[0], op->p[0], sum);
    memcpy(slot[2], &sum, sizeof sum);
    if (op->p[1]) add_metrics(op, slot[1], mt_l2norm_of(sum, op->f[0]), 0.0f);
}

MT_RUN_FN(mt_run_concat)
{
    const float *xs[MT_OP_MAX_TENSORS - 1];
    IGNORE_MODE;
    for (int i = 0; i < op->p[1]; i++) xs[i] = slot[1 + i];
    mt_concat(slot[0], xs, op->p + 2, op->p[1], op->p[0]);
}

MT_RUN_FN(mt_run_concat_deriv)
{
    float *dxs[MT_OP_MAX_TENSORS - 1];
    IGNORE_MODE;
    for (int i = 0; i < op->p[1]; i++) dxs[i] = slot[1 + i];
    mt_concat_deriv(slot[0], dxs, op->p + 2, op->p[1], op->p[0]);
}

MT_RUN_FN(mt_run_permute)
{
    IGNORE_MODE;
    mt_permute(slot[0], slot[1], op->p[0], op->p + 1, op->p + 4);
}

MT_RUN_FN(mt_run_upsample_fwd)
{
    IGNORE_MODE;
    mt_upsample_fwd(slot[0], slot[1], op->p[0], op->p[1], op->p[2], op->p[3], op->p[4]);
}

MT_RUN_FN(mt_run_upsample_deriv)
{
    IGNORE_MODE;
    mt_upsample_deriv(slot[0], slot[1], op->p[0], op->p[1], op->p[2], op->p[3], op->p[4]);
}

MT_RUN_FN(mt_run_ln_fwd)
{
    IGNORE_MODE;
    mt_ln_fwd(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], op->p[0], op->p[1],
              op->f[0]);
}

MT_RUN_FN(mt_run_ln_grad)
{
    IGNORE_MODE;
    mt_ln_grad(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], op->p[0], op->p[1]);
}

MT_RUN_FN(mt_run_ln_deriv)
{
    IGNORE_MODE;
    mt_ln_deriv(slot[0], slot[1], slot[2], slot[3], slot[4], slot[5], op->p[0], op->p[1]);
}

MT_RUN_FN(mt_run_slice)
{
    IGNORE_MODE;
    mt_slice(slot[0], slot[1], op->p[0], op->p[1], op->p[2], op->p[3]);
}

MT_RUN_FN(mt_run_slice_deriv)
{
    IGNORE_MODE;
    mt_slice_deriv(slot[0], slot[1], op->p[0], op->p[1], op->p[2], op->p[3]);
}
