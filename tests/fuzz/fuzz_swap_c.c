/* libFuzzer target for the swap runtime alone: random schedules against the
 * runtime's own check. Every schedule mt_swap_check accepts is replayed (two
 * TRAIN iterations, then an EVAL pass that skips some ops, then
 * mt_swap_finish) against a strict model of the POSIX file backend: a FIFO
 * ring of max_in_flight slots, tags unique while in flight, no wait without a
 * read, no write copying out bytes a read is still filling, nothing in flight
 * at the end of an iteration. Any breach aborts; arena and flash are malloc'd
 * exactly, so ASan reports any copy outside them.
 * Input: [n_ops, max_in_flight, eval_mask, arena/4, flash/4, pad x3] then
 * 6-byte events [op, when | action << 1, tag, nbytes/4, arena_offset/4, flash_offset/4]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mt_swap.h"

#define HEADER 8u
#define EVENT 6u
#define MAX_EVENTS 512u

typedef struct {
    uint8_t *arena, *flash;
    uint32_t arena_bytes, flash_bytes, cap;
    struct { uint16_t tag; uint8_t waited; uint32_t at, nbytes; } ring[MT_SWAP_MAX_READS_QUEUED];
    uint32_t submitted, released;   /* monotonic, slot = counter % cap */
} strict_backend;

static int overlaps_read_in_flight(const strict_backend *b, uint32_t at, uint32_t nbytes)
{
    for (uint32_t i = b->released; i != b->submitted; i++) {
        uint32_t s = i % b->cap;
        if (!b->ring[s].waited && nbytes && b->ring[s].nbytes &&
            at < b->ring[s].at + b->ring[s].nbytes && b->ring[s].at < at + nbytes)
            return 1;
    }
    return 0;
}

static uint32_t find_pending(const strict_backend *b, uint16_t tag)
{
    for (uint32_t i = b->released; i != b->submitted; i++)
        if (!b->ring[i % b->cap].waited && b->ring[i % b->cap].tag == tag) return i;
    return b->submitted;
}

static int strict_read_start(void *ctx, uint32_t flash_offset, uint8_t *dst, uint32_t nbytes, uint16_t tag)
{
    strict_backend *b = ctx;
    uint32_t at = (uint32_t)(dst - b->arena);
    if (b->submitted - b->released >= b->cap || find_pending(b, tag) != b->submitted)
        abort(); /* the file backend would fail this read mid-iteration */
    uint32_t s = b->submitted++ % b->cap;
    b->ring[s].tag = tag;
    b->ring[s].waited = 0;
    b->ring[s].at = at;
    b->ring[s].nbytes = nbytes;
    memcpy(dst, b->flash + flash_offset, nbytes);
    return 0;
}

static int strict_read_wait(void *ctx, uint16_t tag)
{
    strict_backend *b = ctx;
    uint32_t index = find_pending(b, tag);
    if (index == b->submitted) abort(); /* a wait with no read in flight */
    b->ring[index % b->cap].waited = 1;
    while (b->released != b->submitted && b->ring[b->released % b->cap].waited) b->released++;
    return 0;
}

static int strict_write(void *ctx, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes)
{
    strict_backend *b = ctx;
    if (overlaps_read_in_flight(b, (uint32_t)(src - b->arena), nbytes)) abort();
    memcpy(b->flash + flash_offset, src, nbytes);
    return 0;
}

static uint32_t decode(const uint8_t *data, size_t size, mt_swap_event *events)
{
    uint32_t n = (uint32_t)((size - HEADER) / EVENT);
    if (n > MAX_EVENTS) n = MAX_EVENTS;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = data + HEADER + (size_t)i * EVENT;
        events[i].op = e[0];
        events[i].when = e[1] & 1u;
        events[i].action = (uint8_t)((e[1] >> 1) % 4u);  /* 3: unknown, on purpose */
        events[i].tag = e[2];
        events[i].nbytes = 4u * e[3];
        events[i].arena_offset = 4u * e[4];
        events[i].flash_offset = 4u * e[5];
    }
    return n;
}

static void run_iteration(mt_swap_runtime *rt, strict_backend *b, uint32_t n_ops, uint32_t run_mask)
{
    int status = mt_swap_iteration_start(rt);
    for (uint32_t op = 0; op < n_ops && status == MT_OK; op++) {
        if (!((run_mask >> op) & 1u)) continue;  /* EVAL skips backward ops */
        status = mt_swap_before_op(rt, op);
        if (status == MT_OK) status = mt_swap_after_op(rt, op);
    }
    if (status == MT_OK) status = mt_swap_finish(rt);
    if (status != MT_OK || b->released != b->submitted) abort(); /* accepted must run clean */
}

const char *fuzz_last_outcome = "";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mt_swap_event events[MAX_EVENTS];
    static strict_backend backend;
    if (size < HEADER) return 0;
    uint32_t n_ops = 1u + data[0] % 32u, cap = 1u + data[1] % 8u;
    uint32_t n = decode(data, size, events);
    backend.arena_bytes = 4u * data[3];
    backend.flash_bytes = 4u * data[4];
    fuzz_last_outcome = "refused by mt_swap_check";
    mt_swap_limits limits = {n_ops, backend.arena_bytes, backend.flash_bytes, cap};
    mt_swap_fault fault;
    if (mt_swap_check(events, n, &limits, &fault) != MT_OK) return 0;
    backend.arena = malloc(backend.arena_bytes ? backend.arena_bytes : 1);
    backend.flash = calloc(1, backend.flash_bytes ? backend.flash_bytes : 1);
    memset(backend.arena, 0, backend.arena_bytes);
    backend.cap = cap;
    backend.submitted = backend.released = 0;
    mt_storage storage = {strict_read_start, strict_read_wait, strict_write, &backend};
    mt_swap_runtime rt;
    mt_swap_init(&rt, events, n, backend.arena, &storage);
    run_iteration(&rt, &backend, n_ops, UINT32_MAX);
    run_iteration(&rt, &backend, n_ops, UINT32_MAX);
    run_iteration(&rt, &backend, n_ops, 1u | (uint32_t)data[2] << 1 | (uint32_t)data[5] << 9);
    free(backend.flash);
    free(backend.arena);
    fuzz_last_outcome = "ran";
    return 0;
}
