"""Independent check of a plan: nothing here trusts the planner that produced it."""
from __future__ import annotations

from typing import Sequence

from .buffers import Buffer, Plan, align_up


class PlanError(Exception):
    """A plan that would corrupt tensors or overrun the arena."""


def _check_ids(buffers: Sequence[Buffer], plan: Plan) -> None:
    ids = [buffer.id for buffer in buffers]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise PlanError(f"duplicate buffer ids {duplicates}")
    missing = [i for i in ids if i not in plan.offsets]
    if missing:
        raise PlanError(f"plan {plan.planner!r} has no offset for buffers {missing}")
    unknown = sorted(set(plan.offsets) - set(ids))
    if unknown:
        raise PlanError(f"plan {plan.planner!r} places unknown buffers {unknown}")


def _check_placement(buffer: Buffer, offset: int, plan: Plan, alignment: int) -> None:
    if offset < 0 or offset % alignment:
        raise PlanError(f"buffer {buffer.id}: offset {offset} is not a non-negative multiple of {alignment}")
    end = offset + align_up(buffer.size, alignment)
    if end > plan.arena_bytes:
        raise PlanError(f"buffer {buffer.id}: bytes [{offset}, {end}) lie outside the "
                        f"{plan.arena_bytes}-byte arena")


def _check_no_clash(buffers: Sequence[Buffer], plan: Plan, alignment: int) -> None:
    by_offset = sorted(buffers, key=lambda buffer: plan.offsets[buffer.id])
    for index, lower in enumerate(by_offset):
        lower_end = plan.offsets[lower.id] + align_up(lower.size, alignment)
        # Only buffers starting below lower_end can share bytes with `lower`.
        for upper in by_offset[index + 1:]:
            if plan.offsets[upper.id] >= lower_end:
                break
            if lower.overlaps(upper):
                raise PlanError(
                    f"buffers {lower.id} and {upper.id} are resident at the same op and share bytes: "
                    f"{lower.id} at [{plan.offsets[lower.id]}, {lower_end}) {lower.intervals}, "
                    f"{upper.id} at offset {plan.offsets[upper.id]} {upper.intervals}")


def validate(buffers: Sequence[Buffer], plan: Plan, alignment: int = 16) -> None:
    """Raise PlanError on a missing offset, misalignment, overrun or a clash of two live buffers."""
    _check_ids(buffers, plan)
    for buffer in buffers:
        _check_placement(buffer, plan.offsets[buffer.id], plan, alignment)
    _check_no_clash(buffers, plan, alignment)
