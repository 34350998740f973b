/* Program validation: everything a kernel will touch is checked here once,
 * so a hostile op list can never make the executor read or write outside
 * the arena, nor write bytes it reads in the same op (unless the op table
 * declares that slot pair in-place). */
#include <string.h>
#include "mt_exec.h"
#include "mt_ops.h"

/* f != 0.0f without a float compare (a float-free build links no soft-float
 * routine): every bit but the sign is zero exactly for +0 and -0. */
static int float_nonzero(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return (bits & 0x7FFFFFFFu) != 0;
}

static int tensor_in_arena(const mt_program *prog, const mt_tensor *t)
{
    return t->offset % 4u == 0 && (uint64_t)t->offset + t->nbytes <= prog->arena_bytes;
}

static mt_status tensor_ok(const mt_program *prog, int32_t id, uint64_t need)
{
    if (id < 0 || (uint32_t)id >= prog->n_tensors) return MT_ERR_BAD_TENSOR;
    const mt_tensor *t = &prog->tensors[id];
    if (!tensor_in_arena(prog, t)) return MT_ERR_BAD_TENSOR;
    return t->nbytes < need ? MT_ERR_BAD_SIZE : MT_OK;
}

/* Params and floats beyond the op's count must be zero: nothing is ignored. */
static int unused_params_zero(const mt_op_info *info, const mt_op *op)
{
    for (int i = info->n_params; i < MT_OP_MAX_PARAMS; i++)
        if (op->p[i] != 0) return 0;
    for (int i = info->n_floats; i < MT_OP_MAX_FLOATS; i++)
        if (float_nonzero(op->f[i])) return 0;
    return 1;
}

static mt_status slots_ok(const mt_program *prog, const mt_op_info *info, const mt_op *op,
                          const mt_op_needs *needs)
{
    for (int i = 0; i < MT_OP_MAX_TENSORS; i++) {
        int32_t id = op->t[i];
        if (i >= needs->n_slots) {
            if (id != MT_NO_TENSOR) return MT_ERR_BAD_OP;
            continue;
        }
        if (id == MT_NO_TENSOR && (info->optional >> i) & 1u) continue;
        mt_status status = tensor_ok(prog, id, needs->need[i]);
        if (status != MT_OK) return status;
    }
    return MT_OK;
}

static int overlap(const mt_tensor *a, const mt_tensor *b)
{
    return a->nbytes && b->nbytes && a->offset < (uint64_t)b->offset + b->nbytes &&
           b->offset < (uint64_t)a->offset + a->nbytes;
}

/* The declared in-place pair may share bytes, but only exactly (same start). */
static int in_place_pair(const mt_op_info *info, int a, int b, const mt_tensor *ta,
                         const mt_tensor *tb)
{
    int declared = (a == info->in_place_write && b == info->in_place_read) ||
                   (b == info->in_place_write && a == info->in_place_read);
    return declared && ta->offset == tb->offset;
}

/* A slot the op writes may not overlap any other slot it uses. */
static mt_status aliasing_ok(const mt_program *prog, const mt_op_info *info, const mt_op *op,
                             int n_slots)
{
    for (int a = 0; a < n_slots; a++) {
        if (op->t[a] == MT_NO_TENSOR) continue;
        for (int b = a + 1; b < n_slots; b++) {
            if (op->t[b] == MT_NO_TENSOR) continue;
            if (!((info->role[a] | info->role[b]) & MT_SLOT_WRITE)) continue;
            const mt_tensor *ta = &prog->tensors[op->t[a]], *tb = &prog->tensors[op->t[b]];
            if (overlap(ta, tb) && !in_place_pair(info, a, b, ta, tb)) return MT_ERR_ALIAS;
        }
    }
    return MT_OK;
}

int mt_op_validate(const mt_program *prog, const mt_op *op)
{
    const mt_op_info *info = mt_op_lookup(op->kind);
    mt_op_needs needs;
    if (!info || op->phase > MT_PHASE_APPLY || !unused_params_zero(info, op)) return MT_ERR_BAD_OP;
    mt_status status = info->needs(op, &needs);
    if (status == MT_OK && needs.n_slots > info->max_slots) status = MT_ERR_BAD_OP;
    if (status == MT_OK) status = slots_ok(prog, info, op, &needs);
    if (status == MT_OK) status = aliasing_ok(prog, info, op, needs.n_slots);
    return status;
}

int mt_program_validate(const mt_program *prog)
{
    if (!prog->ops || !prog->tensors) return MT_ERR_BAD_OP;
    for (uint32_t i = 0; i < prog->n_tensors; i++)
        if (!tensor_in_arena(prog, &prog->tensors[i])) return MT_ERR_BAD_TENSOR;
    for (uint32_t i = 0; i < prog->n_ops; i++) {
        int status = mt_op_validate(prog, &prog->ops[i]);
        if (status != MT_OK) return status;
    }
    mt_status status = tensor_ok(prog, prog->input, 4);
    if (status == MT_OK) status = tensor_ok(prog, prog->labels, 4);
    if (status == MT_OK) status = tensor_ok(prog, prog->metrics, 2 * 4u);
    if (status == MT_OK) status = tensor_ok(prog, prog->output, 4);
    return status;
}
