/* The one check of a swap schedule, shared by the bundle reader and the
 * runtime's callers: fields, bounds, order, read/wait pairing and the number
 * of reads a first-in-first-out backend must hold. */
#include "mt_swap.h"

static mt_status found(mt_swap_fault *fault, mt_swap_problem problem, uint32_t event)
{
    fault->problem = problem;
    fault->event = event;
    return MT_ERR_BAD_SWAP;
}

static mt_swap_problem event_problem(const mt_swap_event *events, uint32_t i,
                                     const mt_swap_limits *limits)
{
    const mt_swap_event *e = &events[i];
    if (e->op >= limits->n_ops || e->when > MT_SWAP_AFTER_OP || e->action > MT_SWAP_WRITE)
        return MT_SWAP_PROBLEM_FIELDS;
    if ((uint64_t)e->arena_offset + e->nbytes > limits->arena_bytes) return MT_SWAP_PROBLEM_ARENA;
    if ((uint64_t)e->flash_offset + e->nbytes > limits->storage_bytes) return MT_SWAP_PROBLEM_STORAGE;
    /* the runtime replays with one forward cursor: order is (op, when) */
    if (i > 0 && (events[i - 1].op > e->op ||
                  (events[i - 1].op == e->op && events[i - 1].when > e->when)))
        return MT_SWAP_PROBLEM_ORDER;
    return MT_SWAP_PROBLEM_NONE;
}

/* Index of the next event after `start` with the same tag that starts or waits
 * for a read, or n_events. */
static uint32_t next_same_tag(const mt_swap_event *events, uint32_t n_events, uint32_t start)
{
    for (uint32_t i = start + 1; i < n_events; i++)
        if (events[i].action != MT_SWAP_WRITE && events[i].tag == events[start].tag) return i;
    return n_events;
}

/* Every read is waited for before its tag starts another read, and every
 * wait has its read: each read claims the next event with its tag as its wait
 * (no two reads can claim the same one), so equal counts leave no wait over. */
static mt_status pairing_ok(const mt_swap_event *events, uint32_t n_events, mt_swap_fault *fault)
{
    uint32_t starts = 0, waits = 0;
    for (uint32_t i = 0; i < n_events; i++) {
        if (events[i].action == MT_SWAP_READ_WAIT) waits++;
        if (events[i].action != MT_SWAP_READ_START) continue;
        starts++;
        uint32_t next = next_same_tag(events, n_events, i);
        if (next == n_events) return found(fault, MT_SWAP_PROBLEM_UNWAITED, i);
        if (events[next].action == MT_SWAP_READ_START) return found(fault, MT_SWAP_PROBLEM_TAG_REUSED, next);
    }
    if (waits != starts) return found(fault, MT_SWAP_PROBLEM_UNMATCHED, n_events - 1);
    return MT_OK;
}

/* Index of the first read start at or after `from`, or n_events. */
static uint32_t read_from(const mt_swap_event *events, uint32_t n_events, uint32_t from)
{
    for (uint32_t i = from; i < n_events; i++)
        if (events[i].action == MT_SWAP_READ_START) return i;
    return n_events;
}

/* Reads queued at worst: when read k starts, reads first..k hold slots, where
 * `first` is the oldest read not yet released (released = it and every earlier
 * read were waited for: the latest of their waits lies before now). */
static uint32_t fifo_slots(const mt_swap_event *events, uint32_t n_events)
{
    uint32_t first_event = read_from(events, n_events, 0);
    if (first_event == n_events) return 0;
    uint32_t released_at = next_same_tag(events, n_events, first_event);
    uint32_t first = 0, started = 0, worst = 0;
    for (uint32_t now = first_event; now < n_events; now = read_from(events, n_events, now + 1)) {
        while (released_at < now) {
            first_event = read_from(events, n_events, first_event + 1);
            uint32_t waited_at = next_same_tag(events, n_events, first_event);
            if (waited_at > released_at) released_at = waited_at;
            first++;
        }
        started++;
        if (started - first > worst) worst = started - first;
    }
    return worst;
}

mt_status mt_swap_check(const mt_swap_event *events, uint32_t n_events,
                        const mt_swap_limits *limits, mt_swap_fault *fault)
{
    fault->problem = MT_SWAP_PROBLEM_NONE;
    fault->event = 0;
    fault->reads_queued = 0;
    if (n_events == 0) return MT_OK;
    for (uint32_t i = 0; i < n_events; i++) {
        mt_swap_problem problem = event_problem(events, i, limits);
        if (problem != MT_SWAP_PROBLEM_NONE) return found(fault, problem, i);
    }
    mt_status status = pairing_ok(events, n_events, fault);
    if (status != MT_OK) return status;
    fault->reads_queued = fifo_slots(events, n_events);
    if (fault->reads_queued > limits->max_reads_queued)
        return found(fault, MT_SWAP_PROBLEM_QUEUE, 0);
    return MT_OK;
}

const char *mt_swap_problem_str(mt_swap_problem problem)
{
    switch (problem) {
    case MT_SWAP_PROBLEM_NONE: return "ok";
    case MT_SWAP_PROBLEM_FIELDS: return "op, when or action not valid";
    case MT_SWAP_PROBLEM_ARENA: return "bytes outside the arena";
    case MT_SWAP_PROBLEM_STORAGE: return "bytes outside the storage";
    case MT_SWAP_PROBLEM_ORDER: return "not sorted by (op, when)";
    case MT_SWAP_PROBLEM_TAG_REUSED: return "read tag reused before its wait";
    case MT_SWAP_PROBLEM_UNWAITED: return "read never waited for";
    case MT_SWAP_PROBLEM_UNMATCHED: return "wait without a pending read of its tag";
    case MT_SWAP_PROBLEM_QUEUE: return "more reads queued than the storage holds";
    }
    return "unknown problem";
}
