"""Random but graph-shaped buffer sets for property tests and the planner benchmark.

Ops form a DAG in execution order: op k produces tensor k and reads a few earlier tensors,
mostly recent ones, sometimes far back (skip connections, activations kept for backward).
A tensor lives from its producer to its last reader. "Swapped" tensors mimic the swap
scheduler: resident only at the producer and just before and at each read, so they have
several disjoint intervals. A few "weights" live across the whole step.
"""
from __future__ import annotations

import random

from .buffers import Buffer

_SIZES = (4, 16, 24, 48, 64, 100, 128, 256, 384, 512, 1000, 1024, 2048, 4096)


def _readers(rng: random.Random, op_count: int) -> dict[int, list[int]]:
    """For each tensor, the ops that read it."""
    readers: dict[int, list[int]] = {k: [] for k in range(op_count)}
    for op in range(1, op_count):
        readers[op - 1].append(op)  # a chain keeps the graph connected, like a layer stack
        for _ in range(rng.randint(0, 2)):
            if rng.random() < 0.7:
                source = rng.randint(max(0, op - 4), op - 1)
            else:
                source = rng.randint(0, op - 1)
            readers[source].append(op)
    return {k: sorted(set(ops)) for k, ops in readers.items()}


def _swapped_intervals(producer: int, reads: list[int]) -> tuple[tuple[int, int], ...]:
    """Resident when written, then from one op before each read (prefetch) to the read."""
    windows = sorted([(producer, producer)] + [(max(producer, read - 1), read) for read in reads])
    merged = [list(windows[0])]
    for first, last in windows[1:]:
        if first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


def dag_buffers(rng: random.Random, op_count: int, swap_probability: float = 0.0,
                weight_count: int = 0) -> list[Buffer]:
    buffers = []
    for tensor, reads in _readers(rng, op_count).items():
        size = rng.choice(_SIZES)
        if reads and rng.random() < swap_probability:
            intervals = _swapped_intervals(tensor, reads)
        else:
            intervals = ((tensor, max([tensor, *reads])),)
        buffers.append(Buffer(tensor, size, intervals))
    for weight in range(weight_count):
        buffers.append(Buffer.single(op_count + weight, rng.choice(_SIZES), 0, op_count - 1))
    return buffers


def random_lifespans(rng: random.Random, count: int, op_count: int) -> list[Buffer]:
    """Unstructured buffers: uniform random sizes and inclusive lifespans."""
    buffers = []
    for index in range(count):
        start = rng.randint(0, op_count - 1)
        buffers.append(Buffer.single(index, rng.randint(1, 300), start, rng.randint(start, op_count - 1)))
    return buffers
