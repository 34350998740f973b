/* Fused weight-gradient ops (issue 11, Tiny Training Engine's in-place update):
 * the FC weight gradient is produced one output row at a time into a small
 * scratch and consumed at once (optimizer step, or added into the micro-batch
 * accumulator), so no whole dW tensor is ever live. Each row comes from the
 * ordinary kernels (mt_fc_grad with OUT = 1, mt_sgd_apply, mt_adam_apply,
 * mt_add), so results are bit-identical to the unfused ops. */
#ifndef MT_KERNELS_FUSED_H
#define MT_KERNELS_FUSED_H

#include "mt_ops.h"

mt_status mt_fused_needs(const mt_op *op, mt_op_needs *needs);
void mt_run_fc_grad_sgd(const mt_op *op, void *const *slot, int mode);
void mt_run_fc_grad_adam(const mt_op *op, void *const *slot, int mode);
void mt_run_fc_grad_acc(const mt_op *op, void *const *slot, int mode);

#endif
