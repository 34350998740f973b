"""Our planner: the best of several cheap heuristics, then exact search while above the bound.

Heuristics: every order in orderings.py with first-fit and with best-fit, plus TF Lite
Micro's greedy and NNTrainer's planner, so the result is never worse than either. If the
best of them is above the lower bound, branch_and_bound.py searches for a smaller plan
within a node budget (deterministic) and, optionally, a wall-clock budget.
"""
from __future__ import annotations

from typing import Sequence

from .branch_and_bound import SearchLimits, search_placement
from .buffers import Buffer, Plan, align_up, lower_bound
from .conflicts import conflict_lists
from .fit import FITS
from .greedy import plan_greedy
from .nntrainer import plan_nntrainer
from .ordered_placement import place_in_order, plan_from_offsets
from .orderings import candidate_orders



def _heuristic_plans(buffers: Sequence[Buffer], alignment: int, conflicts: list[list[int]]) -> list[Plan]:
    plans = [plan_greedy(buffers, alignment, conflicts), plan_nntrainer(buffers, alignment)]
    for order_name, order in candidate_orders(buffers, alignment).items():
        for fit_name, fit in FITS.items():
            offsets = place_in_order(buffers, order, fit, alignment, conflicts)
            plans.append(plan_from_offsets(f"{order_name}/{fit_name}", buffers, offsets, alignment))
    return plans


def best_heuristic_plan(buffers: Sequence[Buffer], alignment: int = 16) -> Plan:
    plans = _heuristic_plans(buffers, alignment, conflict_lists(buffers))
    return min(plans, key=lambda plan: plan.arena_bytes)


def plan_optimal(buffers: Sequence[Buffer], alignment: int = 16,
                 limits: SearchLimits = SearchLimits()) -> Plan:
    conflicts = conflict_lists(buffers)
    best = min(_heuristic_plans(buffers, alignment, conflicts), key=lambda plan: plan.arena_bytes)
    floor = lower_bound(buffers, alignment)
    if best.arena_bytes > floor:
        sizes = [align_up(buffer.size, alignment) for buffer in buffers]
        twin_key = [(size, buffer.intervals) for size, buffer in zip(sizes, buffers)]
        found = search_placement(sizes, conflicts, twin_key, best.arena_bytes, floor, limits)
        if found.offsets is not None:
            best = plan_from_offsets("optimal", buffers, found.offsets, alignment)
    return Plan("optimal", best.offsets, best.arena_bytes)
