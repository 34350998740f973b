"""Prefetch: start each flash read up to `lookahead` ops before its use, where the plan allows.

Offsets are already fixed, so a read may start at op s only if no tensor sharing its
bytes is resident at any op in s..use. Starting earlier never changes the arena size.
"""
from __future__ import annotations

from host_tools.planning import Buffer, Plan, align_up


def _byte_neighbours(buffers: dict[int, Buffer], plan: Plan, alignment: int) -> dict[int, list[int]]:
    spans = {bid: (plan.offsets[bid], plan.offsets[bid] + align_up(b.size, alignment)) for bid, b in buffers.items()}
    return {bid: [other for other, (lo, hi) in spans.items()
                  if other != bid and lo < spans[bid][1] and spans[bid][0] < hi]
            for bid in buffers}


def _resident(intervals: list[tuple[int, int]], op: int) -> bool:
    return any(first <= op <= last for first, last in intervals)


def prefetch_starts(buffers: list[Buffer], plan: Plan, reads: list[tuple[int, int]],
                    lookahead: int, alignment: int) -> tuple[list[Buffer], dict[tuple[int, int], int]]:
    """Widen the buffers for the reads (tensor, use_op); returns new buffers and each read's start op."""
    by_id = {buffer.id: buffer for buffer in buffers}
    neighbours = _byte_neighbours(by_id, plan, alignment)
    intervals = {bid: list(buffer.intervals) for bid, buffer in by_id.items()}
    starts: dict[tuple[int, int], int] = {}
    for tid, use_op in sorted(reads, key=lambda read: read[1]):
        own = intervals[tid]
        index = next(i for i, (first, _) in enumerate(own) if first == use_op)
        floor = own[index - 1][1] + 1 if index > 0 else 0
        start = use_op
        while (start > floor and use_op - start < lookahead
               and not any(_resident(intervals[other], start - 1) for other in neighbours[tid])):
            start -= 1
        own[index] = (start, own[index][1])
        starts[(tid, use_op)] = start
    widened = [Buffer(bid, by_id[bid].size, tuple(intervals[bid])) for bid in by_id]
    return widened, starts
