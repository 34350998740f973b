"""Placement orders tried by the optimal planner before it searches.

Each order is a list of buffer indices. No single order wins everywhere: largest-first suits
chains of activations, longest-first suits weights and optimizer state that live all run,
busiest-op-first puts the buffers that make up the peak down first.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .buffers import Buffer, align_up


def _peak_live_bytes_seen(buffers: Sequence[Buffer], sizes: list[int]) -> list[int]:
    """For each buffer, the most bytes resident at any op while it is resident."""
    first_op = min(buffer.start for buffer in buffers)
    last_op = max(buffer.end for buffer in buffers)
    deltas = np.zeros(last_op - first_op + 2, dtype=np.int64)
    for buffer, size in zip(buffers, sizes):
        for first, last in buffer.intervals:
            deltas[first - first_op] += size
            deltas[last - first_op + 1] -= size
    live = np.cumsum(deltas)
    return [max(int(live[first - first_op:last - first_op + 1].max()) for first, last in buffer.intervals)
            for buffer in buffers]


def candidate_orders(buffers: Sequence[Buffer], alignment: int) -> dict[str, list[int]]:
    if not buffers:
        return {"size": []}
    sizes = [align_up(buffer.size, alignment) for buffer in buffers]
    lengths = [buffer.resident_ops for buffer in buffers]
    pressure = _peak_live_bytes_seen(buffers, sizes)
    keys = {
        "size": lambda i: (-buffers[i].size, i),
        "length": lambda i: (-lengths[i], -sizes[i], i),
        "area": lambda i: (-sizes[i] * lengths[i], -sizes[i], i),
        "start": lambda i: (buffers[i].start, -sizes[i], i),
        "pressure": lambda i: (-pressure[i], -sizes[i], i),
        "pressure-length": lambda i: (-pressure[i], -lengths[i], -sizes[i], i),
    }
    indices = range(len(buffers))
    return {name: sorted(indices, key=key) for name, key in keys.items()}
