"""schedule_swap: fit one training iteration into a RAM budget by swapping tensors to flash.

Every tensor keeps ONE arena offset; swapping only shortens the ops it is resident at,
so the static op list runs unchanged and results stay bit-identical.

Iteration-boundary convention (what the host sees between iterations, see home()):
  * a persistent tensor that is swapped anywhere rests in flash at its flash home;
  * every other persistent tensor stays in the arena at its offset;
  * loaded tensors are written into the arena by the loader before op 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, Iterable, Sequence

import numpy as np

from host_tools.planning import Buffer, Plan, plan_best, plan_with, validate
from host_tools.planning.optimal import best_heuristic_plan
from host_tools.planning.progress import task

from .choice import Choice
from .events import (MAX_READS_QUEUED, Action, SwapEvent, Transfer, build_events, events_array,
                     max_reads_in_flight, reads_queued)
from .flash import flash_buffers, plan_flash
from .infeasible import SwapInfeasible, operand_bound
from .prefetch import prefetch_starts
from .residency import Residency, Tensor
from .uses import TensorUse, check_uses

EXACT_PROBES = 3   # bisection steps below the quick minimum with the exact planner
SMALLEST_KEPT = 64  # searches remembered: the planners compare the same graphs repeatedly

_smallest_found: dict[tuple, int] = {}


@dataclass(frozen=True)
class SwapSchedule:
    n_ops: int
    alignment: int
    buffers: tuple[Buffer, ...]          # arena residency, prefetch included
    plan: Plan                            # arena offsets for those buffers
    events: tuple[SwapEvent, ...]
    flash_offsets: dict[int, int]         # per tensor that ever touches flash
    flash_bytes: int
    read_bytes_per_iteration: int
    write_bytes_per_iteration: int
    homes: dict[int, str]                 # persistent tensor -> 'arena' | 'flash'
    swapped: dict[int, tuple[int, ...]] = field(default_factory=dict)  # tensor -> swapped gap indices
    max_reads_in_flight: int = 0
    reads_queued: int = 0                 # as the bundle reader counts them (first in, first out)

    @property
    def peak_ram_bytes(self) -> int:
        # The file and RAM backends copy straight into the arena: no staging buffer.
        return self.plan.arena_bytes

    def home(self, tensor_id: int) -> tuple[str, int]:
        """Where a tensor's value lives between iterations: ('arena' | 'flash', offset)."""
        place = self.homes.get(tensor_id)
        if place == "flash":
            return "flash", self.flash_offsets[tensor_id]
        if tensor_id in self.plan.offsets:
            return "arena", self.plan.offsets[tensor_id]
        raise KeyError(f"tensor {tensor_id} is never resident and has no flash home")

    def events_array(self) -> np.ndarray:
        return events_array(list(self.events))


def _planner(name: str, alignment: int) -> Callable[[Sequence[Buffer]], Plan]:
    if name == "best":
        return partial(plan_best, alignment=alignment)
    return partial(plan_with, name, alignment=alignment)


def _search_planner(name: str, alignment: int) -> Callable[[Sequence[Buffer]], Plan]:
    """Planner used while searching, called after every change. For "best" it is the best
    heuristic plan without the exact search: the final plan_best is never larger, so
    whatever fits during the search still fits at the end, at a fraction of the cost."""
    if name == "best":
        return partial(best_heuristic_plan, alignment=alignment)
    return _planner(name, alignment)


class _NoFit(Exception):
    pass


def _fit(choice: Choice, budget: int, plan_fn, exact_fn) -> Plan:
    """Greedy: swap the best gap until the profile fits, re-plan, tighten for fragmentation.
    The costly exact planner gets a try the first time fragmentation is in the way, and
    once more before giving up."""
    target, exact_tried = budget, False
    while True:
        while choice.peak() > target:
            move = choice.best_move(target)
            if move is None:
                return _last_try(choice, budget, exact_fn)
            choice.set(move.tensor, choice.swapped[move.tensor] | {move.gap})
        plan = plan_fn(choice.buffers())
        if plan.arena_bytes > budget and not exact_tried and exact_fn is not plan_fn:
            plan, exact_tried = min(plan, exact_fn(choice.buffers()), key=lambda p: p.arena_bytes), True
        if plan.arena_bytes <= budget:
            return plan
        target = choice.peak() - (plan.arena_bytes - budget)


