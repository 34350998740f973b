/* microtrain swap runtime: performs a precomputed swap schedule against a
 * storage backend (a file on Linux, a flash driver on a microcontroller).
 * The planner decided everything; the runtime only replays events. */
#ifndef MT_SWAP_H
#define MT_SWAP_H

#include <stdint.h>
#include "mt_exec.h"

enum mt_swap_when { MT_SWAP_BEFORE_OP = 0, MT_SWAP_AFTER_OP = 1 };

enum mt_swap_action {
    MT_SWAP_READ_START = 0, /* begin copying flash -> arena (may be asynchronous) */
    MT_SWAP_READ_WAIT = 1,  /* block until the read with this event's tag is done */
    MT_SWAP_WRITE = 2       /* copy arena -> flash (synchronous: the bytes may be reused next) */
};

typedef struct {
    uint32_t op;            /* op index the event is attached to */
    uint8_t when;           /* enum mt_swap_when */
    uint8_t action;         /* enum mt_swap_action */
    uint16_t tag;           /* pairs a READ_START with its READ_WAIT */
    uint32_t arena_offset;
    uint32_t flash_offset;
    uint32_t nbytes;
} mt_swap_event;

/* Storage backend. A synchronous driver does the copy in read_start and
 * returns at once from read_wait. Return 0 on success. */
typedef struct {
    int (*read_start)(void *ctx, uint32_t flash_offset, uint8_t *dst, uint32_t nbytes, uint16_t tag);
    int (*read_wait)(void *ctx, uint16_t tag);
    int (*write)(void *ctx, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes);
    void *ctx;
} mt_storage;

/* Replays `events` (sorted by op, then when) through mt_hooks. */
typedef struct {
    const mt_swap_event *events;
    uint32_t n_events;
    uint32_t next;          /* cursor into events; reset at iteration start */
    uint8_t *arena;
    const mt_storage *storage;
    uint64_t bytes_read;    /* counters, cumulative */
    uint64_t bytes_written;
} mt_swap_runtime;

/* Binds a runtime to its schedule, the arena the events address and a backend.
 * Nothing is copied: events, arena and storage must outlive the runtime. */
void mt_swap_init(mt_swap_runtime *rt, const mt_swap_event *events, uint32_t n_events,
                  uint8_t *arena, const mt_storage *storage);

/* Hooks for mt_run / mt_train_loop with ctx = rt. The cursor rewinds at op 0.
 * Events of ops the executor skipped (EVAL runs only the forward ops) are
 * replayed, in order, before the next op that does run. */
mt_hooks mt_swap_hooks(mt_swap_runtime *rt);
int mt_swap_before_op(void *ctx, uint32_t op_index);
int mt_swap_after_op(void *ctx, uint32_t op_index);

/* Reads one schedule may keep queued: the POSIX file backend's request ring
 * (MT_FILE_QUEUE_CAP) and the bound mt_swap_check works within. */
#define MT_SWAP_MAX_IN_FLIGHT 256

/* Checks a schedule before it is bound to a runtime; MT_OK or MT_ERR_BAD_OP
 * with *bad_event (n_events: the end of the schedule) and *why, a phrase
 * naming the problem (both may be NULL).
 * Every event: known action and timing, op < n_ops, arena and flash ranges in
 * bounds, sorted by (op, when). Reads: a tag is not started again before its
 * wait, every wait has a read in flight, none is left in flight at the end,
 * a first-in-first-out ring of max_in_flight slots (<= MT_SWAP_MAX_IN_FLIGHT)
 * holds them, and no other event touches the arena bytes of a read in flight.
 * What passes runs on every backend without an I/O protocol error. */
int mt_swap_check(const mt_swap_event *events, uint32_t n_events, uint32_t n_ops,
                  uint32_t arena_bytes, uint32_t flash_bytes, uint32_t max_in_flight,
                  uint32_t *bad_event, const char **why);

/* Replays whatever events remain in this iteration (after an EVAL run that
 * stopped before the last op), so no read is left in flight. */
int mt_swap_finish(mt_swap_runtime *rt);

#endif
