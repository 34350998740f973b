"""Sharing that lowers the memory bound itself: an op whose output may
overwrite its input (elementwise activations and their derivatives, dropout,
the first operand of a sum) writes in place when the input is dead after it,
and a copy whose source is dead after it (flatten, reshape, the derivative of
either) becomes a view: the op disappears.

Decided from liveness on the op list, so it is correct for any graph:
a tensor is merged into another only where no later op can tell."""
from dataclasses import replace

from core_cy._core import OP_TABLE

# op kind -> (input slot, output slot) that may share bytes: the C op table's
# declared in-place pairs (it rejects any other aliasing)
IN_PLACE_SLOTS = {name: (row["in_place"][1], row["in_place"][0])
                  for name, row in OP_TABLE.items() if row["in_place"] is not None}


class _Aliases:
    """Union of tensors sharing bytes, with each group's op uses."""

    def __init__(self, graph):
        self.root = {}
        self.uses = {}
        for index, op in enumerate(graph.ops):
            for tid in op.tensors:
                if tid >= 0:
                    self.uses.setdefault(tid, []).append(index)

    def find(self, tid):
        while tid in self.root:
            tid = self.root[tid]
        return tid

    def merge(self, keep, drop):
        self.root[drop] = keep
        self.uses[keep] = sorted(set(self.uses.get(keep, []) + self.uses.pop(drop, [])))


def _shareable(graph, aliases, index, src, dst):
    a, b = graph.tensors[src], graph.tensors[dst]
    fixed = (a.persistent or b.persistent or b.loaded or a.nbytes != b.nbytes
             or a.dtype != b.dtype)
    return (not fixed and src != dst and aliases.uses[src][-1] == index
            and aliases.uses[dst][0] == index)


def share_in_place(graph):
    """Returns a new graph whose ops run in place where that is safe, and
    `alias` mapping every merged tensor id to the tensor holding its bytes."""
    aliases = _Aliases(graph)
    ops = []
    for index, op in enumerate(graph.ops):
        tensors = [aliases.find(t) if t >= 0 else t for t in op.tensors]
        slots = IN_PLACE_SLOTS.get(op.kind)
        if slots and _shareable(graph, aliases, index, tensors[slots[0]], tensors[slots[1]]):
            aliases.merge(tensors[slots[0]], tensors[slots[1]])
            tensors[slots[1]] = tensors[slots[0]]
        if op.kind == "COPY" and tensors[0] == tensors[1]:
            continue  # a view: nothing to copy
        ops.append(replace(op, tensors=tensors))
    alias = {t.id: aliases.find(t.id) for t in graph.tensors if aliases.find(t.id) != t.id}
    ops = [replace(op, tensors=[aliases.find(t) if t >= 0 else t for t in op.tensors])
           for op in ops]
    find = aliases.find
    return replace(graph, ops=ops, alias=alias, input=find(graph.input),
                   labels=find(graph.labels), metrics=find(graph.metrics),
                   output=find(graph.output))
