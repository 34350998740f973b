"""Training graph + memory plan -> the arrays the C executor runs."""
from dataclasses import dataclass

import numpy as np

from core_cy import OP_KINDS
from host_tools.bundle.layout import NO_TENSOR, OP_DTYPE, TENSOR_DTYPE
from host_tools.graph.in_place import share_in_place
from host_tools.graph.uses import tensor_uses
from host_tools.planning import Buffer, plan_best, plan_with
from host_tools.swap import schedule_swap

ALIGNMENT = 16


@dataclass
class Program:
    graph: object
    plan: object            # host_tools.planning.Plan
    buffers: list           # planning buffers (tensor id -> lifespan)
    ops: np.ndarray         # OP_DTYPE records
    tensors: np.ndarray     # TENSOR_DTYPE records
    swap: object = None     # host_tools.swap.SwapSchedule when a RAM budget forces swapping
    unswapped_arena_bytes: int = 0

    @property
    def arena_bytes(self):
        return self.plan.arena_bytes

    def executor_args(self):
        g = self.graph
        table = np.stack([self.tensors["offset"], self.tensors["nbytes"]], axis=1)
        return (self.ops, table, self.arena_bytes, g.input, g.labels, g.metrics, g.output,
                g.micro_batches)


def op_records(graph):
    records = np.zeros(len(graph.ops), OP_DTYPE)
    for record, op in zip(records, graph.ops):
        record["kind"] = OP_KINDS[op.kind]
        record["phase"] = op.phase
        record["t"][:] = NO_TENSOR
        record["t"][:len(op.tensors)] = op.tensors
        record["p"][:len(op.params)] = op.params
        record["f"][:len(op.floats)] = op.floats
    return records


def graph_buffers(graph):
    spans = graph.lifespans()
    return [Buffer.single(t.id, t.nbytes, *spans[t.id]) for t in graph.tensors if t.id in spans]


def tensor_records(graph, plan):
    """Offsets for every tensor; one sharing bytes with another gets its offset."""
    records = np.zeros(len(graph.tensors), TENSOR_DTYPE)
    touched = {t for op in graph.ops for t in op.tensors}
    for tensor in graph.tensors:
        home = graph.alias.get(tensor.id, tensor.id)
        # a tiled tensor has no bytes of its own: its chunks hold them; nor has a
        # value no op touches (a gradient the fused update never stores), which
        # could otherwise reach past a small arena's end
        idle = tensor.id in getattr(graph, "chunks", {}) or \
            (tensor.id not in touched and not tensor.persistent)
        records[tensor.id] = (plan.offsets.get(home, 0), 0 if idle else tensor.nbytes)
    return records


def build_program(graph, planner="best", in_place=True, ram_budget=None, lookahead=4):
    """Plans every tensor into one arena (the smallest valid plan by default).
    in_place=False keeps every tensor's bytes to itself (for inspecting
    intermediate values, e.g. in layer tests). With a RAM budget below the
    arena, tensors are swapped to flash (raises SwapInfeasible with the
    smallest budget that works when even swapping cannot fit)."""
    if in_place:
        graph = share_in_place(graph)
    buffers = graph_buffers(graph)
    plan = plan_best(buffers, ALIGNMENT) if planner == "best" else \
        plan_with(planner, buffers, ALIGNMENT)
    arena = plan.arena_bytes
    if ram_budget is None or ram_budget >= arena:
        return Program(graph, plan, buffers, op_records(graph), tensor_records(graph, plan),
                       unswapped_arena_bytes=arena)
    # metrics and the prediction are read by the host between iterations: keep them in RAM
    swap = schedule_swap(tensor_uses(graph), len(graph.ops), ram_budget, planner=planner,
                         lookahead=lookahead, alignment=ALIGNMENT,
                         pinned=(graph.metrics, graph.output))
    return Program(graph, swap.plan, list(swap.buffers), op_records(graph),
                   tensor_records(graph, swap.plan), swap, arena)