def _last_try(choice: Choice, budget: int, exact_fn) -> Plan:
    if choice.peak() <= budget:
        plan = exact_fn(choice.buffers())
        if plan.arena_bytes <= budget:
            return plan
    raise _NoFit()


def _drop_unneeded(choice: Choice, budget: int, plan: Plan, plan_fn) -> Plan:
    """Bring back the costliest swapped gaps whose removal still fits the budget."""
    slack = plan.arena_bytes - choice.peak()
    swapped = [(tid, gap) for tid, gaps in choice.swapped.items() for gap in gaps]
    savings = {(tid, gap): choice.cost(tid) - choice.cost(tid, choice.swapped[tid] - {gap})
               for tid, gap in swapped}
    for tid, gap in sorted(swapped, key=lambda key: -savings[key]):
        if savings[(tid, gap)] <= 0:
            continue   # a persistent tensor's wrap gap, implied by its other gaps
        before = choice.swapped[tid]
        choice.set(tid, before - {gap})
        if choice.peak() + slack <= budget:
            trial = plan_fn(choice.buffers())
            if trial.arena_bytes <= budget:
                plan, slack = trial, trial.arena_bytes - choice.peak()
                continue
        choice.set(tid, before)
    return plan


def _transfers(tensors: dict[int, Tensor], residencies: dict[int, Residency],
               starts: dict[tuple[int, int], int]) -> list[Transfer]:
    found = []
    for tid, residency in residencies.items():
        size = tensors[tid].use.size
        for segment in residency.segments:
            if segment.read_in:
                start = starts[(tid, segment.first_op)]
                found.append(Transfer(tid, Action.READ_START, start, segment.first_op, size))
            if segment.write_out:
                found.append(Transfer(tid, Action.WRITE, segment.last_op, segment.last_op, size))
    return found


def _homes(tensors: dict[int, Tensor], choice: Choice) -> dict[int, str]:
    homes = {}
    for tid, tensor in tensors.items():
        if tensor.use.persistent:
            at_rest_in_flash = bool(choice.swapped[tid]) or not tensor.timeline
            homes[tid] = "flash" if at_rest_in_flash else "arena"
    return homes


def _flash_plan(tensors, residencies, homes, n_ops, plan_fn) -> Plan:
    persistent = {tid for tid, home in homes.items() if home == "flash"}
    sizes = {tid: tensor.use.size for tid, tensor in tensors.items()}
    buffers = flash_buffers(residencies, sizes, persistent, n_ops)
    unused = [Buffer(tid, sizes[tid], ((0, n_ops - 1),)) for tid in persistent if not tensors[tid].timeline]
    return plan_flash(buffers + unused, plan_fn)


def _prefetched(tensors, choice: Choice, plan: Plan, residencies, flash: Plan, lookahead: int,
                alignment: int):
    """Buffers widened for prefetch, the transfers and their events, and the reads queued."""
    reads = [(tid, s.first_op) for tid, r in residencies.items() for s in r.segments if s.read_in]
    buffers, starts = prefetch_starts(choice.buffers(), plan, reads, lookahead, alignment)
    transfers = _transfers(tensors, residencies, starts)
    events = build_events(transfers, plan.offsets, flash.offsets)
    return buffers, transfers, events, reads_queued(events)


