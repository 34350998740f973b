"""The smallest RAM at which a training graph still trains: the swap
scheduler's smallest feasible budget (bisection above the operand floor),
then the program planned at exactly that budget. With micro-batching the
graph is already built at the micro-batch size, so activations scale with it."""
from dataclasses import dataclass

from host_tools.graph.tiling import tiled_op_labels
from host_tools.program import build_program
from host_tools.swap import SwapInfeasible


@dataclass
class MinRam:
    program: object        # planned at min_ram_bytes (swapping when below the arena)
    min_ram_bytes: int
    operand_floor: int     # no schedule goes below this: some op's operands together

    def figures(self):
        """What `plan --min-ram --json` adds: the budget and how it is met."""
        graph, swap = self.program.graph, self.program.swap
        swapped = sorted(graph.tensors[tid].name for tid in swap.swapped) if swap else []
        return {
            "min_ram_bytes": self.min_ram_bytes,
            "operand_floor_bytes": self.operand_floor,
            "micro_batch": graph.batch,
            "micro_batches_per_iteration": graph.micro_batches,
            "swapped_tensors": swapped,
            "tiled_ops": tiled_op_labels(graph),
        }


def smallest_swap_budget(graph, planner="best", lookahead=4):
    """The swap scheduler's smallest feasible RAM for `graph` (one schedule run),
    0 when nothing needs RAM; the first step of find_min_ram and of every
    technique that compares graphs by it."""
    try:
        build_program(graph, planner, ram_budget=1, lookahead=lookahead)
    except SwapInfeasible as error:
        return error.min_budget
    return 0


def find_min_ram(graph, planner="best", lookahead=4):
    """MinRam for `graph`; the arena itself when nothing can be swapped lower."""
    unconstrained = build_program(graph, planner)
    try:
        build_program(graph, planner, ram_budget=1, lookahead=lookahead)
    except SwapInfeasible as error:
        budget, floor = error.min_budget, error.operand_floor
    else:  # an empty graph fits anywhere
        return MinRam(unconstrained, unconstrained.arena_bytes, 0)
    if budget >= unconstrained.arena_bytes:
        return MinRam(unconstrained, unconstrained.arena_bytes, floor)
    return MinRam(build_program(graph, planner, ram_budget=budget, lookahead=lookahead),
                  budget, floor)
