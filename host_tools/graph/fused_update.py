"""Fused weight-gradient update (issue 11, Tiny Training Engine's in-place
update): an FC weight gradient whose only consumer is its optimizer step (or
the micro-batch accumulator's ADD) becomes one fused op that makes dW one
output row at a time in a (N + IN)-float scratch and consumes each row at
once, so no whole dW tensor is ever live. The C kernels build each row with
the unfused kernels, so training is bit-identical (tests/test_fused_update.py).

The optimizer step still runs where the APPLY op ran (after FC_DERIV has read
the old weights); X and dY then live until there. The accumulator case runs
at the gradient's own place (it does not touch the weights)."""
from host_tools.graph.tensors import Op, Tensor

FUSED_STEP = {"SGD_APPLY": "FC_GRAD_SGD", "ADAM_APPLY": "FC_GRAD_ADAM"}
FUSED_KINDS = ("FC_GRAD_SGD", "FC_GRAD_ADAM", "FC_GRAD_ACC")


def fuse_updates(graph):
    """Rewrites graph.ops in place; returns the layers whose update was fused."""
    ops = list(graph.ops)
    fused = []
    for index, op in enumerate(ops):
        if op is None or op.kind != "FC_GRAD":
            continue
        consumer = _only_consumer(ops, index, op.tensors[2])
        if consumer is None:
            continue
        replacement = _fused(graph, ops, index, consumer)
        if replacement is not None:
            at, new = replacement
            ops[index] = ops[consumer] = None
            ops[at] = new
            fused.append(op.layer)
    graph.ops = [op for op in ops if op is not None]
    return fused


def _only_consumer(ops, index, gradient):
    users = [j for j, op in enumerate(ops) if op is not None and j != index
             and gradient in op.tensors]
    return users[0] if len(users) == 1 else None


def _fused(graph, ops, index, consumer):
    """(op index to hold the fused op, the op), or None when it cannot be fused."""
    grad, user = ops[index], ops[consumer]
    x, dy, dw = grad.tensors[:3]
    db = grad.tensors[3] if len(grad.tensors) > 3 else -1
    if graph.tensors[dw].persistent:
        return None
    if user.kind == "ADD" and user.tensors[1:] == [user.tensors[0], dw]:
        tensors = [x, dy, user.tensors[0], db, _scratch(graph, grad)]
        return index, Op("FC_GRAD_ACC", grad.phase, tensors, grad.params[:3], [], grad.layer)
    if user.kind not in FUSED_STEP or user.tensors[1] != dw or user.params[1:2] not in ([], [0]):
        return None
    between = ops[index + 1:consumer]
    if any(op is not None and {x, dy, db} & _written(op) for op in between):
        return None   # X, dY are read at the step's place now; dB is written there
    if db >= 0 and any(op is not None and db in op.tensors for op in between):
        return None
    state = user.tensors[2:]
    if user.kind == "SGD_APPLY":
        state = [state[0] if state and state[0] >= 0 else -1]
    tensors = [x, dy, user.tensors[0], *state, db, _scratch(graph, grad)]
    return consumer, Op(FUSED_STEP[user.kind], user.phase, tensors, grad.params[:3],
                        list(user.floats), grad.layer)


def _written(op):
    from host_tools.graph.uses import UPDATES, WRITES
    return {op.tensors[s] for s in WRITES[op.kind] | UPDATES.get(op.kind, set())
            if s < len(op.tensors)}


def _scratch(graph, grad):
    n, inputs = grad.params[0], grad.params[1]
    tensor = Tensor(len(graph.tensors), f"{grad.layer}:fused_row", (n + inputs,), "scratch")
    graph.tensors.append(tensor)
    return tensor.id
