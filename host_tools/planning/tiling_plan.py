"""How many chunks each tileable FC or conv layer is split into under a RAM budget
(issue 11). A tile op's operands are the layer's shared tensors (X, Y, dY,
dX, the bias) plus one chunk of each family tensor it touches, so the op
floor falls with the chunk count; more chunks cost more ops and transfers.

--min-ram: the floor cannot go below the largest untiled op, so each layer
gets the fewest chunks that bring its tiles under that (then twice as many
is tried: the scheduler's minimum sits a little above the floor).
Rule: every count, under either option, is capped at MAX_CHUNKS = 32 per
layer, so a tiled graph has at most 32 tile ops per layer op and the two
(--min-ram) or five (--ram-budget) trials stay bounded in time. Without it a
layer with many rows and a small untiled floor (the MLP's fc1, 128 rows
under a 6 KB floor) gets one chunk per row, and a swap search grows faster
than its op count (2.5x per doubling of the chunks: 1.1 / 2.7 / 6.8 /
17.4 s at 8 / 16 / 32 / 64 on that MLP). At 32 a chunk is at most 1/32 of
its family, so more chunks could lower the floor by no more than that.
--ram-budget: nothing is tiled when the budget is feasible untiled; else the
fewest chunks under a few fractions of the budget and --min-ram's choice are
tried, the feasible one with the smallest estimated step time (the target's
cost model: more chunks, more ops and transfers) winning."""
from dataclasses import dataclass

from host_tools.graph.tiling import _family, layer_bounds, tile_graph, tileable_layers
from host_tools.planning.cost_model import step_seconds
from host_tools.planning.min_ram import smallest_swap_budget
from host_tools.planning.progress import steps
from host_tools.program import ALIGNMENT, build_program
from host_tools.swap import SwapInfeasible

BUDGET_FRACTIONS = (0.75, 0.5, 0.3)
MAX_CHUNKS = 32   # per layer (see above)


@dataclass
class TileChoice:
    graph: object      # tiled (or the input graph when nothing is tiled)
    counts: dict       # layer -> chunks


def _aligned(nbytes):
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def _op_bytes(graph, op):
    return sum(_aligned(graph.tensors[t].nbytes) for t in set(op.tensors) if t >= 0)


def _layer_floor(graph, weight, rows, chunks):
    """Largest operand bytes of the layer's ops once its family is cut into `chunks`."""
    family = _family(graph, weight)
    row_bytes = graph.tensors[weight].nbytes // rows
    chunk = _aligned(max(o1 - o0 for o0, o1 in layer_bounds(graph, weight, rows, chunks)) *
                     row_bytes)
    worst = 0
    for op in graph.ops:
        ids = set(op.tensors) - {-1}
        if ids & family:
            shared = sum(_aligned(graph.tensors[t].nbytes) for t in ids - family)
            worst = max(worst, shared + chunk * len(ids & family))
    return worst


def untiled_floor(graph, layers):
    """Largest operand bytes of the ops tiling leaves alone."""
    families = set()
    for weight, _ in layers.values():
        families |= _family(graph, weight)
    return max((_op_bytes(graph, op) for op in graph.ops if not set(op.tensors) & families),
               default=0)


def chunks_under(graph, weight, rows, limit):
    """The fewest chunks whose tiles' operands fit in `limit` bytes (as many as
    allowed if none do: all rows, at most MAX_CHUNKS)."""
    most = min(rows, MAX_CHUNKS)
    for chunks in range(1, most):
        if _layer_floor(graph, weight, rows, chunks) <= limit:
            return chunks
    return most


def counts_under(graph, layers, limit):
    return {layer: chunks_under(graph, w, rows, limit) for layer, (w, rows) in layers.items()}



def for_min_ram(graph, planner="best", lookahead=4):
    """The chunk counts giving the smallest feasible RAM (ties: fewer chunks)."""
    layers = tileable_layers(graph)
    best = TileChoice(graph, {})
    if not layers:
        return best
    smallest = smallest_swap_budget(graph, planner, lookahead)
    base = counts_under(graph, layers, untiled_floor(graph, layers))
    for factor in steps("tiling trials", (1, 2), unit="trial"):
        counts = {layer: min(k * factor, layers[layer][1], MAX_CHUNKS) for layer, k in base.items()}
        if all(k == 1 for k in counts.values()):
            continue
        trial = tile_graph(graph, counts)
        budget = smallest_swap_budget(trial, planner, lookahead)
        if budget < smallest:
            best, smallest = TileChoice(trial, trial.tiled_layers), budget
    return best


def for_budget(graph, budget, planner="best", lookahead=4, target="host"):
    """Nothing when `budget` is feasible untiled; else the cheapest feasible tiling;
    --min-ram's tiling when none is feasible."""
    layers = tileable_layers(graph)
    if not layers or _feasible(graph, budget, planner, lookahead) is not None:
        return TileChoice(graph, {})
    best, best_seconds, tried = TileChoice(graph, {}), float("inf"), set()
    for counts in steps("tiling trials", _budget_candidates(graph, layers, budget), unit="trial"):
        key = tuple(sorted(counts.items()))
        if key in tried:
            continue
        tried.add(key)
        trial = tile_graph(graph, counts)
        program = _feasible(trial, budget, planner, lookahead)
        if program is not None and step_seconds(program, target) < best_seconds:
            best, best_seconds = TileChoice(trial, trial.tiled_layers), step_seconds(program, target)
    if best_seconds == float("inf"):  # infeasible anyway: the error then quotes the tiled minimum
        return for_min_ram(graph, planner, lookahead)
    return best


def _budget_candidates(graph, layers, budget):
    """Chunk counts to try, fewest first: tiles under fractions of the budget,
    then --min-ram's choice (at least two chunks each: the swap scheduler may
    fit chunks that move independently even where the whole op's operands fit)."""
    limits = [int(budget * fraction) for fraction in BUDGET_FRACTIONS]
    base = counts_under(graph, layers, untiled_floor(graph, layers))
    for counts in [counts_under(graph, layers, limit) for limit in limits] + \
            [base, {layer: 2 * k for layer, k in base.items()}]:
        yield {layer: min(max(2, k), layers[layer][1], MAX_CHUNKS) for layer, k in counts.items()}


def _feasible(graph, budget, planner, lookahead):
    try:
        return build_program(graph, planner, ram_budget=budget, lookahead=lookahead)
    except SwapInfeasible:
        return None
