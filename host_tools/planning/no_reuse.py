"""Baseline planner (NNTrainer's "basic"): every buffer gets its own bytes, in input order."""
from __future__ import annotations

from itertools import accumulate
from typing import Sequence

from .buffers import Buffer, Plan, align_up
from .ordered_placement import plan_from_offsets


def plan_no_reuse(buffers: Sequence[Buffer], alignment: int = 16) -> Plan:
    sizes = [align_up(buffer.size, alignment) for buffer in buffers]
    offsets = [0, *accumulate(sizes)][:len(buffers)]
    return plan_from_offsets("no-reuse", buffers, offsets, alignment)
