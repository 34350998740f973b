/* microtrain executor: walks a program's op list over one static arena.
 * No allocation, no globals: everything lives in the caller's structs. */
#ifndef MT_EXEC_H
#define MT_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include "mt_program.h"

typedef struct {
    const mt_op *ops;
    uint32_t n_ops;
    const mt_tensor *tensors;
    uint32_t n_tensors;
    uint32_t arena_bytes;
    int32_t input;    /* tensor the loader fills with a batch of samples */
    int32_t labels;   /* tensor the loader fills with the batch's labels */
    int32_t metrics;  /* float[2]: loss, correct (zeroed before each iteration) */
    int32_t output;   /* the model's prediction (probabilities or outputs) */
    uint32_t micro_batches; /* passes per iteration, gradients accumulated (0 or 1: one) */
} mt_program;

/* Optional callbacks, e.g. the swap schedule: iteration_start runs when a run or
 * pass begins (rewind: op 0 may be skipped, e.g. a backward op in EVAL),
 * before_op before op i (bring tensors into the arena), after_op after it
 * (write back, evict). A non-zero return aborts the iteration with that status.
 * Any of them may be NULL. */
typedef struct {
    int (*iteration_start)(void *ctx);
    int (*before_op)(void *ctx, uint32_t op_index);
    int (*after_op)(void *ctx, uint32_t op_index);
    void *ctx;
} mt_hooks;

/* A data set in caller memory; the loader copies samples order[k] into the
 * program's input and labels tensors. */
typedef struct {
    const float *x;          /* n_samples * x_numel */
    const uint8_t *y;        /* n_samples * y_bytes (int32 index or float32 targets) */
    uint32_t n_samples;
    uint32_t x_numel;
    uint32_t y_bytes;
} mt_dataset;

/* Checks every op's kind, arity, tensor ids, and that each tensor lies inside
 * the arena, is 4-byte aligned and is large enough for the op's params.
 * Must pass before mt_run is called; mt_run itself does not re-check. */
int mt_program_validate(const mt_program *prog);

/* Checks one op against the program's tensor table (what mt_program_validate
 * runs for each op); lets a loader report which op is bad. */
int mt_op_validate(const mt_program *prog, const mt_op *op);

/* Runs one iteration: all ops in TRAIN mode, forward-phase ops in EVAL mode. */
int mt_run(const mt_program *prog, uint8_t *arena, int mode, const mt_hooks *hooks);

/* Runs pass `pass` (0 .. micro_batches-1) of a TRAIN iteration over the
 * micro-batch already loaded: metrics are zeroed on pass 0 and APPLY ops run on
 * the last pass only (their hooks run on every pass, so a swap schedule
 * replays whole). mt_run(TRAIN) is the last pass alone. */
int mt_run_pass(const mt_program *prog, uint8_t *arena, uint32_t pass, const mt_hooks *hooks);

/* Copies batch `batch_index` of `order` (batch = samples per iteration, taken
 * from the input tensor size) into the input and labels tensors. */
int mt_load_batch(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                  const int32_t *order, uint32_t n_order, uint32_t batch_index);

/* Trains n_iter iterations (each micro_batches passes over consecutive
 * micro-batches of `order`, batch_index counting micro-batches) starting at batch first_batch of `order`
 * (wrapping around), writing each iteration's loss and correct count. */
int mt_train_loop(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                  const int32_t *order, uint32_t n_order, uint32_t first_batch,
                  uint32_t n_iter, float *loss_out, float *correct_out,
                  const mt_hooks *hooks);

#endif
