/* microtrain op table: one row per op kind says which tensor slots the op has,
 * what it does to each (read / write), how many params it takes, how its
 * params size its tensors and which function runs it. Validation, the
 * executor and the Python layer (core_cy.OP_KINDS) all read this one table. */
#ifndef MT_OPS_H
#define MT_OPS_H

#include <stdint.h>
#include "mt_program.h"

enum mt_slot_role {
    MT_SLOT_NONE = 0,
    MT_SLOT_READ = 1,
    MT_SLOT_WRITE = 2,
    MT_SLOT_READ_WRITE = 3   /* MT_SLOT_READ | MT_SLOT_WRITE */
};

/* Bytes each slot must hold, and how many leading slots this op uses
 * (ADD's input count and SGD's momentum slot depend on the op). */
typedef struct {
    uint64_t need[MT_OP_MAX_TENSORS];
    uint8_t n_slots;
} mt_op_needs;

/* Checks params and fills needs; MT_ERR_BAD_OP when params are invalid. */
typedef mt_status (*mt_op_needs_fn)(const mt_op *op, mt_op_needs *needs);
/* Runs the kernel; slot[i] points into the arena (NULL for MT_NO_TENSOR). */
typedef void (*mt_op_run_fn)(const mt_op *op, void *const *slot, int mode);

typedef struct {
    uint16_t kind;                        /* enum mt_op_kind */
    const char *name;                     /* e.g. "FC_FWD": the planner's name */
    uint8_t max_slots;
    uint8_t role[MT_OP_MAX_TENSORS];      /* enum mt_slot_role per slot */
    uint8_t optional;                     /* bit i: slot i may be MT_NO_TENSOR */
    uint8_t n_params, n_floats;           /* p[] / f[] beyond these must be zero */
    int8_t in_place_write, in_place_read; /* slots that may share bytes exactly; -1: none */
    mt_op_needs_fn needs;
    mt_op_run_fn run;
} mt_op_info;

/* The row for `kind`, or NULL for an unknown kind. */
const mt_op_info *mt_op_lookup(uint16_t kind);

/* Rows in table order (for listing kinds): index < mt_op_count(). */
uint32_t mt_op_count(void);
const mt_op_info *mt_op_at(uint32_t index);

#endif
