/* Where a training run stands, as board/run.py: the plan (iterations per epoch,
 * total, checkpoint cadence), the global iteration, the chunk size and the
 * current epoch's running figures. */
#ifndef RUN_H
#define RUN_H

#include <stdint.h>

#define RUN_CHUNK_MS 20u
#define RUN_MAX_CHUNK 4096u

typedef struct {
    uint32_t per_epoch, total, target_epochs, checkpoint_every;
    uint32_t n_samples, seed;
    int shuffle;
    uint32_t iteration;
    uint32_t chunk;
    double loss, correct;          /* sums over the epoch so far */
    uint32_t iters, samples, ms;   /* epoch iterations; samples and ms since the last PROGRESS */
} run_state;

/* -> 0, or fills err and returns -1 (PlanError in board/run.py). */
int run_plan(uint32_t tran_epochs, uint32_t tran_iterations, uint32_t n_samples, uint32_t batch,
             uint32_t epochs, uint32_t iterations, uint32_t *per_epoch, uint32_t *total,
             uint32_t *target_epochs, char *err, uint32_t err_len);
void run_init(run_state *run, uint32_t per_epoch, uint32_t total, uint32_t target_epochs,
              uint32_t checkpoint_every, uint32_t n_samples, uint32_t seed, int shuffle, uint32_t iteration);
uint32_t run_epoch(const run_state *run);          /* epochs completed */
uint32_t run_shown_epoch(const run_state *run);    /* 1-based epoch of the last iteration done */
int run_done(const run_state *run);
void run_next_chunk(const run_state *run, uint32_t *first_batch, uint32_t *n_iter);
int run_record(run_state *run, uint32_t n_iter, double loss, double correct, uint32_t batch, uint32_t ms);
void run_figures(run_state *run, uint32_t batch, float *loss, float *accuracy, float *rate);
void run_new_epoch(run_state *run);
int run_checkpoint_due(const run_state *run);

#endif
