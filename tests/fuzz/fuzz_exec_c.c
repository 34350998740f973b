/* libFuzzer target for "validated means safe": every bundle that mt_bundle_open
 * (reader + mt_program_validate + mt_swap_check) accepts is trained for two
 * iterations and evaluated once, with its swap schedule replayed against the
 * RAM storage backend. Arena and flash are malloc'd with
 * exactly the bundle's sizes, so under ASan any kernel or swap access outside
 * them is reported. The structure-aware mutator is in fuzz_exec_mutate.c; the
 * replay driver (gcc, no libFuzzer) in fuzz_replay_main.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mt_bundle.h"
#include "mt_storage_ram.h"
#include "mt_swap.h"

#define MAX_INPUT (1u << 20)
#define MAX_MEMORY (4u << 20)     /* arena or flash: larger bundles are skipped */
#define MAX_WORK 2e7              /* multiply-adds per iteration, bounds run time */
#define TRAIN_ITERATIONS 2

static double product(const int32_t *p, const int *which, int count)
{
    double total = 1.0;
    for (int i = 0; i < count; i++) total *= (double)p[which[i]];
    return total;
}

/* Upper bound on one op's inner-loop work (params are validated positive). */
static double op_work(const mt_op *op)
{
    static const int fc[] = {0, 1, 2};
    static const int conv[] = {0, 4, 11, 12, 1, 5, 6}; /* N OC OH OW C KH KW (C/G <= C) */
    static const int pool[] = {0, 1, 10, 11, 4, 5, 2, 3}; /* + the input plane for memsets */
    static const int bn[] = {0, 1, 2};
    static const int loss[] = {0, 1};
    switch (op->kind / 10) {
    case 0: return product(op->p, fc, 3);
    case 1: return product(op->p, conv, 7);
    case 2: return product(op->p, pool, 6) + product(op->p, pool + 6, 2) * op->p[0] * op->p[1];
    case 3: case 5: case 6: case 8: return 8.0 * op->p[0] * (op->kind / 10 == 3 ? op->p[1] : 1);
    case 4: return 4.0 * product(op->p, bn, 3);
    default: return product(op->p, loss, 2);
    }
}

static int affordable(const mt_bundle *b)
{
    double work = 0.0;
    if (b->program.arena_bytes > MAX_MEMORY || b->flash_bytes > MAX_MEMORY) return 0;
    for (uint32_t i = 0; i < b->program.n_ops; i++) work += op_work(&b->program.ops[i]);
    return work <= MAX_WORK;
}

static void apply_init(const mt_bundle *b, uint8_t *arena, uint8_t *flash)
{
    uint32_t cursor = 0;
    mt_init_record rec;
    while (mt_bundle_next_init(b, &cursor, &rec))
        memcpy((rec.where == MT_INIT_ARENA ? arena : flash) + rec.offset, rec.bytes, rec.nbytes);
}

/* The bundle's own data set, or one batch when it has none: inputs a fixed
 * spread of values (zeros would leave most activations, and any index a float
 * tensor stands in for, at 0), labels all class 0. */
static mt_dataset dataset_for(const mt_bundle *b, void **owned)
{
    mt_dataset data = b->data;
    *owned = NULL;
    if (b->has_data) return data;
    size_t x_numel = (size_t)b->batch * b->x_numel, x_bytes = x_numel * 4u;
    size_t y_bytes = (size_t)b->batch * b->y_bytes;
    *owned = calloc(1, x_bytes + y_bytes + 4u);
    for (size_t i = 0; i < x_numel; i++) ((float *)*owned)[i] = (float)((int)(i % 7u) - 3) * 0.75f;
    data.x = (const float *)*owned;
    data.y = (const uint8_t *)*owned + x_bytes;
    data.n_samples = b->batch;
    data.x_numel = b->x_numel;
    data.y_bytes = b->y_bytes;
    return data;
}

static void train_and_evaluate(const mt_bundle *b, uint8_t *arena, uint8_t *flash)
{
    void *owned;
    mt_dataset data = dataset_for(b, &owned);
    uint32_t n_order = data.n_samples < 4096 ? data.n_samples : 4096;
    int32_t *order = malloc(sizeof(int32_t) * n_order);
    for (uint32_t k = 0; k < n_order; k++) order[k] = (int32_t)k;
    mt_storage_ram ram;
    mt_storage_ram_init(&ram, flash, b->flash_bytes);
    mt_storage storage = mt_storage_ram_interface(&ram);
    mt_swap_runtime rt;
    mt_swap_init(&rt, b->swap_events, b->n_swap_events, arena, &storage);
    mt_hooks hooks = mt_swap_hooks(&rt);
    const mt_hooks *use = b->n_swap_events ? &hooks : NULL;
    float loss[TRAIN_ITERATIONS], correct[TRAIN_ITERATIONS];
    mt_train_loop(&b->program, arena, &data, order, n_order, 0, TRAIN_ITERATIONS, loss, correct, use);
    if (mt_load_batch(&b->program, arena, &data, order, n_order, 0) == MT_OK &&
        mt_run(&b->program, arena, MT_MODE_EVAL, use) == MT_OK && use)
        mt_swap_finish(&rt);
    free(order);
    free(owned);
}

static void run_bundle(const mt_bundle *b)
{
    /* Exactly sized (malloc(0) may return NULL: ask for 1 byte then). */
    uint8_t *arena = malloc(b->program.arena_bytes ? b->program.arena_bytes : 1);
    uint8_t *flash = calloc(1, b->flash_bytes ? b->flash_bytes : 1);
    memset(arena, 0, b->program.arena_bytes);
    apply_init(b, arena, flash);
    train_and_evaluate(b, arena, flash);
    free(flash);
    free(arena);
}

/* What happened to the last input, for the replay driver's report. */
const char *fuzz_last_outcome = "";

static const char *try_bundle(const uint8_t *buf, size_t size)
{
    mt_bundle bundle;
    char err[160];
    if (mt_bundle_open(buf, (uint32_t)size, &bundle, err, sizeof err) != MT_OK)
        return "refused by mt_bundle_open";

    if (!affordable(&bundle)) return "skipped: too large to run";
    run_bundle(&bundle);
    return "ran";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    uint8_t *buf = malloc(size ? size : 1); /* malloc is 4-byte aligned, as the reader needs */
    memcpy(buf, data, size);
    fuzz_last_outcome = try_bundle(buf, size);
    free(buf);
    return 0;
}
