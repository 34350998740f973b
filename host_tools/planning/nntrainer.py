"""NNTrainer's OptimizedV1 planner, re-expressed for inclusive op intervals.

Requests are taken by (start, end). Live blocks form a stack ordered by offset. Before each
request the expired blocks on top are popped; an expired block further down is reused only
if its size matches exactly, otherwise the request goes on top of the stack.

A multi-interval buffer is treated as resident over its whole hull (first op to last op):
the stack discipline has no notion of a block that leaves and comes back. This is always
safe, only sometimes wasteful.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .buffers import Buffer, Plan, align_up
from .ordered_placement import plan_from_offsets


@dataclass
class _Block:
    index: int
    offset: int
    size: int
    last_op: int


def _reusable_slot(stack: list[_Block], size: int, start: int) -> int | None:
    """Topmost expired block of exactly `size` bytes, as a stack position."""
    for position in range(len(stack) - 1, -1, -1):
        block = stack[position]
        if block.last_op < start and block.size == size:
            return position
    return None


def plan_nntrainer(buffers: Sequence[Buffer], alignment: int = 16) -> Plan:
    by_start_then_end = sorted(range(len(buffers)), key=lambda i: (buffers[i].start, buffers[i].end))
    stack: list[_Block] = []
    offsets = [0] * len(buffers)
    for i in by_start_then_end:
        size, start = align_up(buffers[i].size, alignment), buffers[i].start
        while stack and stack[-1].last_op < start:
            stack.pop()
        position = _reusable_slot(stack, size, start)
        if position is not None:
            offsets[i] = stack[position].offset
            stack[position] = _Block(i, offsets[i], size, buffers[i].end)
            continue
        offsets[i] = stack[-1].offset + stack[-1].size if stack else 0
        stack.append(_Block(i, offsets[i], size, buffers[i].end))
    return plan_from_offsets("nntrainer", buffers, offsets, alignment)