def _within_queue(prefetched, lookahead: int):
    """The longest lookahead up to `lookahead` whose schedule the bundle reader accepts
    (at most MAX_READS_QUEUED reads queued). Prefetching less never grows the arena."""
    best = prefetched(lookahead)
    if best[3] <= MAX_READS_QUEUED:
        return best
    low, high = -1, lookahead          # high is known to queue too many
    while high - low > 1:
        middle = (low + high) // 2
        trial = prefetched(middle)
        if trial[3] <= MAX_READS_QUEUED:
            low, best = middle, trial
        else:
            high = middle
    if low < 0:
        raise ValueError(f"an op needs {best[3]} reads queued at once; "
                         f"devices hold {MAX_READS_QUEUED} (SWAP_MAX_READS_QUEUED)")
    return best


def _build(tensors: dict[int, Tensor], choice: Choice, plan: Plan, n_ops: int, lookahead: int,
           alignment: int, plan_fn) -> SwapSchedule:
    residencies = {tid: tensor.residency(choice.swapped[tid]) for tid, tensor in tensors.items()}
    homes = _homes(tensors, choice)
    flash = _flash_plan(tensors, residencies, homes, n_ops, plan_fn)
    prefetched = partial(_prefetched, tensors, choice, plan, residencies, flash, alignment=alignment)
    buffers, transfers, events, queued = _within_queue(prefetched, lookahead)
    validate(buffers, plan, alignment)
    # Tags are 16-bit; reads in flight never exceed reads queued (<= MAX_READS_QUEUED).
    in_flight = max_reads_in_flight(events)
    return SwapSchedule(
        n_ops=n_ops, alignment=alignment, buffers=tuple(buffers), plan=plan, events=tuple(events),
        flash_offsets=dict(flash.offsets), flash_bytes=flash.arena_bytes,
        read_bytes_per_iteration=sum(t.nbytes for t in transfers if t.action == Action.READ_START),
        write_bytes_per_iteration=sum(t.nbytes for t in transfers if t.action == Action.WRITE),
        homes=homes, swapped={tid: tuple(sorted(tensors[tid].effective(gaps)))
                              for tid, gaps in choice.swapped.items() if gaps},
        max_reads_in_flight=in_flight, reads_queued=queued)


def _choose(uses: Sequence[TensorUse], n_ops: int, budget: int, planner: str, alignment: int,
            write_weight: float, pinned: Iterable[int], exact: bool = True) -> tuple[dict[int, Tensor], Choice, Plan]:
    """The gaps to swap and a plan within `budget` (raises _NoFit). exact=False never
    runs the exact planner search (a quicker probe, used while bisecting)."""
    tensors = {use.id: Tensor(use, n_ops, alignment) for use in uses}
    choice = Choice(tensors.values(), n_ops, write_weight, pinned)
    search_fn = _search_planner(planner, alignment)
    exact_fn = _planner(planner, alignment) if planner == "best" and exact else search_fn
    plan = _drop_unneeded(choice, budget, _fit(choice, budget, search_fn, exact_fn), search_fn)
    return tensors, choice, plan


def _attempt(uses: Sequence[TensorUse], n_ops: int, budget: int, planner: str, lookahead: int,
             alignment: int, write_weight: float, pinned: Iterable[int]) -> SwapSchedule:
    tensors, choice, plan = _choose(uses, n_ops, budget, planner, alignment, write_weight, pinned)
    plan_fn = _planner(planner, alignment)
    final = plan_fn(choice.buffers())
    # plan_best includes every heuristic, so it can only shrink the search's plan.
    plan = final if final.arena_bytes <= plan.arena_bytes else plan
    return _build(tensors, choice, plan, n_ops, lookahead, alignment, plan_fn)


def _hold_pinned_to_end(uses: Sequence[TensorUse], n_ops: int, pinned: tuple[int, ...]) -> list[TensorUse]:
    """The host reads pinned tensors after the iteration (and an EVAL run replays the
    skipped backward's reads into the arena): keep them resident up to the last op."""
    held = []
    for use in uses:
        if use.id in pinned and not use.persistent and (use.reads or use.writes):
            use = replace(use, reads=tuple(sorted(set(use.reads) | {n_ops - 1})))
        held.append(use)
    return held


