/* Size rules of each op family: from an op's params, the bytes each tensor
 * slot must hold (the op table's `needs` column). */
#ifndef MT_OP_NEEDS_H
#define MT_OP_NEEDS_H

#include "mt_ops.h"

mt_status mt_fc_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_conv_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_pool_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_act_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_bn_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_elementwise_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_loss_needs(const mt_op *op, mt_op_needs *needs);
mt_status mt_optim_needs(const mt_op *op, mt_op_needs *needs);

#endif
