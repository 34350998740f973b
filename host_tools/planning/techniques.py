"""The memory techniques a RAM budget turns on (issue 11), chosen by running
the swap scheduler on each option: tiling first (FC weights split into row
chunks, host_tools/planning/tiling_plan.py), the fused update where it helps (it
lengthens X and dY's lives, so it can cost more than the dW it saves), then
recomputation. --min-ram keeps what lowers the smallest feasible RAM;
--ram-budget what lowers the estimated step time at the budget."""
import copy

from host_tools.graph.fused_update import fuse_updates
from host_tools.graph.tiling_fused import fuse_tiled_updates
from host_tools.planning.cost_model import step_seconds
from host_tools.planning import tiling_plan
from host_tools.planning.min_ram import smallest_swap_budget
from host_tools.planning.progress import task
from host_tools.planning.recompute_plan import for_budget, for_min_ram
from host_tools.program import build_program
from host_tools.swap import SwapInfeasible


def _fused_copy(graph):
    fused = copy.copy(graph)
    fused.tensors, fused.ops = list(graph.tensors), list(graph.ops)
    return fused, fuse_updates(fused) + fuse_tiled_updates(fused)


def _score(graph, budget, planner, lookahead, target):
    if budget is None:
        return smallest_swap_budget(graph, planner, lookahead), 0.0
    try:
        program = build_program(graph, planner, ram_budget=budget, lookahead=lookahead)
    except SwapInfeasible:
        return float("inf"), 0.0
    return 0, step_seconds(program, target)


def apply_techniques(graph, budget=None, fused=True, recompute=True, planner="best",
                     lookahead=4, target="host", tiling=True):
    """-> graph with attributes fused_layers, recomputed (names), recompute_ops,
    tiled_layers ({layer: chunks}).
    budget None: minimise the smallest RAM; else the estimated time at budget."""
    with task("memory techniques", 3, unit="technique") as bar:
        bar.set_postfix_str("tiling")
        if tiling:
            graph = (tiling_plan.for_min_ram(graph, planner, lookahead) if budget is None else
                     tiling_plan.for_budget(graph, budget, planner, lookahead, target)).graph
        bar.update(1)
        bar.set_postfix_str("fused update")
        chosen, layers = _fused_if_better(graph, fused, budget, planner, lookahead, target)
        bar.update(1)
        bar.set_postfix_str("recompute")
        chosen = _recomputed_if_better(graph, chosen, layers, recompute,
                                       (budget, planner, lookahead, target))
        bar.update(1)
    return chosen


def _fused_if_better(graph, fused, budget, planner, lookahead, target):
    """(graph with the fused update, its fused layers) if that scores better, else (graph, [])."""
    if fused:
        trial, fused_layers = _fused_copy(graph)
        if fused_layers and _score(trial, budget, planner, lookahead, target) < \
                _score(graph, budget, planner, lookahead, target):
            return trial, fused_layers
    return graph, []


def _recomputed_if_better(graph, chosen, layers, recompute, args):
    """`chosen` (fused in `layers`, or `graph` itself) with its recomputations, or the
    unfused graph with its own when recomputation favours that."""
    names, ops = [], 0
    if recompute:
        choice = _recomputed(chosen, *args)
        if layers:   # recomputation may favour the unfused graph after all: keep the better
            unfused = _recomputed(graph, *args)
            if _score(unfused.graph, *args) <= _score(choice.graph, *args):
                chosen, choice, layers = graph, unfused, []
        names = [chosen.tensors[t].name for t in choice.recomputed]
        chosen, ops = choice.graph, choice.ops_per_iteration
    chosen.fused_layers, chosen.recomputed, chosen.recompute_ops = layers, names, ops
    return chosen


def _recomputed(graph, budget, planner, lookahead, target):
    return for_min_ram(graph, planner, lookahead, target) if budget is None else \
        for_budget(graph, budget, planner, lookahead, target)
