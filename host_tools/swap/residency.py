"""From the set of gaps a tensor is swapped out in, to when it is resident and what moves.

A segment is a run of uses with the tensor resident throughout. It starts with a flash
read when it follows a swapped gap and its first use reads the value; it ends with a
write-back when it precedes a swapped gap and wrote the value (segments that follow a
swapped gap start from a valid flash copy; the others start with a write, so "dirty"
is simply "written inside the segment").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from host_tools.planning import align_up

from .gaps import Gap, gaps_of
from .uses import TensorUse, Use, timeline


@dataclass(frozen=True)
class Segment:
    first_op: int
    last_op: int
    read_in: bool
    write_out: bool
    wraps: bool = False   # resident across the iteration boundary: last_op < first_op is allowed


@dataclass(frozen=True)
class Residency:
    segments: tuple[Segment, ...]
    intervals: tuple[tuple[int, int], ...]  # minimal: reads are not yet prefetched

    @property
    def reads(self) -> int:
        return sum(segment.read_in for segment in self.segments)

    @property
    def writes(self) -> int:
        return sum(segment.write_out for segment in self.segments)


class Tensor:
    """One tensor's uses and gaps, and its residency for any choice of swapped gaps."""

    def __init__(self, use: TensorUse, n_ops: int, alignment: int):
        self.use = use
        self.n_ops = n_ops
        self.timeline: tuple[Use, ...] = timeline(use)
        self.gaps: tuple[Gap, ...] = gaps_of(self.timeline, use.persistent)
        self.aligned = align_up(use.size, alignment)
        self._cache: dict[frozenset[int], Residency] = {}

    @property
    def id(self) -> int:
        return self.use.id

    @cached_property
    def wrap_index(self) -> int | None:
        return len(self.timeline) - 1 if self.use.persistent and self.timeline else None

    def effective(self, swapped: frozenset[int]) -> frozenset[int]:
        """A persistent tensor swapped anywhere rests in flash at iteration boundaries."""
        if swapped and self.wrap_index is not None:
            return swapped | {self.wrap_index}
        return swapped

    def residency(self, swapped: frozenset[int]) -> Residency:
        swapped = self.effective(swapped)
        if swapped not in self._cache:
            self._cache[swapped] = self._residency(swapped)
        return self._cache[swapped]

    def cost(self, swapped: frozenset[int], write_weight: float) -> float:
        residency = self.residency(swapped)
        return self.use.size * (residency.reads + write_weight * residency.writes)

    def _groups(self, breaks: set[int]) -> list[list[int]]:
        groups = [[0]]
        for index in range(1, len(self.timeline)):
            if index - 1 in breaks:
                groups.append([])
            groups[-1].append(index)
        return groups

    def _gap_before(self, index: int) -> int | None:
        return index - 1 if index > 0 else self.wrap_index

    def _gap_after(self, index: int) -> int | None:
        return index if index < len(self.timeline) - 1 else self.wrap_index

    def _segment(self, group: list[int], swapped: frozenset[int], wraps: bool) -> Segment:
        first, last = group[0], group[-1]
        read_in = self._gap_before(first) in swapped and self.timeline[first].reads
        written = any(self.timeline[index].writes for index in group)
        write_out = self._gap_after(last) in swapped and written
        return Segment(self.timeline[first].op, self.timeline[last].op, read_in, write_out, wraps)

    def _residency(self, swapped: frozenset[int]) -> Residency:
        if not self.timeline:
            return Residency((), ())
        breaks = {gap.index for gap in self.gaps if not gap.live} | set(swapped)
        groups = self._groups(breaks)
        wraps = self.wrap_index is not None and self.wrap_index not in breaks
        if wraps and len(groups) > 1:
            # Resident across the boundary: the last run continues into the first one.
            groups = [groups[-1] + groups[0]] + groups[1:-1]
        segments = tuple(self._segment(group, swapped, wraps and i == 0) for i, group in enumerate(groups))
        return Residency(segments, self._intervals(segments))

    def _intervals(self, segments: tuple[Segment, ...]) -> tuple[tuple[int, int], ...]:
        n_last = self.n_ops - 1
        intervals: list[tuple[int, int]] = []
        for segment in segments:
            if segment.wraps and len(segments) == 1:
                intervals.append((0, n_last))
            elif segment.wraps:
                intervals += [(0, segment.last_op), (segment.first_op, n_last)]
            else:
                intervals.append((segment.first_op, segment.last_op))
        return tuple(sorted(intervals))
