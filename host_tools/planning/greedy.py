"""TF Lite Micro's GreedyMemoryPlanner: largest buffer first, each at the first gap that fits.

Ties in size keep input order (TFLM's reverse sort is stable), so results match its tests.
"""
from __future__ import annotations

from typing import Sequence

from .buffers import Buffer, Plan
from .fit import first_fit
from .ordered_placement import place_in_order, plan_from_offsets


def plan_greedy(buffers: Sequence[Buffer], alignment: int = 16,
                conflicts: list[list[int]] | None = None) -> Plan:
    largest_first = sorted(range(len(buffers)), key=lambda i: -buffers[i].size)
    offsets = place_in_order(buffers, largest_first, first_fit, alignment, conflicts)
    return plan_from_offsets("greedy", buffers, offsets, alignment)
