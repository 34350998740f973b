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

/* Reads a schedule may keep queued (started, not yet released): a read's slot
 * is released once it and every earlier read were waited for (first in, first
 * out). Every storage backend holds at least this many; the bundle reader
 * refuses schedules that need more. */
#define MT_SWAP_MAX_READS_QUEUED 256u

/* What is wrong with a schedule (mt_swap_check). */
typedef enum {
    MT_SWAP_PROBLEM_NONE = 0,
    MT_SWAP_PROBLEM_FIELDS,     /* op index, when or action out of range */
    MT_SWAP_PROBLEM_ARENA,      /* bytes outside the arena */
    MT_SWAP_PROBLEM_STORAGE,    /* bytes outside the storage */
    MT_SWAP_PROBLEM_ORDER,      /* not sorted by (op, when) */
    MT_SWAP_PROBLEM_TAG_REUSED, /* a read started with a tag whose read was not waited for */
    MT_SWAP_PROBLEM_UNWAITED,   /* a read never waited for within the iteration */
    MT_SWAP_PROBLEM_UNMATCHED,  /* a wait for a tag with no read pending */
    MT_SWAP_PROBLEM_QUEUE,      /* more reads queued than the storage holds */
    MT_SWAP_PROBLEM_IN_FLIGHT   /* writes out bytes a read in flight is filling */
} mt_swap_problem;

typedef struct {
    uint32_t n_ops;
    uint32_t arena_bytes;
    uint32_t storage_bytes;
    uint32_t max_reads_queued;  /* the backend's capacity (MT_SWAP_MAX_READS_QUEUED or more) */
} mt_swap_limits;

typedef struct {
    mt_swap_problem problem;
    uint32_t event;          /* index of the offending event */
    uint32_t reads_queued;   /* reads the schedule keeps queued at most */
} mt_swap_fault;

/* Checks a whole schedule against the limits: what the bundle reader accepts
 * and what the runtime can replay are decided here only. Returns MT_OK, or
 * MT_ERR_BAD_SWAP with *fault naming the problem. No allocation; time grows
 * with events x (events between a read's start and its wait). */
mt_status mt_swap_check(const mt_swap_event *events, uint32_t n_events,
                        const mt_swap_limits *limits, mt_swap_fault *fault);

/* One line describing a problem, e.g. for "swap event 3: <text>". */
const char *mt_swap_problem_str(mt_swap_problem problem);

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

/* Hooks for mt_run / mt_train_loop with ctx = rt. The cursor rewinds when a
 * run or pass starts (mt_swap_iteration_start), whichever op runs first.
 * Events of ops the executor skipped (EVAL runs only the forward ops) are
 * replayed, in order, before the next op that does run. */
mt_hooks mt_swap_hooks(mt_swap_runtime *rt);
int mt_swap_iteration_start(void *ctx);
int mt_swap_before_op(void *ctx, uint32_t op_index);
int mt_swap_after_op(void *ctx, uint32_t op_index);

/* Replays whatever events remain in this iteration (after an EVAL run that
 * stopped before the last op), so no read is left in flight. */
int mt_swap_finish(mt_swap_runtime *rt);

#endif
