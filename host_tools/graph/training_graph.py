"""ModelSpec -> training graph in NNTrainer's fine-grained execution order:
forward of every layer, the loss, then walking the layers in reverse:
calc_gradient, calc_derivative, apply_gradient. A weight's gradient lives
only from its calc_gradient to its apply, and backward stops at the first
layer that needs nothing (frozen prefix)."""
from dataclasses import dataclass, field

from core_cy import CONSTANTS
from host_tools.graph.builder import GraphBuilder
from host_tools.graph.layers import EMITTERS
from host_tools.graph.loss import emit_loss, emit_loss_derivative
from host_tools.graph.micro_batch import accumulate_gradients, split_batch
from host_tools.graph.normalize import normalize
from host_tools.graph.optimizer import emit_apply
from host_tools.graph.regularization import emit_gradient_terms, emit_regularization_loss

LABEL_INDEX = CONSTANTS["LABEL_INDEX"]
LABEL_DENSE = CONSTANTS["LABEL_DENSE"]


@dataclass
class TrainingGraph:
    spec: object
    nodes: list
    loss: str
    tensors: list
    ops: list
    input: int
    labels: int
    metrics: int
    output: int
    params: dict       # layer -> {key: tensor id}
    label_kind: int
    batch: int
    alias: dict = field(default_factory=dict)  # tensor id -> id whose bytes it shares
    micro_batches: int = 1  # passes per iteration; `batch` samples each (micro_batch.py)
    quant: object = None    # int8 / fixed: host_tools.quantize.ptq.QuantizedModel
    rate_factors: dict = field(default_factory=dict)  # LR tensor id -> multipliers per unit rate
    chunks: dict = field(default_factory=dict)        # tiled tensor id -> chunk ids (tiling.py)
    tiled_layers: dict = field(default_factory=dict)  # FC layer -> chunks its weight is split in

    @property
    def samples_per_iteration(self):
        return self.batch * self.micro_batches

    @property
    def n_ops(self):
        return len(self.ops)

    def lifespans(self):
        """tensor id -> (first op, last op); persistent tensors span everything."""
        spans = {}
        for index, op in enumerate(self.ops):
            for tid in op.tensors:
                if tid >= 0:
                    first, last = spans.get(tid, (index, index))
                    spans[tid] = (min(first, index), max(last, index))
        last_op = len(self.ops) - 1
        for tensor in self.tensors:
            if tensor.persistent:
                spans[tensor.id] = (0, last_op)
            elif tensor.loaded:
                spans[tensor.id] = (0, spans.get(tensor.id, (0, 0))[1])
        return spans


def default_label_kind(loss):
    return LABEL_DENSE if loss == "mse" else LABEL_INDEX


def _backward_needs(nodes):
    """wants_grad: the layer updates weights; wants_dout: something upstream
    (itself or an ancestor) needs the derivative of its output."""
    wants_grad, upstream = {}, {}
    for node in nodes:
        wants_grad[node.name] = node.trainable and node.type in (
            "fully_connected", "conv2d", "depthwise_conv2d", "batch_normalization",
            "layer_normalization")
        upstream[node.name] = any(wants_grad[p] or upstream[p] for p in node.inputs)
    wants_dout = {n: wants_grad[n] or upstream[n] for n in wants_grad}
    return wants_grad, upstream, wants_dout


def _derivative_targets(b, nodes, wants_dout):
    """For every producer that needs dY: one tensor; with several consumers,
    each consumer writes its own edge tensor and a sum op gathers them
    (NNTrainer's multiout)."""
    consumers = {node.name: [] for node in nodes}
    for node in nodes:
        for name in node.inputs:
            consumers[name].append(node.name)
    edges = {}
    for node in nodes:
        if not wants_dout[node.name]:
            continue
        dout = b.activation(f"{node.name}:output/deriv", node.shape, kind="derivative")
        b.douts[node.name] = dout
        users = consumers[node.name]
        if len(users) <= 1:
            for user in users:
                edges[(node.name, user)] = dout
        else:
            for user in users:
                edges[(node.name, user)] = b.activation(
                    f"{node.name}->{user}:deriv", node.shape, kind="derivative")
    return consumers, edges


def build_training_graph(spec, label_kind=None):
    model = normalize(spec)
    nodes = model.nodes
    label_kind = default_label_kind(model.loss) if label_kind is None else label_kind
    micro_batch, passes = split_batch(spec)
    b = GraphBuilder(micro_batch, spec.optimizer)
    for node in nodes:
        kind = "input" if node.type == "input" else "activation"
        b.outputs[node.name] = b.activation(f"{node.name}:output", node.shape, kind=kind)
        if node.type == "input":
            b.tensors[b.outputs[node.name]].loaded = True
        else:
            EMITTERS[node.type].params(b, node)
    wants_grad, upstream, wants_dout = _backward_needs(nodes)
    consumers, edges = _derivative_targets(b, nodes, wants_dout)
    for node in nodes:
        if node.type != "input":
            _forward(b, node)
    by_name = {node.name: node for node in nodes}
    labels, metrics, output, loss_params = emit_loss(b, model.loss, by_name[model.loss_input],
                                                     label_kind)
    for node in nodes:
        if wants_grad[node.name]:
            emit_regularization_loss(b, node, metrics)
    if wants_dout[model.loss_input]:
        emit_loss_derivative(b, model.loss, labels, output, loss_params, b.douts[model.loss_input])
    for node in reversed(nodes):
        _backward(b, node, wants_grad, upstream, consumers, edges)
    input_id = b.outputs[nodes[0].name]
    graph = TrainingGraph(spec, nodes, model.loss, b.tensors, b.ops, input_id, labels, metrics,
                          output, b.params, label_kind, micro_batch)
    return accumulate_gradients(graph, passes)


def _forward(b, node):
    emitter = EMITTERS[node.type]
    xs = b.inputs_of(node)
    y = b.outputs[node.name]
    emitter.forward(b, node, xs if getattr(emitter, "multi_input", False) else xs[0], y)


def _backward(b, node, wants_grad, upstream, consumers, edges):
    users = consumers[node.name]
    if node.name in b.douts and len(users) > 1:  # gather the fan-out derivatives
        parts = [edges[(node.name, user)] for user in users]
        b.op("ADD", CONSTANTS["PHASE_CALC_DERIV"], [b.douts[node.name], *parts],
             [b.tensors[parts[0]].numel], layer=f"{node.name}/multiout")
    if node.type == "input":
        return
    emitter = EMITTERS[node.type]
    dy = b.douts.get(node.name)
    if wants_grad[node.name]:
        emitter.calc_grad(b, node, b.inputs_of(node)[0], dy)
        emit_gradient_terms(b, node)
    if upstream[node.name]:
        dxs = [edges.get((name, node.name)) for name in node.inputs]
        emitter.calc_deriv(b, node, dy, dxs)
    if wants_grad[node.name]:
        for key, grad in b.grads[node.name].items():
            emit_apply(b, node.name, key, b.params[node.name][key], grad)
