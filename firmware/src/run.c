#include <stdio.h>
#include <string.h>
#include "run.h"

int run_plan(uint32_t tran_epochs, uint32_t tran_iterations, uint32_t n_samples, uint32_t batch,
             uint32_t epochs, uint32_t iterations, uint32_t *per_epoch, uint32_t *total,
             uint32_t *target_epochs, char *err, uint32_t err_len)
{
    uint32_t whole = n_samples / batch;
    if (whole == 0) {
        snprintf(err, err_len, "%lu samples are fewer than one batch of %lu",
                 (unsigned long)n_samples, (unsigned long)batch);
        return -1;
    }
    *per_epoch = tran_iterations ? tran_iterations : whole;
    if (*per_epoch > whole) {
        snprintf(err, err_len, "the bundle asks %lu iterations per epoch, %lu samples give only %lu batches",
                 (unsigned long)*per_epoch, (unsigned long)n_samples, (unsigned long)whole);
        return -1;
    }
    if (iterations) {
        *total = iterations;
        *target_epochs = (iterations + *per_epoch - 1) / *per_epoch;
        return 0;
    }
    *target_epochs = epochs ? epochs : (tran_epochs ? tran_epochs : 1);
    *total = *per_epoch * *target_epochs;
    return 0;
}

void run_init(run_state *run, uint32_t per_epoch, uint32_t total, uint32_t target_epochs,
              uint32_t checkpoint_every, uint32_t n_samples, uint32_t seed, int shuffle, uint32_t iteration)
{
    memset(run, 0, sizeof(*run));
    run->per_epoch = per_epoch;
    run->total = total;
    run->target_epochs = target_epochs;
    run->checkpoint_every = checkpoint_every;
    run->n_samples = n_samples;
    run->seed = seed;
    run->shuffle = shuffle;
    run->iteration = iteration;
    run->chunk = 1;
}

uint32_t run_epoch(const run_state *run) { return run->iteration / run->per_epoch; }

uint32_t run_shown_epoch(const run_state *run)
{
    return run->iteration ? (run->iteration - 1) / run->per_epoch + 1 : 1;
}

int run_done(const run_state *run) { return run->iteration >= run->total; }

void run_next_chunk(const run_state *run, uint32_t *first_batch, uint32_t *n_iter)
{
    uint32_t end = (run_epoch(run) + 1) * run->per_epoch;
    if (end > run->total) end = run->total;
    if (run->checkpoint_every) {
        uint32_t next = (run->iteration / run->checkpoint_every + 1) * run->checkpoint_every;
        if (next < end) end = next;
    }
    *first_batch = run->iteration % run->per_epoch;
    *n_iter = end - run->iteration < run->chunk ? end - run->iteration : run->chunk;
}

int run_record(run_state *run, uint32_t n_iter, double loss, double correct, uint32_t batch, uint32_t ms)
{
    if (ms == 0) ms = 1;
    run->iteration += n_iter;
    run->loss += loss;
    run->correct += correct;
    run->iters += n_iter;
    run->samples += n_iter * batch;
    run->ms += ms;
    /* next chunk: about RUN_CHUNK_MS of work, at most double the last one */
    uint32_t fit = (uint32_t)((uint64_t)n_iter * RUN_CHUNK_MS / ms);
    uint32_t chunk = run->chunk * 2;
    if (fit < chunk) chunk = fit;
    if (chunk > RUN_MAX_CHUNK) chunk = RUN_MAX_CHUNK;
    run->chunk = chunk ? chunk : 1;
    return run->iteration % run->per_epoch == 0 || run_done(run);
}

void run_figures(run_state *run, uint32_t batch, float *loss, float *accuracy, float *rate)
{
    *loss = run->iters ? (float)(run->loss / run->iters) : 0.0f;
    *accuracy = run->iters ? (float)(run->correct / ((double)run->iters * batch)) : 0.0f;
    *rate = run->ms ? (float)(run->samples * 1000.0 / run->ms) : 0.0f;
    run->samples = 0;
    run->ms = 0;
}

void run_new_epoch(run_state *run)
{
    run->loss = run->correct = 0.0;
    run->iters = 0;
    run->samples = 0;
    run->ms = 0;
}

int run_checkpoint_due(const run_state *run)
{
    return run->checkpoint_every && run->iteration % run->checkpoint_every == 0;
}
