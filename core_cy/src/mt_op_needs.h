/* Size rules of each op family: from an op's params, the bytes each tensor
 * slot must hold (the op table's `needs` column). */
#ifndef MT_OP_NEEDS_H
#define MT_OP_NEEDS_H

#include "mt_ops.h"

mt_status mt_fc_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_fc_packed_needs(const mt_op *op, mt_op_needs *needs);   /* FC_FWD_PACKED */
mt_status mt_conv_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_conv_tile_needs(const mt_op *op, mt_op_needs *needs);   /* kinds 216-220 */
mt_status mt_pool_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_act_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_bn_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_elementwise_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_loss_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_optim_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_actx_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_binary_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_shape_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_ln_needs(const mt_op *op, mt_op_needs *needs);
/* integer ops (mt_op_needs_q.c) */
mt_status mt_qfc_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qrelu_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qce_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qsgd_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qconvert_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qconv_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qpool_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qadam_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qfused_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_l2norm_tile_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_qadd_needs(const mt_op *op, mt_op_needs *needs);

#endif
