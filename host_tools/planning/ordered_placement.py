"""Place buffers one after another, each at the offset a fit rule picks among its placed conflicts."""
from __future__ import annotations

from typing import Callable, Sequence

from .buffers import Buffer, Plan, align_up
from .conflicts import conflict_lists

FitRule = Callable[[int, list[tuple[int, int]]], int]


def place_in_order(buffers: Sequence[Buffer], order: Sequence[int], fit: FitRule, alignment: int,
                   conflicts: list[list[int]] | None = None) -> list[int]:
    """Offsets by buffer index; `order` lists buffer indices in placement order."""
    if conflicts is None:
        conflicts = conflict_lists(buffers)
    sizes = [align_up(buffer.size, alignment) for buffer in buffers]
    offsets: list[int | None] = [None] * len(buffers)
    for i in order:
        occupied = [(offsets[j], offsets[j] + sizes[j]) for j in conflicts[i] if offsets[j] is not None]
        offsets[i] = fit(sizes[i], occupied)
    return offsets


def plan_from_offsets(name: str, buffers: Sequence[Buffer], offsets: Sequence[int], alignment: int) -> Plan:
    arena = max((offset + align_up(buffer.size, alignment) for buffer, offset in zip(buffers, offsets)),
                default=0)
    return Plan(name, {buffer.id: offset for buffer, offset in zip(buffers, offsets)}, arena)
