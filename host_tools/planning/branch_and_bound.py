"""Exact search over placement orders, each buffer put at its first fit.

Why orders suffice: take any valid plan and place its buffers by increasing offset, each at
its first fit. By induction every buffer lands at or below its offset in that plan, so some
order reaches the optimum. The search walks orders depth-first and prunes with:
  * a bound: more buffers only add obstacles, so an unplaced buffer can never end below
    its current first fit; max(arena so far, lower bound, those ends) bounds every completion;
  * transpositions: placing a then b or b then a often gives the same partial plan, and the
    future depends only on that plan, so each partial plan is expanded once;
  * twins: buffers with equal size and residency are interchangeable; only one is branched on.
Work is capped by node and scan counts so the result is the same on every machine; a wall-clock cap
can be added for interactive use.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

from .fit import first_fit


class _BudgetSpent(Exception):
    pass


@dataclass(frozen=True)
class SearchLimits:
    nodes: int = 20_000
    work: int = 2_000_000           # conflict entries scanned; ~1 s of CPython
    seconds: float | None = None    # wall clock; None keeps the result machine-independent


@dataclass
class SearchResult:
    arena: int
    offsets: list[int] | None   # None when nothing better than the incumbent was found
    nodes: int
    complete: bool              # True when the search proved `arena` optimal


@dataclass
class _State:
    sizes: list[int]
    conflicts: list[list[int]]
    twin_key: list[tuple]
    offsets: list[int | None]
    first_fits: list[int]
    unplaced: set[int]
    arena: int = 0
    signature: int = 0
    work: int = 0               # conflict entries scanned: the cost measure of the budget
    seen: dict[int, int] = field(default_factory=dict)   # partial plan -> slack it was expanded with


def _raised_first_fit(state: _State, i: int) -> int:
    """First fit of buffer i after a placement; it can only have moved up from the old one."""
    lowest, offsets, sizes = state.first_fits[i], state.offsets, state.sizes
    state.work += len(state.conflicts[i])
    occupied = [(offsets[j], offsets[j] + sizes[j]) for j in state.conflicts[i]
                if offsets[j] is not None and offsets[j] + sizes[j] > lowest]
    return first_fit(sizes[i], occupied, lowest)


def _place(state: _State, i: int) -> list[tuple[int, int]]:
    """Put buffer i at its first fit; return the first fits it changed, for undo."""
    offset, end = state.first_fits[i], state.first_fits[i] + state.sizes[i]
    state.offsets[i] = offset
    state.unplaced.discard(i)
    changed = []
    for j in state.conflicts[i]:
        if state.offsets[j] is None and state.first_fits[j] < end and offset < state.first_fits[j] + state.sizes[j]:
            changed.append((j, state.first_fits[j]))
            state.first_fits[j] = _raised_first_fit(state, j)
    return changed


def _unplace(state: _State, i: int, changed: list[tuple[int, int]]) -> None:
    for j, old_first_fit in changed:
        state.first_fits[j] = old_first_fit
    state.offsets[i] = None
    state.unplaced.add(i)


def _children(state: _State) -> list[int]:
    """Unplaced buffers, lowest first fit first (the order the optimality argument uses)."""
    ranked = sorted(state.unplaced, key=lambda i: (state.first_fits[i], -state.sizes[i], i))
    twins_seen, children = set(), []
    for i in ranked:
        twin = (state.twin_key[i], state.first_fits[i])
        if twin not in twins_seen:
            twins_seen.add(twin)
            children.append(i)
    return children


class _Search:
    def __init__(self, state: _State, incumbent: int, floor: int, limits: SearchLimits):
        self.state, self.best, self.floor = state, incumbent, floor
        self.best_offsets: list[int] | None = None
        self.node_limit, self.work_limit, self.nodes = limits.nodes, limits.work, 0
        self.deadline = None if limits.seconds is None else time.perf_counter() + limits.seconds

    def _bound(self) -> int:
        state = self.state
        pending = max((state.first_fits[i] + state.sizes[i] for i in state.unplaced), default=0)
        return max(state.arena, self.floor, pending)

    def _spend_node(self) -> None:
        self.nodes += 1
        if self.nodes > self.node_limit or self.state.work > self.work_limit:
            raise _BudgetSpent
        if self.deadline is not None and self.nodes % 256 == 0 and time.perf_counter() > self.deadline:
            raise _BudgetSpent

    def expand(self, slack: int) -> None:
        """Visit completions whose child ranks sum to at most `slack` (limited discrepancy)."""
        state = self.state
        self._spend_node()
        if self._bound() >= self.best:
            return
        if not state.unplaced:
            self.best, self.best_offsets = state.arena, list(state.offsets)
            return
        for rank, i in enumerate(_children(state)[:slack + 1]):
            self._try(i, slack - rank)
            if self.best <= self.floor:
                return

    def _try(self, i: int, slack: int) -> None:
        state = self.state
        step = hash((i, state.first_fits[i]))
        if state.seen.get(state.signature ^ step, -1) >= slack:
            return
        state.signature ^= step
        state.seen[state.signature] = slack
        saved_arena = state.arena
        state.arena = max(state.arena, state.first_fits[i] + state.sizes[i])
        changed = _place(state, i)
        try:
            self.expand(slack)
        finally:
            _unplace(state, i, changed)
            state.arena = saved_arena
            state.signature ^= step


def search_placement(sizes: Sequence[int], conflicts: list[list[int]], twin_key: list[tuple],
                     incumbent: int, floor: int, limits: SearchLimits) -> SearchResult:
    """Look for offsets with a max end below `incumbent`; stop early on reaching `floor`."""
    count = len(sizes)
    state = _State(list(sizes), conflicts, twin_key, [None] * count, [0] * count, set(range(count)))
    search = _Search(state, incumbent, floor, limits)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 4 * count + 1000))
    # Widen the allowed deviation from the first-fit-lowest path until the tree is exhausted.
    exhaustive = count * count
    slack = 0
    try:
        while True:
            search.expand(slack)
            if slack >= exhaustive or search.best <= floor:
                break
            slack = min(2 * slack + 1, exhaustive)
        complete = True
    except _BudgetSpent:
        complete = False
    finally:
        sys.setrecursionlimit(old_limit)
    return SearchResult(search.best, search.best_offsets, search.nodes, complete or search.best <= floor)
