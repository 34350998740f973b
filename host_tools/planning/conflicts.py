"""Which buffers are resident at a common op and so may never share bytes."""
from __future__ import annotations

from typing import Sequence

from .buffers import Buffer


def conflict_lists(buffers: Sequence[Buffer]) -> list[list[int]]:
    """For each buffer index, the indices of buffers whose residency intersects it."""
    by_start = sorted(range(len(buffers)), key=lambda i: buffers[i].start)
    conflicts: list[list[int]] = [[] for _ in buffers]
    for rank, i in enumerate(by_start):
        hull_end = buffers[i].end
        # Later-starting buffers beyond our hull cannot intersect any of our intervals.
        for j in by_start[rank + 1:]:
            if buffers[j].start > hull_end:
                break
            if buffers[i].overlaps(buffers[j]):
                conflicts[i].append(j)
                conflicts[j].append(i)
    return conflicts
