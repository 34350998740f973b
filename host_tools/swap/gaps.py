"""Gaps: the stretches between two consecutive uses of a tensor, where it may leave RAM.

Gap i follows timeline[i]. For a persistent tensor the last gap wraps around the
iteration boundary to its first use in the next iteration. A gap is *live* when the
value crossing it is needed afterwards: the next use reads it, or (wrap gap) the value
must survive to the next iteration. A dead gap costs nothing: the tensor simply is not
resident there and nothing is read or written.
"""
from __future__ import annotations

from dataclasses import dataclass

from .uses import Use


@dataclass(frozen=True)
class Gap:
    index: int
    after_op: int    # op of the use before the gap
    before_op: int   # op of the use after it (in the next iteration for the wrap gap)
    wrap: bool
    live: bool

    def idle_ops(self, n_ops: int) -> tuple[tuple[int, int], ...]:
        """Inclusive op ranges the tensor need not occupy when it is out of RAM here."""
        if not self.wrap:
            inside = (self.after_op + 1, self.before_op - 1)
            return (inside,) if inside[0] <= inside[1] else ()
        ranges = ((0, self.before_op - 1), (self.after_op + 1, n_ops - 1))
        return tuple((first, last) for first, last in ranges if first <= last)


def gaps_of(uses: tuple[Use, ...], persistent: bool) -> tuple[Gap, ...]:
    gaps = [Gap(i, uses[i].op, uses[i + 1].op, False, uses[i + 1].reads)
            for i in range(len(uses) - 1)]
    if persistent and uses:
        # The host reads the final value, so the wrap gap is live even before a pure write.
        gaps.append(Gap(len(uses) - 1, uses[-1].op, uses[0].op, True, True))
    return tuple(gaps)
