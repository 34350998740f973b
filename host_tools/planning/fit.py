"""Choosing an offset for one buffer among the byte ranges already taken by its conflicts.

`occupied` holds (offset, end) byte ranges, end exclusive, in any order. Since every size is
a multiple of the alignment and the first offset is 0, every returned offset stays aligned.
"""
from __future__ import annotations

from typing import Iterable

Range = tuple[int, int]


def free_gaps(occupied: Iterable[Range], lowest: int = 0) -> tuple[list[Range], int]:
    """Bounded free ranges at or above `lowest` between occupied ones, and where the open top begins."""
    gaps, cursor = [], lowest
    for offset, end in sorted(occupied):
        if offset > cursor:
            gaps.append((cursor, offset))
        if end > cursor:   # not max(): this loop is the planners' hottest line
            cursor = end
    return gaps, cursor


def first_fit(size: int, occupied: Iterable[Range], lowest: int = 0) -> int:
    """Lowest offset at or above `lowest` where `size` bytes are free (TF Lite Micro's rule)."""
    gaps, top = free_gaps(occupied, lowest)
    for start, stop in gaps:
        if stop - start >= size:
            return start
    return top


def best_fit(size: int, occupied: Iterable[Range]) -> int:
    """Start of the tightest bounded gap that holds `size` bytes, else the top (TF Lite GPU's rule)."""
    gaps, top = free_gaps(occupied)
    fitting = [(stop - start, start) for start, stop in gaps if stop - start >= size]
    return min(fitting)[1] if fitting else top


FITS = {"first-fit": first_fit, "best-fit": best_fit}
