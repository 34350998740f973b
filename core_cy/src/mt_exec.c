/* The executor: walks the op list and calls kernels with arena pointers.
 * It trusts a program that passed mt_program_validate(). */
#include <stddef.h>
#include "mt_exec.h"
#include "mt_ops.h"

/* Arena pointers for the op's slots; NULL where a slot is unused. */
static void slot_pointers(const mt_program *prog, uint8_t *arena, const mt_op *op, void **slot)
{
    for (int i = 0; i < MT_OP_MAX_TENSORS; i++)
        slot[i] = op->t[i] == MT_NO_TENSOR ? NULL : arena + prog->tensors[op->t[i]].offset;
}

/* Dispatch through the op table; an unknown kind never falls through to a kernel. */
static int run_op(const mt_program *prog, uint8_t *arena, const mt_op *op, int mode)
{
    const mt_op_info *info = mt_op_lookup(op->kind);
    void *slot[MT_OP_MAX_TENSORS];
    if (!info) return MT_ERR_BAD_OP;
    slot_pointers(prog, arena, op, slot);
    info->run(op, slot, mode);
    return MT_OK;
}

/* Op i with the hooks around it (swap reads before, writes after). */
static int run_hooked(const mt_program *prog, uint8_t *arena, uint32_t i, int mode,
                      const mt_hooks *hooks)
{
    int status = MT_OK;
    if (hooks && hooks->before_op) status = hooks->before_op(hooks->ctx, i);
    if (status == MT_OK) status = run_op(prog, arena, &prog->ops[i], mode);
    if (status == MT_OK && hooks && hooks->after_op) status = hooks->after_op(hooks->ctx, i);
    return status;
}

static int start_hooked(const mt_hooks *hooks)
{
    return hooks && hooks->iteration_start ? hooks->iteration_start(hooks->ctx) : MT_OK;
}

static uint32_t passes(const mt_program *prog)
{
    return prog->micro_batches > 1 ? prog->micro_batches : 1;
}

/* Hooks only: a skipped op's swap events still keep the schedule whole. */
static int skip_hooked(uint32_t i, const mt_hooks *hooks)
{
    int status = MT_OK;
    if (hooks && hooks->before_op) status = hooks->before_op(hooks->ctx, i);
    if (status == MT_OK && hooks && hooks->after_op) status = hooks->after_op(hooks->ctx, i);
    return status;
}

static void zero_metrics(const mt_program *prog, uint8_t *arena)
{
    float *metrics = (float *)(arena + prog->tensors[prog->metrics].offset);
    metrics[0] = 0.0f;
    metrics[1] = 0.0f;
}

int mt_run_pass(const mt_program *prog, uint8_t *arena, uint32_t pass, const mt_hooks *hooks)
{
    int last = pass + 1 >= passes(prog);
    if (pass == 0) zero_metrics(prog, arena);
    int started = start_hooked(hooks);
    if (started != MT_OK) return started;
    for (uint32_t i = 0; i < prog->n_ops; i++) {
        int skip = !last && prog->ops[i].phase == MT_PHASE_APPLY;
        int status = skip ? skip_hooked(i, hooks) : run_hooked(prog, arena, i, MT_MODE_TRAIN, hooks);
        if (status != MT_OK) return status;
    }
    return MT_OK;
}

int mt_run(const mt_program *prog, uint8_t *arena, int mode, const mt_hooks *hooks)
{
    if (mode == MT_MODE_TRAIN) return mt_run_pass(prog, arena, passes(prog) - 1, hooks);
    zero_metrics(prog, arena);
    int started = start_hooked(hooks);
    if (started != MT_OK) return started;
    for (uint32_t i = 0; i < prog->n_ops; i++) {
        if (prog->ops[i].phase != MT_PHASE_FORWARD) continue;
        int status = run_hooked(prog, arena, i, mode, hooks);
        if (status != MT_OK) return status;
    }
    return MT_OK;
}
