"""Which op reads and which op writes each tensor: what swap decisions need
(a tensor written since it was last stored is dirty; a dead value is never moved)."""
from core_cy._core import OP_TABLE
from host_tools.swap import TensorUse

# From the C op table's slot roles: slots an op writes without reading first
# ("w"), and slots it reads and then writes ("rw": running statistics, RNG,
# metrics, weights).
WRITES = {name: {s for s, role in enumerate(row["roles"]) if role == "w"}
          for name, row in OP_TABLE.items()}
UPDATES = {name: {s for s, role in enumerate(row["roles"]) if role == "rw"}
           for name, row in OP_TABLE.items()}


def _cleared(op):
    """An optimizer step that zeroes its (accumulated) gradient writes slot 1."""
    return {1} if op.kind in ("SGD_APPLY", "ADAM_APPLY", "ADAM_APPLY_TILE") and op.params[1:2] == [1] else set()


def tensor_uses(graph):
    """TensorUse for every tensor an op touches, from the op list."""
    reads, writes = {}, {}
    for index, op in enumerate(graph.ops):
        written = WRITES[op.kind] | UPDATES.get(op.kind, set()) | _cleared(op)
        for slot, tid in enumerate(op.tensors):
            if tid < 0:
                continue
            if slot in written:
                writes.setdefault(tid, set()).add(index)
            if slot not in WRITES[op.kind]:
                reads.setdefault(tid, set()).add(index)
    touched = sorted(set(reads) | set(writes))
    return [TensorUse(id=tid, size=graph.tensors[tid].nbytes,
                      reads=tuple(sorted(reads.get(tid, ()))),
                      writes=tuple(sorted(writes.get(tid, ()))),
                      persistent=graph.tensors[tid].persistent,
                      loaded=graph.tensors[tid].loaded)
            for tid in touched]
