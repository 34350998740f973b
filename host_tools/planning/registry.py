"""The planners by name, and the two ways callers run them: one by name, or the best of several."""
from __future__ import annotations

import warnings
from typing import Callable, Iterable, Sequence

from .buffers import Buffer, Plan
from .greedy import plan_greedy
from .nntrainer import plan_nntrainer
from .no_reuse import plan_no_reuse
from .optimal import plan_optimal
from .validate import PlanError, validate

Planner = Callable[[Sequence[Buffer], int], Plan]

PLANNERS: dict[str, Planner] = {
    "no-reuse": plan_no_reuse,
    "nntrainer": plan_nntrainer,
    "greedy": plan_greedy,
    "optimal": plan_optimal,
}


def plan_with(name: str, buffers: Sequence[Buffer], alignment: int = 16) -> Plan:
    """Run one planner and validate its plan."""
    if name not in PLANNERS:
        raise ValueError(f"unknown planner {name!r}; known planners: {', '.join(PLANNERS)}")
    plan = PLANNERS[name](buffers, alignment)
    validate(buffers, plan, alignment)
    return plan


def plan_best(buffers: Sequence[Buffer], alignment: int = 16, planners: Iterable[str] | None = None) -> Plan:
    """Smallest valid plan among `planners` (all by default); ties go to "optimal", then to list order."""
    names = list(PLANNERS if planners is None else planners)
    valid: list[Plan] = []
    for name in names:
        try:
            valid.append(plan_with(name, buffers, alignment))
        except PlanError as error:
            # A planner bug must not sink the build when another planner's plan is sound.
            warnings.warn(f"planner {name!r} produced an invalid plan: {error}")
    if not valid:
        raise PlanError(f"no planner among {names} produced a valid plan")
    return min(valid, key=lambda plan: (plan.arena_bytes, plan.planner != "optimal"))
