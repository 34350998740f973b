"""Recomputation planned jointly with swap (issue 11, POET): each backward-
read forward output is kept, swapped or recomputed. The swap scheduler
decides keep / swap for a given op list; this module decides which producers
to recompute, greedily, by running that scheduler on each choice: a
candidate stays if it lowers the smallest feasible RAM (--min-ram) or the
estimated step time at the budget (--ram-budget), per the target's cost model."""
from dataclasses import dataclass

from host_tools.graph.recompute import candidates, recompute
from host_tools.planning.cost_model import step_seconds
from host_tools.planning.min_ram import smallest_swap_budget
from host_tools.planning.progress import steps
from host_tools.program import build_program
from host_tools.swap import SwapInfeasible

MAX_TRIED = 6   # largest outputs first: each try is a whole swap schedule (or a bisection)


@dataclass
class RecomputeChoice:
    graph: object            # the op list with the chosen recomputations inserted
    recomputed: list         # original tensor ids made again in backward
    ops_per_iteration: int   # recompute ops run per iteration (all passes)


def _ranked(graph):
    found = candidates(graph)
    size = lambda c: sum(graph.tensors[t].nbytes for t in c.outputs)  # noqa: E731
    return sorted(found, key=size, reverse=True)[:MAX_TRIED]


def _choice(graph, chosen):
    rewritten, ids = recompute(graph, chosen)
    return RecomputeChoice(rewritten, ids, len(chosen) * graph.micro_batches)



def for_min_ram(graph, planner="best", lookahead=4, target="host"):
    """The recomputations that lower the smallest RAM; a tie keeps the cheaper
    op list (no recompute: it only adds compute). `target` is accepted for
    symmetry with for_budget."""
    del target
    chosen = []
    best = smallest_swap_budget(graph, planner, lookahead)
    for cand in steps("recompute candidates", _ranked(graph), unit="candidate"):
        trial, _ = recompute(graph, [*chosen, cand])
        smallest = smallest_swap_budget(trial, planner, lookahead)
        if smallest < best:
            chosen, best = [*chosen, cand], smallest
    return _choice(graph, chosen)


def for_budget(graph, budget, planner="best", lookahead=4, target="host"):
    """The recomputations that make `budget` feasible or the step cheaper there."""
    def seconds(g):
        try:
            return step_seconds(build_program(g, planner, ram_budget=budget, lookahead=lookahead),
                                target)
        except SwapInfeasible:
            return float("inf")
    chosen, best = [], seconds(graph)
    for cand in steps("recompute candidates", _ranked(graph), unit="candidate"):
        trial, _ = recompute(graph, [*chosen, cand])
        cost = seconds(trial)
        if cost < best:
            chosen, best = [*chosen, cand], cost
    return _choice(graph, chosen)
