"""The fused weight gradient + update of integer graphs (docs/int8.md, kinds
121-123): QFC_GRAD followed by its weight's QSGD_APPLY / QADAM_APPLY becomes
QFC_BIAS_GRAD (dB alone, at the gradient's place) and one fused op at the
step's place that remakes dW's sums chunk by chunk and steps the weights, so no
whole dW tensor is ever live. Bit-identical to the unfused ops
(tests/test_int8_fused.py). Unlike the float rewrite it is on by default for
int8 / fixed (`--no-fused-update` keeps the unfused ops): dW is the integer
graphs' peak and the fused op costs no extra tensor."""
import numpy as np

from host_tools.graph.tensors import Op, Tensor

FUSED_STEP = {"QSGD_APPLY": "QFC_GRAD_QSGD", "QADAM_APPLY": "QFC_GRAD_QADAM"}
Q30 = 2**30


def fuse_integer_updates(graph):
    """Rewrites graph.ops (and the Adam step tensors it widens) in place;
    returns the layers whose weight update was fused."""
    ops, fused = list(graph.ops), []
    for index, grad in enumerate(ops):
        if grad is None or grad.kind != "QFC_GRAD":
            continue
        step_at = _weight_step(ops, index, grad.tensors[2])
        if step_at is None or not _inputs_kept(ops, index, step_at, grad.tensors[:2]):
            continue
        ops[index] = _bias_grad(grad)
        ops[step_at] = _fused(graph, grad, ops[step_at])
        fused.append(grad.layer)
    graph.ops = [op for op in ops if op is not None]
    return fused


def _weight_step(ops, index, gradient):
    """The index of dW's only reader if it is a step of the weight, else None."""
    users = [j for j, op in enumerate(ops)
             if op is not None and j != index and gradient in op.tensors]
    if len(users) != 1 or ops[users[0]].kind not in FUSED_STEP:
        return None
    return users[0] if ops[users[0]].tensors[1] == gradient else None


def _inputs_kept(ops, index, step_at, inputs):
    """X and dY are read at the step's place now: nothing in between may write them."""
    from host_tools.graph.uses import UPDATES, WRITES
    for op in ops[index + 1:step_at]:
        if op is None:
            continue
        written = {op.tensors[s] for s in WRITES[op.kind] | UPDATES.get(op.kind, set())
                   if s < len(op.tensors)}
        if written & set(inputs):
            return False
    return True


def _bias_grad(grad):
    if len(grad.tensors) < 4 or grad.tensors[3] < 0:
        return None
    n, _, out = grad.params[:3]
    return Op("QFC_BIAS_GRAD", grad.phase, [grad.tensors[1], grad.tensors[3]], [n, out], [],
              grad.layer)


def _fused(graph, grad, step):
    x, dy = grad.tensors[:2]
    head = list(grad.params[:5])             # N, IN, OUT, E, zx
    weight, _, rate = step.tensors[:3]
    if step.kind == "QSGD_APPLY":
        mu = step.params[3]
        mom = step.tensors[4] if mu and len(step.tensors) > 4 else -1
        tensors = [x, dy, weight, rate, step.tensors[3], mom, _exponent(graph, grad.layer)]
        params = head + [mu]
    else:
        m, v, adam_step, rng = step.tensors[3:7]
        tensors = [x, dy, weight, rate, m, v, _widened_step(graph, adam_step), rng]
        params = head + list(step.params[3:7])
    return Op(FUSED_STEP[step.kind], step.phase, tensors, params, [], step.layer)


def _exponent(graph, layer):
    """GE: the gradient exponent of the last step (the guess of the next one)."""
    tensor = Tensor(len(graph.tensors), f"{layer}:weight/grad_exp", (1,), "optimizer",
                    dtype="i32", persistent=True)
    graph.tensors.append(tensor)
    return tensor.id


def _widened_step(graph, tid):
    """QADAM's STEP [t, beta1^t, beta2^t] plus GE: a new tensor under the same id
    (the list is the graph's own copy; the unfused graph keeps its tensor)."""
    old = graph.tensors[tid]
    start = np.array([0, Q30, Q30, 0], np.int32)
    graph.tensors[tid] = Tensor(tid, old.name, (4,), old.kind, dtype="i32", persistent=True,
                                init=("array", start))
    return tid
