/* The executor: walks the op list and calls kernels with arena pointers.
 * It trusts a program that passed mt_program_validate(). */
#include <string.h>
#include "mt_exec.h"
#include "mt_kernels.h"

#define TENSOR(i) ((void *)(arena + prog->tensors[op->t[i]].offset))
#define OPTIONAL(i) (op->t[i] == MT_NO_TENSOR ? NULL : TENSOR(i))

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

static void add_metrics(float *metrics, float loss, float correct)
{
    metrics[0] += loss;
    metrics[1] += correct;
}

static void run_loss(const mt_program *prog, uint8_t *arena, const mt_op *op)
{
    const int32_t *p = op->p;
    float correct = 0.0f, loss;
    switch (op->kind) {
    case MT_OP_LOSS_MSE_FWD:
        loss = mt_loss_mse_fwd(TENSOR(0), TENSOR(1), p[2], p[0], p[1], &correct);
        add_metrics(TENSOR(2), loss, correct);
        break;
    case MT_OP_LOSS_MSE_DERIV:
        mt_loss_mse_deriv(TENSOR(0), TENSOR(1), p[2], p[0], p[1], TENSOR(2));
        break;
    case MT_OP_LOSS_CE_SOFTMAX_FWD:
        loss = mt_loss_ce_softmax_fwd(TENSOR(0), TENSOR(1), p[2], p[0], p[1], TENSOR(2), &correct);
        add_metrics(TENSOR(3), loss, correct);
        break;
    case MT_OP_LOSS_CE_SOFTMAX_DERIV:
        mt_loss_ce_softmax_deriv(TENSOR(0), TENSOR(1), p[2], p[0], p[1], TENSOR(2));
        break;
    case MT_OP_LOSS_CE_SIGMOID_FWD:
        loss = mt_loss_ce_sigmoid_fwd(TENSOR(0), TENSOR(1), p[2], p[0], p[1], TENSOR(2), &correct);
        add_metrics(TENSOR(3), loss, correct);
        break;
    default: /* MT_OP_LOSS_CE_SIGMOID_DERIV */
        mt_loss_ce_sigmoid_deriv(TENSOR(0), TENSOR(1), p[2], p[0], p[1], TENSOR(2));
        break;
    }
}

static void run_add(const mt_program *prog, uint8_t *arena, const mt_op *op)
{
    const float *inputs[MT_OP_MAX_TENSORS];
    int k = 0;
    while (k + 1 < MT_OP_MAX_TENSORS && op->t[k + 1] != MT_NO_TENSOR) {
        inputs[k] = TENSOR(k + 1);
        k++;
    }
    mt_add(TENSOR(0), inputs, k, op->p[0]);
}

static void run_bn_fwd(const mt_program *prog, uint8_t *arena, const mt_op *op, int mode)
{
    const int32_t *p = op->p;
    if (mode == MT_MODE_TRAIN)
        mt_bn_fwd_train(TENSOR(0), TENSOR(1), TENSOR(2), TENSOR(3), TENSOR(4), TENSOR(5),
                        TENSOR(6), TENSOR(7), p[0], p[1], p[2], op->f[0], op->f[1]);
    else
        mt_bn_fwd_eval(TENSOR(0), TENSOR(1), TENSOR(2), TENSOR(3), TENSOR(4), TENSOR(5),
                       p[0], p[1], p[2], op->f[1]);
}

static void run_dropout_fwd(const mt_program *prog, uint8_t *arena, const mt_op *op, int mode)
{
    if (mode == MT_MODE_TRAIN)
        mt_dropout_fwd(TENSOR(0), TENSOR(1), TENSOR(2), TENSOR(3), op->p[0], op->f[0]);
    else
        mt_copy(TENSOR(0), TENSOR(1), op->p[0]);
}

