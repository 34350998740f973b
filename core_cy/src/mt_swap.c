/* microtrain swap runtime: replays a planned event list around each op.
 * The cursor only moves forward within an iteration; nothing is allocated. */
#include "mt_swap.h"

#include <stddef.h>

void mt_swap_init(mt_swap_runtime *rt, const mt_swap_event *events, uint32_t n_events,
                  uint8_t *arena, const mt_storage *storage)
{
    rt->events = events;
    rt->n_events = n_events;
    rt->next = 0;
    rt->arena = arena;
    rt->storage = storage;
    rt->bytes_read = 0;
    rt->bytes_written = 0;
}

mt_hooks mt_swap_hooks(mt_swap_runtime *rt)
{
    mt_hooks hooks;
    hooks.iteration_start = mt_swap_iteration_start;
    hooks.before_op = mt_swap_before_op;
    hooks.after_op = mt_swap_after_op;
    hooks.ctx = rt;
    return hooks;
}

static int perform(mt_swap_runtime *rt, const mt_swap_event *ev)
{
    const mt_storage *st = rt->storage;
    uint8_t *bytes = rt->arena + ev->arena_offset;
    int status;
    switch (ev->action) {
    case MT_SWAP_READ_START:
        status = st->read_start(st->ctx, ev->flash_offset, bytes, ev->nbytes, ev->tag);
        if (status == 0) rt->bytes_read += ev->nbytes;
        break;
    case MT_SWAP_READ_WAIT:
        status = st->read_wait(st->ctx, ev->tag);
        break;
    case MT_SWAP_WRITE:
        status = st->write(st->ctx, ev->flash_offset, bytes, ev->nbytes);
        if (status == 0) rt->bytes_written += ev->nbytes;
        break;
    default:
        status = -1;
    }
    return status == 0 ? MT_OK : MT_ERR_IO;
}

/* Events are sorted by (op, when): replay every event up to and including (op, when). */
static int replay_through(mt_swap_runtime *rt, uint32_t op, uint8_t when)
{
    while (rt->next < rt->n_events) {
        const mt_swap_event *ev = &rt->events[rt->next];
        if (ev->op > op || (ev->op == op && ev->when > when)) break;
        rt->next++;
        int status = perform(rt, ev);
        if (status != MT_OK) return status;
    }
    return MT_OK;
}

int mt_swap_iteration_start(void *ctx)
{
    /* The previous iteration ended with all its events replayed (full TRAIN
       run, or mt_swap_finish after a partial one): replay from the start. */
    ((mt_swap_runtime *)ctx)->next = 0;
    return MT_OK;
}

int mt_swap_before_op(void *ctx, uint32_t op_index)
{
    return replay_through((mt_swap_runtime *)ctx, op_index, MT_SWAP_BEFORE_OP);
}

int mt_swap_after_op(void *ctx, uint32_t op_index)
{
    return replay_through((mt_swap_runtime *)ctx, op_index, MT_SWAP_AFTER_OP);
}

int mt_swap_finish(mt_swap_runtime *rt)
{
    return replay_through(rt, UINT32_MAX, MT_SWAP_AFTER_OP);
}
