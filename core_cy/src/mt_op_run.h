/* One adapter per op kind from (op, slot pointers, mode) to its kernel: the
 * op table's `run` column. */
#ifndef MT_OP_RUN_H
#define MT_OP_RUN_H

#include "mt_ops.h"

#define MT_RUN_FN(name) void name(const mt_op *op, void *const *slot, int mode)
MT_RUN_FN(mt_run_fc_fwd);
MT_RUN_FN(mt_run_fc_fwd_packed);
MT_RUN_FN(mt_run_fc_grad);
MT_RUN_FN(mt_run_fc_deriv);
MT_RUN_FN(mt_run_conv_fwd);
MT_RUN_FN(mt_run_conv_grad);
MT_RUN_FN(mt_run_conv_deriv);
MT_RUN_FN(mt_run_maxpool_fwd);
MT_RUN_FN(mt_run_maxpool_deriv);
MT_RUN_FN(mt_run_avgpool_fwd);
MT_RUN_FN(mt_run_avgpool_deriv);
MT_RUN_FN(mt_run_act_fwd);
MT_RUN_FN(mt_run_act_deriv);
MT_RUN_FN(mt_run_bn_fwd);
MT_RUN_FN(mt_run_bn_grad);
MT_RUN_FN(mt_run_bn_deriv);
MT_RUN_FN(mt_run_add);
MT_RUN_FN(mt_run_copy);
MT_RUN_FN(mt_run_dropout_fwd);
MT_RUN_FN(mt_run_dropout_deriv);
MT_RUN_FN(mt_run_loss_mse_fwd);
MT_RUN_FN(mt_run_loss_mse_deriv);
MT_RUN_FN(mt_run_loss_ce_softmax_fwd);
MT_RUN_FN(mt_run_loss_ce_softmax_deriv);
MT_RUN_FN(mt_run_loss_ce_sigmoid_fwd);
MT_RUN_FN(mt_run_loss_ce_sigmoid_deriv);
MT_RUN_FN(mt_run_sgd_apply);
MT_RUN_FN(mt_run_adam_apply);
MT_RUN_FN(mt_run_actx_fwd);
MT_RUN_FN(mt_run_actx_deriv);
MT_RUN_FN(mt_run_sub);
MT_RUN_FN(mt_run_mul);
MT_RUN_FN(mt_run_neg);
MT_RUN_FN(mt_run_decay_grad);
MT_RUN_FN(mt_run_l2norm_loss);
MT_RUN_FN(mt_run_l2norm_loss_tile);
MT_RUN_FN(mt_run_concat);
MT_RUN_FN(mt_run_slice);
MT_RUN_FN(mt_run_slice_deriv);
MT_RUN_FN(mt_run_ln_fwd);
MT_RUN_FN(mt_run_ln_grad);
MT_RUN_FN(mt_run_ln_deriv);
MT_RUN_FN(mt_run_concat_deriv);
MT_RUN_FN(mt_run_permute);
MT_RUN_FN(mt_run_upsample_fwd);
MT_RUN_FN(mt_run_upsample_deriv);
/* integer ops (mt_op_run_q.c) */
MT_RUN_FN(mt_run_qfc_fwd);
MT_RUN_FN(mt_run_qfc_grad);
MT_RUN_FN(mt_run_qfc_deriv);
MT_RUN_FN(mt_run_qrelu_fwd);
MT_RUN_FN(mt_run_qrelu_deriv);
MT_RUN_FN(mt_run_qce_softmax_fwd);
MT_RUN_FN(mt_run_qce_softmax_deriv);
MT_RUN_FN(mt_run_qsgd_apply);
MT_RUN_FN(mt_run_qnarrow);
MT_RUN_FN(mt_run_quantize);
MT_RUN_FN(mt_run_dequantize);
MT_RUN_FN(mt_run_qconv_fwd);
MT_RUN_FN(mt_run_qconv_grad);
MT_RUN_FN(mt_run_qconv_deriv);
MT_RUN_FN(mt_run_qmaxpool_fwd);
MT_RUN_FN(mt_run_qmaxpool_deriv);
MT_RUN_FN(mt_run_qavgpool_fwd);
MT_RUN_FN(mt_run_qavgpool_deriv);
MT_RUN_FN(mt_run_qadam_apply);
MT_RUN_FN(mt_run_qfc_grad_qsgd);
MT_RUN_FN(mt_run_qfc_grad_qadam);
MT_RUN_FN(mt_run_qfc_bias_grad);
MT_RUN_FN(mt_run_qmaxpool_deriv_x);
MT_RUN_FN(mt_run_qadd_fwd);
MT_RUN_FN(mt_run_qg16_add);

#endif
