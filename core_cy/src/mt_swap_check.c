/* mt_swap_check: a schedule is simulated against a model of the strictest
 * backend (the POSIX file ring: first in, first out, slots released in order),
 * in O(n_events * max_in_flight) time and a fixed stack ring, no allocation. */
#include "mt_swap.h"

typedef struct {
    uint16_t tag[MT_SWAP_MAX_IN_FLIGHT];
    uint8_t waited[MT_SWAP_MAX_IN_FLIGHT];
    const mt_swap_event *read[MT_SWAP_MAX_IN_FLIGHT];
    uint32_t submitted, released, cap;  /* monotonic; slot = counter % cap */
} read_ring;

static int overlaps(const mt_swap_event *a, const mt_swap_event *b)
{
    return a->nbytes && b->nbytes && (uint64_t)a->arena_offset < (uint64_t)b->arena_offset + b->nbytes &&
           (uint64_t)b->arena_offset < (uint64_t)a->arena_offset + a->nbytes;
}

/* Index of the unwaited read with `tag`, or ring->submitted. */
static uint32_t pending(const read_ring *ring, uint16_t tag)
{
    for (uint32_t i = ring->released; i != ring->submitted; i++)
        if (!ring->waited[i % ring->cap] && ring->tag[i % ring->cap] == tag) return i;
    return ring->submitted;
}

/* No event may read into, or write from, bytes an unwaited read is filling. */
static int touches_read_in_flight(const read_ring *ring, const mt_swap_event *ev)
{
    for (uint32_t i = ring->released; i != ring->submitted; i++)
        if (!ring->waited[i % ring->cap] && ev->action != MT_SWAP_READ_WAIT &&
            overlaps(ring->read[i % ring->cap], ev))
            return 1;
    return 0;
}

/* NULL, or why the ring refuses the event. */
static const char *replay(read_ring *ring, const mt_swap_event *ev)
{
    if (touches_read_in_flight(ring, ev)) return "touches arena bytes a read in flight is filling";
    if (ev->action == MT_SWAP_READ_START) {
        if (ring->submitted - ring->released >= ring->cap) return "more reads queued than the storage holds";
        if (pending(ring, ev->tag) != ring->submitted) return "its tag is already in flight";
        uint32_t slot = ring->submitted++ % ring->cap;
        ring->tag[slot] = ev->tag;
        ring->waited[slot] = 0;
        ring->read[slot] = ev;
    } else if (ev->action == MT_SWAP_READ_WAIT) {
        uint32_t index = pending(ring, ev->tag);
        if (index == ring->submitted) return "waits for a tag with no read in flight";
        ring->waited[index % ring->cap] = 1;
        while (ring->released != ring->submitted && ring->waited[ring->released % ring->cap])
            ring->released++;
    }
    return NULL;
}

static const char *event_problem(const mt_swap_event *ev, const mt_swap_event *prev, uint32_t n_ops,
                                 uint32_t arena_bytes, uint32_t flash_bytes)
{
    if (ev->op >= n_ops || ev->when > MT_SWAP_AFTER_OP || ev->action > MT_SWAP_WRITE)
        return "op, timing or action not valid";
    if ((uint64_t)ev->arena_offset + ev->nbytes > arena_bytes) return "lies outside the arena";
    if ((uint64_t)ev->flash_offset + ev->nbytes > flash_bytes) return "lies outside the flash";
    if (prev && (prev->op > ev->op || (prev->op == ev->op && prev->when > ev->when)))
        return "not sorted by (op, when)";
    return NULL;
}

static int refuse(uint32_t *bad_event, const char **why, uint32_t index, const char *problem)
{
    if (bad_event) *bad_event = index;
    if (why) *why = problem;
    return MT_ERR_BAD_OP;
}

int mt_swap_check(const mt_swap_event *events, uint32_t n_events, uint32_t n_ops,
                  uint32_t arena_bytes, uint32_t flash_bytes, uint32_t max_in_flight,
                  uint32_t *bad_event, const char **why)
{
    read_ring ring;
    if ((n_events && !events) || max_in_flight == 0 || max_in_flight > MT_SWAP_MAX_IN_FLIGHT)
        return refuse(bad_event, why, 0, "no events, or a read queue size out of range");
    ring.submitted = ring.released = 0;
    ring.cap = max_in_flight;
    for (uint32_t i = 0; i < n_events; i++) {
        const mt_swap_event *ev = &events[i];
        const char *problem = event_problem(ev, i ? ev - 1 : NULL, n_ops, arena_bytes, flash_bytes);
        if (!problem) problem = replay(&ring, ev);
        if (problem) return refuse(bad_event, why, i, problem);
    }
    if (ring.released != ring.submitted)
        return refuse(bad_event, why, n_events, "a read is still in flight when the iteration ends");
    return MT_OK;
}