static void run_op(const mt_program *prog, uint8_t *arena, const mt_op *op, int mode)
{
    const int32_t *p = op->p;
    mt_conv_shape cs;
    mt_pool_shape ps;
    switch (op->kind) {
    case MT_OP_FC_FWD: mt_fc_fwd(TENSOR(0), TENSOR(1), OPTIONAL(2), TENSOR(3), p[0], p[1], p[2]); break;
    case MT_OP_FC_GRAD: mt_fc_grad(TENSOR(0), TENSOR(1), TENSOR(2), OPTIONAL(3), p[0], p[1], p[2]); break;
    case MT_OP_FC_DERIV: mt_fc_deriv(TENSOR(0), TENSOR(1), TENSOR(2), p[0], p[1], p[2]); break;
    case MT_OP_CONV_FWD: cs = conv_shape(p); mt_conv_fwd(&cs, TENSOR(0), TENSOR(1), OPTIONAL(2), TENSOR(3)); break;
    case MT_OP_CONV_GRAD: cs = conv_shape(p); mt_conv_grad(&cs, TENSOR(0), TENSOR(1), TENSOR(2), OPTIONAL(3)); break;
    case MT_OP_CONV_DERIV: cs = conv_shape(p); mt_conv_deriv(&cs, TENSOR(0), TENSOR(1), TENSOR(2)); break;
    case MT_OP_MAXPOOL_FWD: ps = pool_shape(p); mt_maxpool_fwd(&ps, TENSOR(0), TENSOR(1), TENSOR(2)); break;
    case MT_OP_MAXPOOL_DERIV: ps = pool_shape(p); mt_maxpool_deriv(&ps, TENSOR(0), TENSOR(1), TENSOR(2)); break;
    case MT_OP_AVGPOOL_FWD: ps = pool_shape(p); mt_avgpool_fwd(&ps, TENSOR(0), TENSOR(1)); break;
    case MT_OP_AVGPOOL_DERIV: ps = pool_shape(p); mt_avgpool_deriv(&ps, TENSOR(0), TENSOR(1)); break;
    case MT_OP_ACT_FWD: mt_act_fwd(p[2], TENSOR(0), TENSOR(1), p[0], p[1]); break;
    case MT_OP_ACT_DERIV: mt_act_deriv(p[2], TENSOR(0), TENSOR(1), TENSOR(2), p[0], p[1]); break;
    case MT_OP_ACTX_FWD: mt_actx_fwd(p[1], TENSOR(0), TENSOR(1), p[0]); break;
    case MT_OP_ACTX_DERIV: mt_actx_deriv(p[1], TENSOR(0), TENSOR(1), TENSOR(2), p[0]); break;
    case MT_OP_BN_FWD: run_bn_fwd(prog, arena, op, mode); break;
    case MT_OP_BN_GRAD:
        mt_bn_grad(TENSOR(0), TENSOR(1), TENSOR(2), TENSOR(3), TENSOR(4), TENSOR(5), p[0], p[1], p[2]);
        break;
    case MT_OP_BN_DERIV:
        mt_bn_deriv(TENSOR(0), TENSOR(1), TENSOR(2), TENSOR(3), TENSOR(4), TENSOR(5), p[0], p[1], p[2]);
        break;
    case MT_OP_ADD: run_add(prog, arena, op); break;
    case MT_OP_COPY: mt_copy(TENSOR(0), TENSOR(1), p[0]); break;
    case MT_OP_SUB: mt_sub(TENSOR(0), TENSOR(1), TENSOR(2), p[0]); break;
    case MT_OP_MUL: mt_mul(TENSOR(0), TENSOR(1), TENSOR(2), p[0]); break;
    case MT_OP_NEG: mt_neg(TENSOR(0), TENSOR(1), p[0]); break;
    case MT_OP_DECAY_GRAD: mt_decay_grad(TENSOR(0), TENSOR(1), p[0], op->f[0]); break;
    case MT_OP_L2NORM_LOSS:
        add_metrics(TENSOR(1), mt_l2norm_loss(TENSOR(0), p[0], op->f[0]), 0.0f);
        break;
    case MT_OP_DROPOUT_FWD: run_dropout_fwd(prog, arena, op, mode); break;
    case MT_OP_DROPOUT_DERIV: mt_dropout_deriv(TENSOR(0), TENSOR(1), TENSOR(2), p[0]); break;
    case MT_OP_SGD_APPLY: mt_sgd_apply(TENSOR(0), TENSOR(1), OPTIONAL(2), p[0], op->f[0], op->f[1]); break;
    case MT_OP_ADAM_APPLY:
        mt_adam_apply(TENSOR(0), TENSOR(1), TENSOR(2), TENSOR(3), TENSOR(4), p[0],
                      op->f[0], op->f[1], op->f[2], op->f[3]);
        break;
    default: run_loss(prog, arena, op); break;
    }
}

int mt_run(const mt_program *prog, uint8_t *arena, int mode, const mt_hooks *hooks)
{
    float *metrics = (float *)(arena + prog->tensors[prog->metrics].offset);
    metrics[0] = 0.0f;
    metrics[1] = 0.0f;
    for (uint32_t i = 0; i < prog->n_ops; i++) {
        const mt_op *op = &prog->ops[i];
        if (mode == MT_MODE_EVAL && op->phase != MT_PHASE_FORWARD) continue;
        if (hooks && hooks->before_op) {
            int status = hooks->before_op(hooks->ctx, i);
            if (status != MT_OK) return status;
        }
        run_op(prog, arena, op, mode);
        if (hooks && hooks->after_op) {
            int status = hooks->after_op(hooks->ctx, i);
            if (status != MT_OK) return status;
        }
    }
    return MT_OK;
}