def schedule_swap(uses: Sequence[TensorUse], n_ops: int, ram_budget: int, planner: str = "best",
                  lookahead: int = 4, alignment: int = 16, write_weight: float = 2.0,
                  pinned: Iterable[int] = ()) -> SwapSchedule:
    """Swap schedule whose arena fits `ram_budget` bytes, moving as few bytes as the greedy finds.

    write_weight: how much a flash byte written costs against one read (flash wear, slower).
    pinned: tensors the host or executor touches between iterations (e.g. metrics, the
    prediction output); they are never swapped and stay resident to the last op.
    Raises SwapInfeasible (with the smallest budget found to work) when the budget is too small;
    every budget at or above that one gets a schedule.
    """
    check_uses(uses, n_ops)
    pinned = tuple(pinned)
    uses = _hold_pinned_to_end(uses, n_ops, pinned)
    attempt = partial(_attempt, uses, n_ops, planner=planner, lookahead=lookahead,
                      alignment=alignment, write_weight=write_weight, pinned=pinned)
    floor = operand_bound(uses, n_ops, alignment, pinned)
    if ram_budget >= floor:
        try:
            return attempt(ram_budget)
        except _NoFit:
            pass
    fits = partial(_choose, uses, n_ops, planner=planner, alignment=alignment,
                   write_weight=write_weight, pinned=pinned)
    smallest = _remembered_smallest(fits, floor, alignment,
                                    (tuple(uses), n_ops, planner, alignment, write_weight, pinned))
    if smallest <= ram_budget:
        # The greedy is not monotone in the budget (its choices follow the excess above
        # it): a schedule found for a smaller budget fits this one too.
        return attempt(smallest)
    raise SwapInfeasible(ram_budget, smallest, floor)


def _remembered_smallest(fits, floor: int, alignment: int, key: tuple) -> int:
    """_smallest_budget, once per input: the search is deterministic, and tiling,
    fusion and recomputation each ask it about the graphs the others chose."""
    if key not in _smallest_found:
        if len(_smallest_found) >= SMALLEST_KEPT:
            del _smallest_found[next(iter(_smallest_found))]
        with task(f"smallest RAM of {key[1]} ops", unit="probe") as bar:
            def probe(budget, exact):
                bar.update(1)
                return fits(budget, exact=exact)
            _smallest_found[key] = _smallest_budget(probe, floor, alignment)
    return _smallest_found[key]


def _works(fits, budget: int, exact: bool) -> bool:
    try:
        fits(budget, exact=exact)
        return True
    except _NoFit:
        return False


def _resolution(high: int, alignment: int) -> int:
    """Bisection stops within ~1% of the answer: each probe is a whole swap search, and a
    user told the smallest budget wants it in seconds, not to the last 16 bytes."""
    return max(alignment, high // 128)


def _bisect(fits, low: int, high: int, alignment: int, exact: bool, probes: int = 64) -> int:
    """Smallest budget in (low, high] found to work within `probes` tries; `high` must work."""
    while high - low > _resolution(high, alignment) and probes > 0:
        middle = (low + high) // 2 // alignment * alignment
        if middle <= low:
            break
        probes -= 1
        if _works(fits, middle, exact):
            high = middle
        else:
            low = middle
    return high


def _smallest_budget(fits, floor: int, alignment: int) -> int:
    """Bisect between the operand bound and the no-swap arena. The greedy is not monotone,
    so this is the smallest budget found to work, verified with the same search that
    schedule_swap runs). Most probes skip the exact planner search, which costs up to
    seconds per call; a few exact probes then look below what the quick ones found."""
    unswapped = fits(1 << 62, exact=False)[2].arena_bytes
    found = _bisect(fits, floor - 1, unswapped, alignment, exact=False)
    if not _works(fits, found, exact=True):
        found = _bisect(fits, found, unswapped, alignment, exact=True)
    return _bisect(fits, floor - 1, found, alignment, exact=True, probes=EXACT_PROBES)
