"""Flash homes: each swapped tensor gets a flash range that holds its value while evicted.

Tensors whose flash copies are never needed at the same time share flash bytes (planned
like the arena). A flash copy is needed from its write-back to the last read of that
version (inclusive ops, so a write after op k never lands on a copy read before op k);
a persistent tensor resting in flash needs its copy for the whole iteration.
"""
from __future__ import annotations

from typing import Callable, Sequence

from host_tools.planning import Buffer, Plan

from .residency import Residency


def _version_spans(residency: Residency) -> list[tuple[int, int]]:
    """(write op, last read op) of each value a non-persistent tensor writes to flash."""
    spans: list[list[int]] = []
    for segment in residency.segments:
        if segment.read_in:
            spans[-1][1] = segment.first_op
        if segment.write_out:
            spans.append([segment.last_op, segment.last_op])
    return [tuple(span) for span in spans]


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


def flash_buffers(residencies: dict[int, Residency], sizes: dict[int, int], persistent: set[int],
                  n_ops: int) -> list[Buffer]:
    found = []
    for tid, residency in residencies.items():
        if not (residency.reads or residency.writes):
            continue
        if tid in persistent:
            intervals: tuple[tuple[int, int], ...] = ((0, n_ops - 1),)
        else:
            intervals = _merge(_version_spans(residency))
        found.append(Buffer(tid, sizes[tid], intervals))
    return found


def plan_flash(buffers: Sequence[Buffer], planner: Callable[[Sequence[Buffer]], Plan]) -> Plan:
    if not buffers:
        return Plan("empty", {}, 0)
    return planner(buffers)
