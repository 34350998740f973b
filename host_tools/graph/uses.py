"""Which op reads and which op writes each tensor: what swap decisions need
(a tensor written since it was last stored is dirty; a dead value is never moved)."""
from host_tools.swap import TensorUse

# op kind -> tensor slots the op writes without reading first
WRITES = {
    "FC_FWD": {3}, "FC_GRAD": {2, 3}, "FC_DERIV": {2},
    "CONV_FWD": {3}, "CONV_GRAD": {2, 3}, "CONV_DERIV": {2},
    "MAXPOOL_FWD": {1, 2}, "MAXPOOL_DERIV": {2}, "AVGPOOL_FWD": {1}, "AVGPOOL_DERIV": {1},
    "ACT_FWD": {1}, "ACT_DERIV": {2},
    "BN_FWD": {5, 6, 7}, "BN_GRAD": {4, 5}, "BN_DERIV": {5},
    "ADD": {0}, "COPY": {1}, "DROPOUT_FWD": {1, 2}, "DROPOUT_DERIV": {2},
    "LOSS_MSE_FWD": set(), "LOSS_CE_SOFTMAX_FWD": {2}, "LOSS_CE_SIGMOID_FWD": {2},
    "LOSS_MSE_DERIV": {2}, "LOSS_CE_SOFTMAX_DERIV": {2}, "LOSS_CE_SIGMOID_DERIV": {2},
    "SGD_APPLY": set(), "ADAM_APPLY": set(),
}
# op kind -> slots read and then written (running statistics, RNG, metrics, weights)
UPDATES = {
    "BN_FWD": {3, 4}, "DROPOUT_FWD": {3}, "LOSS_MSE_FWD": {2}, "LOSS_CE_SOFTMAX_FWD": {3},
    "LOSS_CE_SIGMOID_FWD": {3}, "SGD_APPLY": {0, 2}, "ADAM_APPLY": {0, 2, 3, 4},
}


def _cleared(op):
    """An optimizer step that zeroes its (accumulated) gradient writes slot 1."""
    return {1} if op.kind in ("SGD_APPLY", "ADAM_APPLY") and op.params[1:2] == [1] else set()


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
