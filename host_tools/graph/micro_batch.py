"""Micro-batch gradient accumulation: the graph runs on M samples per pass,
K = batch / M passes per iteration. Each weight's gradient is added into a
persistent accumulator (PyTorch's `grad += g`), the loss and its derivative
are divided by K (PyTorch's `(loss / K).backward()`), and the optimizer step
runs on the last pass only, then zeroes the accumulator."""
from host_tools.errors import UserError
from host_tools.graph.builder import CALC_GRAD
from host_tools.graph.tensors import Op, Tensor

APPLY_KINDS = ("SGD_APPLY", "ADAM_APPLY")
LOSS_PREFIX = "LOSS_"


def split_batch(spec):
    """(samples per pass M, passes per iteration K) for a spec; M = batch when unset."""
    batch, micro = spec.batch_size, spec.micro_batch or spec.batch_size
    if micro > batch or batch % micro:
        raise UserError(f"micro_batch={micro} must divide batch_size={batch}",
                        f"{spec.source} [Model] micro_batch")
    if micro < batch:
        _refuse_per_pass_terms(spec)
    return micro, batch // micro


# Regularizer and decay ops add their term once per pass: over K passes the
# accumulated gradient would hold it K times, unlike PyTorch's accumulation.
PER_PASS_TERMS = ("weight_regularizer", "weight_decay", "bias_decay")


def _refuse_per_pass_terms(spec):
    for layer in spec.layers:
        for key in PER_PASS_TERMS:
            value = layer.props.get(key)
            if value not in (None, 0, 0.0, "none"):
                raise UserError(f"{key} cannot be combined with micro_batch yet (it would be "
                                f"applied once per micro-batch)", f"{spec.source} [{layer.name}]")


def accumulate_gradients(graph, passes):
    """Rewrites a graph built at the micro-batch size to accumulate over `passes`."""
    if passes == 1:
        return graph
    ops = []
    for op in graph.ops:
        if op.kind.startswith(LOSS_PREFIX):
            op = Op(op.kind, op.phase, op.tensors, [*op.params[:3], passes], op.floats, op.layer)
        elif op.kind in APPLY_KINDS:
            accumulator = _accumulator(graph, op.tensors[1])
            numel = graph.tensors[accumulator].numel
            ops.append(Op("ADD", CALC_GRAD, [accumulator, accumulator, op.tensors[1]], [numel],
                          layer=op.layer))
            tensors = [op.tensors[0], accumulator, *op.tensors[2:]]
            op = Op(op.kind, op.phase, tensors, [op.params[0], 1], op.floats, op.layer)
        ops.append(op)
    graph.ops = ops
    graph.micro_batches = passes
    return graph


def _accumulator(graph, gradient):
    """A persistent zero-initialised tensor shaped like `gradient`."""
    source = graph.tensors[gradient]
    tensor = Tensor(len(graph.tensors), f"{source.name}/accumulated", source.shape, "gradient",
                    persistent=True)
    graph.tensors.append(tensor)
    return tensor.id
