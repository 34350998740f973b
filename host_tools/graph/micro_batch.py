"""Micro-batch gradient accumulation: the graph runs on M samples per pass,
K = batch / M passes per iteration. Each weight's gradient is added into a
persistent accumulator (PyTorch's `grad += g`), the loss and its derivative
are divided by K (PyTorch's `(loss / K).backward()`), and the optimizer step
runs on the last pass only, then zeroes the accumulator.

Weight decay and the l2norm regularizer count once per iteration, as PyTorch's
`SGD(weight_decay=d)` or an L2 term added to the loss once: their gradient
term (DECAY_GRAD) moves onto the accumulator just before the step, and their
loss term (L2NORM_LOSS) stays in the forward pass; both take the APPLY phase,
which the executor runs on the last pass only (core_cy/src/mt_exec.c)."""
from dataclasses import replace

from host_tools.errors import UserError
from host_tools.graph.builder import APPLY, CALC_GRAD
from host_tools.graph.tensors import Op, Tensor

APPLY_KINDS = ("SGD_APPLY", "ADAM_APPLY")
LOSS_PREFIX = "LOSS_"


def split_batch(spec):
    """(samples per pass M, passes per iteration K) for a spec; M = batch when unset."""
    batch, micro = spec.batch_size, spec.micro_batch or spec.batch_size
    if micro > batch or batch % micro:
        raise UserError(f"micro_batch={micro} must divide batch_size={batch}",
                        f"{spec.source} [Model] micro_batch")
    return micro, batch // micro


def accumulate_gradients(graph, passes):
    """Rewrites a graph built at the micro-batch size to accumulate over `passes`."""
    if passes == 1:
        return graph
    decays = _decays_by_gradient(graph)
    ops = []
    for op in graph.ops:
        if op.kind.startswith(LOSS_PREFIX):
            op = Op(op.kind, op.phase, op.tensors, [*op.params[:3], passes], op.floats, op.layer)
        elif op.kind == "DECAY_GRAD":
            continue   # re-emitted on the accumulator below
        elif op.kind == "L2NORM_LOSS":
            op = replace(op, phase=APPLY)   # the regularizer's loss once per iteration
        elif op.kind in APPLY_KINDS:
            ops.extend(_accumulation(graph, op, decays.pop(op.tensors[1], [])))
            continue
        ops.append(op)
    _refuse_unplaced(graph, decays)
    graph.ops = ops
    graph.micro_batches = passes
    return graph


def _decays_by_gradient(graph):
    """gradient id -> its DECAY_GRAD ops (regularizer, then decay), in graph order."""
    found = {}
    for op in graph.ops:
        if op.kind == "DECAY_GRAD":
            found.setdefault(op.tensors[1], []).append(op)
    return found


def _accumulation(graph, step, decays):
    """accumulator += gradient every pass; on the last pass the decay terms on the
    accumulator, then the step on it (which zeroes it)."""
    accumulator = _accumulator(graph, step.tensors[1])
    numel = graph.tensors[accumulator].numel
    ops = [Op("ADD", CALC_GRAD, [accumulator, accumulator, step.tensors[1]], [numel],
              layer=step.layer)]
    ops += [replace(op, phase=APPLY, tensors=[op.tensors[0], accumulator]) for op in decays]
    tensors = [step.tensors[0], accumulator, *step.tensors[2:]]
    return ops + [Op(step.kind, step.phase, tensors, [step.params[0], 1], step.floats, step.layer)]


def _refuse_unplaced(graph, decays):
    """A decay term on a gradient no optimizer step consumes has no accumulator to go on."""
    if decays:
        layer = next(iter(decays.values()))[0].layer
        raise UserError("weight_decay / weight_regularizer cannot be combined with micro_batch "
                        "on a weight without an optimizer step", f"{graph.spec.source} [{layer}]")


def _accumulator(graph, gradient):
    """A persistent zero-initialised tensor shaped like `gradient`."""
    source = graph.tensors[gradient]
    tensor = Tensor(len(graph.tensors), f"{source.name}/accumulated", source.shape, "gradient",
                    persistent=True)
    graph.tensors.append(tensor)
    return tensor.id
