/* The op table: every op kind the core knows, in one place. */
#include "mt_ops.h"
#include "mt_op_needs.h"
#include "mt_op_run.h"
#include "mt_kernels_fused.h"
#include "mt_kernels_tile.h"

#define R MT_SLOT_READ
#define W MT_SLOT_WRITE
#define RW MT_SLOT_READ_WRITE
#define NO_PAIR -1, -1
#define OPTIONAL_SLOT(i) (1u << (i))

/* kind, name, max slots, roles, optional slots, params, floats,
   in-place (write slot, read slot), needs, run */
static const mt_op_info op_table[] = {
#ifndef MT_NO_FLOAT_KERNELS  /* float32 ops: a build without float (fixed) leaves them out */
    {MT_OP_FC_FWD, "FC_FWD", 4, {R, R, R, W}, OPTIONAL_SLOT(2), 3, 0, NO_PAIR,
     mt_fc_needs, mt_run_fc_fwd},
    {MT_OP_FC_GRAD, "FC_GRAD", 4, {R, R, W, W}, OPTIONAL_SLOT(3), 3, 0, NO_PAIR,
     mt_fc_needs, mt_run_fc_grad},
    {MT_OP_FC_DERIV, "FC_DERIV", 3, {R, R, W}, 0, 3, 0, NO_PAIR,
     mt_fc_needs, mt_run_fc_deriv},
    /* conv: the last slot is the kernel's arena scratch (p[14] bytes, 0: MT_CONV_SCRATCH_BYTES) */
    {MT_OP_CONV_FWD, "CONV_FWD", 5, {R, R, R, W, W}, OPTIONAL_SLOT(2), 15, 0, NO_PAIR,
     mt_conv_needs, mt_run_conv_fwd},
    {MT_OP_CONV_GRAD, "CONV_GRAD", 5, {R, R, W, W, W}, OPTIONAL_SLOT(3), 15, 0, NO_PAIR,
     mt_conv_needs, mt_run_conv_grad},
    {MT_OP_CONV_DERIV, "CONV_DERIV", 4, {R, R, W, W}, 0, 15, 0, NO_PAIR,
     mt_conv_needs, mt_run_conv_deriv},
    {MT_OP_MAXPOOL_FWD, "MAXPOOL_FWD", 3, {R, W, W}, 0, 12, 0, NO_PAIR,
     mt_pool_needs, mt_run_maxpool_fwd},
    {MT_OP_MAXPOOL_DERIV, "MAXPOOL_DERIV", 3, {R, R, W}, 0, 12, 0, NO_PAIR,
     mt_pool_needs, mt_run_maxpool_deriv},
    {MT_OP_AVGPOOL_FWD, "AVGPOOL_FWD", 2, {R, W}, 0, 12, 0, NO_PAIR,
     mt_pool_needs, mt_run_avgpool_fwd},
    {MT_OP_AVGPOOL_DERIV, "AVGPOOL_DERIV", 2, {R, W}, 0, 12, 0, NO_PAIR,
     mt_pool_needs, mt_run_avgpool_deriv},
    /* elementwise: Y may be X, dX may be dY */
    {MT_OP_ACT_FWD, "ACT_FWD", 2, {R, W}, 0, 3, 0, 1, 0,
     mt_act_needs, mt_run_act_fwd},
    {MT_OP_ACT_DERIV, "ACT_DERIV", 3, {R, R, W}, 0, 3, 0, 2, 1,
     mt_act_needs, mt_run_act_deriv},
    {MT_OP_BN_FWD, "BN_FWD", 8, {R, R, R, RW, RW, W, W, W}, 0, 3, 2, NO_PAIR,
     mt_bn_needs, mt_run_bn_fwd},
    {MT_OP_BN_GRAD, "BN_GRAD", 6, {R, R, R, R, W, W}, 0, 3, 0, NO_PAIR,
     mt_bn_needs, mt_run_bn_grad},
    {MT_OP_BN_DERIV, "BN_DERIV", 6, {R, R, R, R, R, W}, 0, 3, 0, NO_PAIR,
     mt_bn_needs, mt_run_bn_deriv},
    /* Y may be the first summand; a copy has memmove semantics */
    {MT_OP_ADD, "ADD", 8, {W, R, R, R, R, R, R, R}, 0xF8u, 1, 0, 0, 1,
     mt_elementwise_needs, mt_run_add},
    {MT_OP_COPY, "COPY", 2, {R, W}, 0, 1, 0, 1, 0,
     mt_elementwise_needs, mt_run_copy},
    {MT_OP_DROPOUT_FWD, "DROPOUT_FWD", 4, {R, W, W, RW}, 0, 1, 1, 1, 0,
     mt_elementwise_needs, mt_run_dropout_fwd},
    {MT_OP_DROPOUT_DERIV, "DROPOUT_DERIV", 3, {R, R, W}, 0, 1, 0, 2, 0,
     mt_elementwise_needs, mt_run_dropout_deriv},
    {MT_OP_LOSS_MSE_FWD, "LOSS_MSE_FWD", 3, {R, R, RW}, 0, 4, 0, NO_PAIR,
     mt_loss_needs, mt_run_loss_mse_fwd},
    {MT_OP_LOSS_MSE_DERIV, "LOSS_MSE_DERIV", 3, {R, R, W}, 0, 4, 0, NO_PAIR,
     mt_loss_needs, mt_run_loss_mse_deriv},
    {MT_OP_LOSS_CE_SOFTMAX_FWD, "LOSS_CE_SOFTMAX_FWD", 4, {R, R, W, RW}, 0, 4, 0, NO_PAIR,
     mt_loss_needs, mt_run_loss_ce_softmax_fwd},
    {MT_OP_LOSS_CE_SOFTMAX_DERIV, "LOSS_CE_SOFTMAX_DERIV", 3, {R, R, W}, 0, 4, 0, NO_PAIR,
     mt_loss_needs, mt_run_loss_ce_softmax_deriv},
    {MT_OP_LOSS_CE_SIGMOID_FWD, "LOSS_CE_SIGMOID_FWD", 4, {R, R, W, RW}, 0, 4, 0, NO_PAIR,
     mt_loss_needs, mt_run_loss_ce_sigmoid_fwd},
    {MT_OP_LOSS_CE_SIGMOID_DERIV, "LOSS_CE_SIGMOID_DERIV", 3, {R, R, W}, 0, 4, 0, NO_PAIR,
     mt_loss_needs, mt_run_loss_ce_sigmoid_deriv},
    {MT_OP_SGD_APPLY, "SGD_APPLY", 3, {RW, RW, RW}, OPTIONAL_SLOT(2), 2, 2, NO_PAIR,
     mt_optim_needs, mt_run_sgd_apply},
    {MT_OP_ADAM_APPLY, "ADAM_APPLY", 5, {RW, RW, RW, RW, RW}, 0, 2, 4, NO_PAIR,
     mt_optim_needs, mt_run_adam_apply},
    /* NNTrainer layers: activations reading X, subtract / multiply, regularization */
    {MT_OP_ACTX_FWD, "ACTX_FWD", 2, {R, W}, 0, 2, 0, NO_PAIR,
     mt_actx_needs, mt_run_actx_fwd},
    {MT_OP_ACTX_DERIV, "ACTX_DERIV", 3, {R, R, W}, 0, 2, 0, 2, 1,
     mt_actx_needs, mt_run_actx_deriv},
    {MT_OP_SUB, "SUB", 3, {W, R, R}, 0, 1, 0, NO_PAIR,
     mt_binary_needs, mt_run_sub},
    {MT_OP_MUL, "MUL", 3, {W, R, R}, 0, 1, 0, NO_PAIR,
     mt_binary_needs, mt_run_mul},
    {MT_OP_NEG, "NEG", 2, {R, W}, 0, 1, 0, NO_PAIR,
     mt_binary_needs, mt_run_neg},
    {MT_OP_CONCAT, "CONCAT", 8, {W, R, R, R, R, R, R, R}, 0, 9, 0, NO_PAIR,
     mt_shape_needs, mt_run_concat},
    {MT_OP_CONCAT_DERIV, "CONCAT_DERIV", 8, {R, W, W, W, W, W, W, W}, 0xFEu, 9, 0, NO_PAIR,
     mt_shape_needs, mt_run_concat_deriv},
    {MT_OP_PERMUTE, "PERMUTE", 2, {R, W}, 0, 7, 0, NO_PAIR,
     mt_shape_needs, mt_run_permute},
    {MT_OP_UPSAMPLE_FWD, "UPSAMPLE_FWD", 2, {R, W}, 0, 5, 0, NO_PAIR,
     mt_shape_needs, mt_run_upsample_fwd},
    {MT_OP_UPSAMPLE_DERIV, "UPSAMPLE_DERIV", 2, {R, W}, 0, 5, 0, NO_PAIR,
     mt_shape_needs, mt_run_upsample_deriv},
    {MT_OP_SLICE, "SLICE", 2, {R, W}, 0, 4, 0, NO_PAIR,
     mt_shape_needs, mt_run_slice},
    {MT_OP_SLICE_DERIV, "SLICE_DERIV", 2, {R, W}, 0, 4, 0, NO_PAIR,
     mt_shape_needs, mt_run_slice_deriv},
    {MT_OP_LN_FWD, "LN_FWD", 6, {R, R, R, W, W, W}, 0, 2, 1, NO_PAIR,
     mt_ln_needs, mt_run_ln_fwd},
    {MT_OP_LN_GRAD, "LN_GRAD", 6, {R, R, R, R, W, W}, 0, 2, 0, NO_PAIR,
     mt_ln_needs, mt_run_ln_grad},
    {MT_OP_LN_DERIV, "LN_DERIV", 6, {R, R, R, R, R, W}, 0, 2, 0, NO_PAIR,
     mt_ln_needs, mt_run_ln_deriv},
    {MT_OP_DECAY_GRAD, "DECAY_GRAD", 2, {R, RW}, 0, 1, 1, NO_PAIR,
     mt_binary_needs, mt_run_decay_grad},
    {MT_OP_L2NORM_LOSS, "L2NORM_LOSS", 2, {R, RW}, 0, 1, 1, NO_PAIR,
     mt_binary_needs, mt_run_l2norm_loss},
    /* fused weight gradients (issue 11): kinds 200.. */
    {MT_OP_FC_GRAD_SGD, "FC_GRAD_SGD", 6, {R, R, RW, RW, W, W},
     OPTIONAL_SLOT(3) | OPTIONAL_SLOT(4), 3, 2, NO_PAIR, mt_fused_needs, mt_run_fc_grad_sgd},
    {MT_OP_FC_GRAD_ADAM, "FC_GRAD_ADAM", 8, {R, R, RW, RW, RW, RW, W, W},
     OPTIONAL_SLOT(6), 3, 4, NO_PAIR, mt_fused_needs, mt_run_fc_grad_adam},
    {MT_OP_FC_GRAD_ACC, "FC_GRAD_ACC", 5, {R, R, RW, W, W},
     OPTIONAL_SLOT(3), 3, 0, NO_PAIR, mt_fused_needs, mt_run_fc_grad_acc},
    /* tiled ops (issue 11): kinds 210.. */
    {MT_OP_FC_FWD_TILE, "FC_FWD_TILE", 4, {R, R, R, W}, OPTIONAL_SLOT(2), 5, 0, NO_PAIR,
     mt_tile_needs, mt_run_fc_fwd_tile},
    {MT_OP_FC_FWD_TILE_NEXT, "FC_FWD_TILE_NEXT", 4, {R, R, R, RW}, OPTIONAL_SLOT(2), 5, 0,
     NO_PAIR, mt_tile_needs, mt_run_fc_fwd_tile},
    {MT_OP_FC_GRAD_TILE, "FC_GRAD_TILE", 4, {R, R, W, W}, OPTIONAL_SLOT(3), 5, 0, NO_PAIR,
     mt_tile_needs, mt_run_fc_grad_tile},
    {MT_OP_FC_DERIV_TILE, "FC_DERIV_TILE", 3, {R, R, W}, 0, 5, 0, NO_PAIR,
     mt_tile_needs, mt_run_fc_deriv_tile},
    {MT_OP_FC_DERIV_TILE_NEXT, "FC_DERIV_TILE_NEXT", 3, {R, R, RW}, 0, 5, 0, NO_PAIR,
     mt_tile_needs, mt_run_fc_deriv_tile},
    {MT_OP_ADAM_APPLY_TILE, "ADAM_APPLY_TILE", 5, {RW, RW, RW, RW, RW}, 0, 3, 4, NO_PAIR,
     mt_adam_tile_needs, mt_run_adam_apply_tile},
    {MT_OP_CONV_FWD_TILE, "CONV_FWD_TILE", 5, {R, R, R, W, W}, OPTIONAL_SLOT(2), 16, 0,
     NO_PAIR, mt_conv_tile_needs, mt_run_conv_fwd_tile},
    {MT_OP_CONV_FWD_TILE_NEXT, "CONV_FWD_TILE_NEXT", 5, {R, R, R, RW, W}, OPTIONAL_SLOT(2), 16,
     0, NO_PAIR, mt_conv_tile_needs, mt_run_conv_fwd_tile},
    {MT_OP_CONV_GRAD_TILE, "CONV_GRAD_TILE", 5, {R, R, W, W, W}, OPTIONAL_SLOT(3), 16, 0,
     NO_PAIR, mt_conv_tile_needs, mt_run_conv_grad_tile},
    {MT_OP_CONV_DERIV_TILE, "CONV_DERIV_TILE", 4, {R, R, W, W}, 0, 16, 0, NO_PAIR,
     mt_conv_tile_needs, mt_run_conv_deriv_tile},
    {MT_OP_CONV_DERIV_TILE_NEXT, "CONV_DERIV_TILE_NEXT", 4, {R, R, RW, W}, 0, 16, 0, NO_PAIR,
     mt_conv_tile_needs, mt_run_conv_deriv_tile},
    /* fused weight gradients per tile (issue 11): kinds 230.. */
    {MT_OP_FC_GRAD_SGD_TILE, "FC_GRAD_SGD_TILE", 6, {R, R, RW, RW, W, W},
     OPTIONAL_SLOT(3) | OPTIONAL_SLOT(4), 5, 4, NO_PAIR, mt_fused_needs, mt_run_fc_grad_sgd},
    {MT_OP_FC_GRAD_ADAM_TILE, "FC_GRAD_ADAM_TILE", 8, {R, R, RW, RW, RW, RW, W, W},
     OPTIONAL_SLOT(6), 6, 4, NO_PAIR, mt_fused_needs, mt_run_fc_grad_adam},
    {MT_OP_FC_GRAD_ACC_TILE, "FC_GRAD_ACC_TILE", 5, {R, R, RW, W, W},
     OPTIONAL_SLOT(3), 5, 0, NO_PAIR, mt_fused_needs, mt_run_fc_grad_acc},
    {MT_OP_L2NORM_LOSS_TILE, "L2NORM_LOSS_TILE", 3, {R, RW, W}, 0, 2, 1, NO_PAIR,
     mt_l2norm_tile_needs, mt_run_l2norm_loss_tile},
    {MT_OP_L2NORM_LOSS_TILE_NEXT, "L2NORM_LOSS_TILE_NEXT", 3, {R, RW, RW}, 0, 2, 1, NO_PAIR,
     mt_l2norm_tile_needs, mt_run_l2norm_loss_tile},
    /* float <-> integer at the edges of an integer graph */
    {MT_OP_QUANTIZE, "QUANTIZE", 2, {R, W}, 0, 3, 1, NO_PAIR,
     mt_qconvert_needs, mt_run_quantize},
    {MT_OP_DEQUANTIZE, "DEQUANTIZE", 2, {R, W}, 0, 3, 1, NO_PAIR,
     mt_qconvert_needs, mt_run_dequantize},
    /* host plans only (fc_scratch.py): last, so microcontrollers' lookups never pass it */
    {MT_OP_FC_FWD_PACKED, "FC_FWD_PACKED", 5, {R, R, R, W, W}, OPTIONAL_SLOT(2), 4, 0, NO_PAIR,
     mt_fc_packed_needs, mt_run_fc_fwd_packed},
#endif
    /* integer ops (docs/int8.md): no float operation */
    {MT_OP_QFC_FWD, "QFC_FWD", 5, {R, R, R, W, R}, OPTIONAL_SLOT(2), 6, 0, NO_PAIR,
     mt_qfc_needs, mt_run_qfc_fwd},
    {MT_OP_QFC_GRAD, "QFC_GRAD", 4, {R, R, W, W}, OPTIONAL_SLOT(3), 5, 0, NO_PAIR,
     mt_qfc_needs, mt_run_qfc_grad},
    {MT_OP_QFC_DERIV, "QFC_DERIV", 4, {R, R, R, W}, 0, 5, 0, NO_PAIR,
     mt_qfc_needs, mt_run_qfc_deriv},
    /* Y may be X, dX may be dY */
    {MT_OP_QRELU_FWD, "QRELU_FWD", 2, {R, W}, 0, 3, 0, 1, 0,
     mt_qrelu_needs, mt_run_qrelu_fwd},
    {MT_OP_QRELU_DERIV, "QRELU_DERIV", 3, {R, R, W}, 0, 3, 0, 2, 1,
     mt_qrelu_needs, mt_run_qrelu_deriv},
    {MT_OP_QCE_SOFTMAX_FWD, "QCE_SOFTMAX_FWD", 4, {R, R, W, W}, 0, 5, 0, NO_PAIR,
     mt_qce_needs, mt_run_qce_softmax_fwd},
    {MT_OP_QCE_SOFTMAX_DERIV, "QCE_SOFTMAX_DERIV", 3, {R, R, W}, 0, 2, 0, NO_PAIR,
     mt_qce_needs, mt_run_qce_softmax_deriv},
    {MT_OP_QSGD_APPLY, "QSGD_APPLY", 5, {RW, R, R, RW, RW}, 0, 4, 0, NO_PAIR,
     mt_qsgd_needs, mt_run_qsgd_apply},
    {MT_OP_QNARROW, "QNARROW", 2, {R, W}, 0, 2, 0, NO_PAIR,
     mt_qconvert_needs, mt_run_qnarrow},
    {MT_OP_QCONV_FWD, "QCONV_FWD", 5, {R, R, R, W, R}, OPTIONAL_SLOT(2), 16, 0, NO_PAIR,
     mt_qconv_needs, mt_run_qconv_fwd},
    {MT_OP_QCONV_GRAD, "QCONV_GRAD", 4, {R, R, W, W}, OPTIONAL_SLOT(3), 16, 0, NO_PAIR,
     mt_qconv_needs, mt_run_qconv_grad},
    {MT_OP_QCONV_DERIV, "QCONV_DERIV", 4, {R, R, R, W}, 0, 16, 0, NO_PAIR,
     mt_qconv_needs, mt_run_qconv_deriv},
    /* IDX optional: QMAXPOOL_DERIV_X finds the maxima again in X */
    {MT_OP_QMAXPOOL_FWD, "QMAXPOOL_FWD", 3, {R, W, W}, OPTIONAL_SLOT(2), 13, 0, NO_PAIR,
     mt_qpool_needs, mt_run_qmaxpool_fwd},
    {MT_OP_QMAXPOOL_DERIV, "QMAXPOOL_DERIV", 3, {R, R, W}, 0, 12, 0, NO_PAIR,
     mt_qpool_needs, mt_run_qmaxpool_deriv},
    {MT_OP_QAVGPOOL_FWD, "QAVGPOOL_FWD", 2, {R, W}, 0, 14, 0, NO_PAIR,
     mt_qpool_needs, mt_run_qavgpool_fwd},
    {MT_OP_QAVGPOOL_DERIV, "QAVGPOOL_DERIV", 2, {R, W}, 0, 12, 0, NO_PAIR,
     mt_qpool_needs, mt_run_qavgpool_deriv},
    {MT_OP_QADAM_APPLY, "QADAM_APPLY", 7, {RW, R, R, RW, RW, RW, RW}, 0, 7, 0, NO_PAIR,
     mt_qadam_needs, mt_run_qadam_apply},
    /* Y may be A */
    {MT_OP_QADD_FWD, "QADD_FWD", 3, {R, R, W}, 0, 9, 0, 2, 0,
     mt_qadd_needs, mt_run_qadd_fwd},
    {MT_OP_QG16_ADD, "QG16_ADD", 3, {R, R, W}, 0, 1, 0, 2, 0,
     mt_qadd_needs, mt_run_qg16_add},
    /* fused QFC weight gradient + step (mt_kernels_qfused.c): GE is the last gradient exponent */
    {MT_OP_QFC_GRAD_QSGD, "QFC_GRAD_QSGD", 7, {R, R, RW, R, RW, RW, RW},
     OPTIONAL_SLOT(5), 6, 0, NO_PAIR, mt_qfused_needs, mt_run_qfc_grad_qsgd},
    {MT_OP_QMAXPOOL_DERIV_X, "QMAXPOOL_DERIV_X", 3, {R, R, W}, 0, 13, 0, NO_PAIR,
     mt_qpool_needs, mt_run_qmaxpool_deriv_x},
    {MT_OP_QFC_GRAD_QADAM, "QFC_GRAD_QADAM", 8, {R, R, RW, R, RW, RW, RW, RW},
     0, 9, 0, NO_PAIR, mt_qfused_needs, mt_run_qfc_grad_qadam},
    {MT_OP_QFC_BIAS_GRAD, "QFC_BIAS_GRAD", 2, {R, W}, 0, 2, 0, NO_PAIR,
     mt_qfused_needs, mt_run_qfc_bias_grad},
};

#define OP_COUNT (sizeof(op_table) / sizeof(op_table[0]))

const mt_op_info *mt_op_lookup(uint16_t kind)
{
    for (uint32_t i = 0; i < OP_COUNT; i++)
        if (op_table[i].kind == kind) return &op_table[i];
    return 0;
}

uint32_t mt_op_count(void)
{
    return (uint32_t)OP_COUNT;
}

const mt_op_info *mt_op_at(uint32_t index)
{
    return index < OP_COUNT ? &op_table[index] : 0;
}
