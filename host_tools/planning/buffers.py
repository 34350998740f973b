"""The planner contract: what a buffer is, what a plan is, and the two reference sizes.

A buffer's residency may be several disjoint inclusive op intervals (the swap scheduler
evicts a tensor and brings it back later); two buffers may share bytes only if no interval
of one intersects an interval of the other.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

Interval = tuple[int, int]


def align_up(size: int, alignment: int) -> int:
    """Smallest multiple of `alignment` that holds `size` bytes."""
    if alignment < 1:
        raise ValueError(f"alignment must be >= 1, got {alignment}")
    return -(-size // alignment) * alignment


def _check_intervals(buffer_id: int, intervals: tuple[Interval, ...]) -> None:
    if not intervals:
        raise ValueError(f"buffer {buffer_id}: needs at least one residency interval")
    for first, last in intervals:
        if first > last:
            raise ValueError(f"buffer {buffer_id}: interval ({first}, {last}) ends before it starts")
    for (_, prev_last), (next_first, _) in zip(intervals, intervals[1:]):
        if next_first <= prev_last:
            raise ValueError(f"buffer {buffer_id}: intervals {intervals} are not sorted and disjoint")


@dataclass(frozen=True)
class Buffer:
    id: int
    size: int
    intervals: tuple[Interval, ...]

    def __post_init__(self) -> None:
        # Accept lists from callers but store hashable tuples.
        intervals = tuple((int(first), int(last)) for first, last in self.intervals)
        object.__setattr__(self, "intervals", intervals)
        if self.size <= 0:
            raise ValueError(f"buffer {self.id}: size must be > 0, got {self.size}")
        _check_intervals(self.id, intervals)

    @classmethod
    def single(cls, id: int, size: int, start: int, end: int) -> "Buffer":
        return cls(id, size, ((start, end),))

    @property
    def start(self) -> int:
        return self.intervals[0][0]

    @property
    def end(self) -> int:
        return self.intervals[-1][1]

    @property
    def resident_ops(self) -> int:
        """Number of ops the buffer occupies memory for (gaps excluded)."""
        return sum(last - first + 1 for first, last in self.intervals)

    def overlaps(self, other: "Buffer") -> bool:
        """True if any interval of self intersects any interval of other."""
        if self.end < other.start or other.end < self.start:
            return False
        mine, theirs = self.intervals, other.intervals
        i = j = 0
        # Both lists are sorted: advance whichever interval finishes first.
        while i < len(mine) and j < len(theirs):
            if mine[i][0] <= theirs[j][1] and theirs[j][0] <= mine[i][1]:
                return True
            if mine[i][1] < theirs[j][1]:
                i += 1
            else:
                j += 1
        return False


@dataclass(frozen=True)
class Plan:
    planner: str
    offsets: dict[int, int]
    arena_bytes: int


def live_bytes_per_op(buffers: Iterable[Buffer], alignment: int = 16) -> dict[int, int]:
    """Aligned bytes resident at every op where the total changes (a step function)."""
    deltas: dict[int, int] = defaultdict(int)
    for buffer in buffers:
        size = align_up(buffer.size, alignment)
        for first, last in buffer.intervals:
            deltas[first] += size
            deltas[last + 1] -= size
    live, total = {}, 0
    for op in sorted(deltas):
        total += deltas[op]
        live[op] = total
    return live


def lower_bound(buffers: Sequence[Buffer], alignment: int = 16) -> int:
    """No offset plan can be smaller than the busiest op's resident bytes."""
    return max(live_bytes_per_op(buffers, alignment).values(), default=0)


def no_reuse_bytes(buffers: Sequence[Buffer], alignment: int = 16) -> int:
    return sum(align_up(buffer.size, alignment) for buffer in buffers)
