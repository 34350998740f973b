"""ModelSpec + QuantizedModel -> an integer training graph (int8 or fixed),
in the float graph's order: forward, the loss, then per layer in reverse
calc_gradient, calc_derivative, apply. Flatten and folded batch norms are
views of their input (no op, no bytes). Supported so far: dense, conv
(depthwise too), max / average pooling, ReLU, residual addition of two tensors,
softmax cross-entropy, SGD with or without momentum and Adam (the integer kernels that exist, docs/int8.md);
anything else is a one-line error."""
from core_cy import CONSTANTS
from host_tools.errors import UserError
from host_tools.graph.builder import CALC_DERIV, FORWARD, GraphBuilder
from host_tools.graph.normalize import normalize
from host_tools.graph.training_graph import TrainingGraph
from host_tools.quantize import layers, scales

LABEL_INDEX = CONSTANTS["LABEL_INDEX"]
VIEWS = ("flatten", "reshape", "identity", "batch_normalization")
WEIGHTED = ("fully_connected", "conv2d", "depthwise_conv2d")


def _check(spec, model, precision):
    where = f"{spec.source}: precision {precision}"
    if model.loss != "cross_softmax":
        raise UserError(f"{where} trains with softmax cross-entropy only (loss is {model.loss})")
    if spec.micro_batch not in (0, spec.batch_size):
        raise UserError(f"{where} does not combine with micro_batch yet")
    for node in model.nodes:
        supported = node.type in ("input", "pooling2d", *WEIGHTED, *VIEWS) or (
            node.type == "activation" and node.props.get("activation") == "relu")
        inputs_ok = len(node.inputs) == 2 if node.type == "addition" else len(node.inputs) <= 1
        if not (supported or node.type == "addition") or not inputs_ok:
            kind = node.props.get("activation", node.type)
            raise UserError(f"{where} has no integer kernels for '{node.name}' ({kind}) yet")


def check_supported(spec):
    """One-line error for a model the integer kernels cannot train (before any work)."""
    _check(spec, normalize(spec), spec.precision)


def build_integer_graph(spec, quant, qas=True):
    model = normalize(spec)
    _check(spec, model, quant.precision)
    b = GraphBuilder(spec.batch_size, spec.optimizer)
    samples = _forward(b, model.nodes, quant)
    labels, metrics, probabilities = _loss(b, model, quant)
    rate_factors = _backward(b, model, quant, qas, labels, probabilities)
    return TrainingGraph(spec, model.nodes, model.loss, b.tensors, b.ops, samples, labels,
                         metrics, probabilities, b.params, LABEL_INDEX, spec.batch_size,
                         quant=quant, rate_factors=rate_factors)


def _forward(b, nodes, quant):
    """-> the loaded samples tensor; b.outputs maps every node to its integer output."""
    samples = None
    for node in nodes:
        if node.type == "input":
            samples = _input(b, node, quant)
        elif node.type in VIEWS:
            b.outputs[node.name] = b.outputs[node.inputs[0]]
        else:
            x = b.outputs[node.inputs[0]]
            y = b.activation(f"{node.name}:output", node.shape, dtype=layers.act_dtype(quant))
            b.outputs[node.name] = y
            if node.type in WEIGHTED:
                layers.fc_params(b, node, quant)
                layers.fc_forward(b, node, quant, x, y)
            elif node.type == "addition":
                layers.add_forward(b, node, quant, x, b.outputs[node.inputs[1]], y)
            elif node.type == "pooling2d":
                layers.pool_forward(b, node, quant, x, y)
            else:
                layers.relu_forward(b, node, quant, x, y)
    return samples


def _input(b, node, quant):
    """int8 quantizes the float samples in the program (uploaded samples stay
    float); fixed narrows samples the host quantized (no float op at all)."""
    scale, zero_point = quant.activation(node.name)
    pre_quantized = quant.precision == "fixed"
    samples = b.tensor("input:samples", (b.batch, *node.shape), "input", loaded=True,
                       dtype="i32" if pre_quantized else "f32")
    y = b.activation(f"{node.name}:output", node.shape, dtype=layers.act_dtype(quant))
    count = b.tensors[y].numel
    if pre_quantized:
        b.op("QNARROW", FORWARD, [samples, y], [count, quant.element_bytes], layer=node.name)
    else:
        b.op("QUANTIZE", FORWARD, [samples, y], [count, quant.element_bytes, zero_point],
             [1.0 / float(scale)], layer=node.name)
    b.outputs[node.name] = y
    return samples


def _loss(b, model, quant):
    z = b.outputs[model.loss_input]
    features = b.tensors[z].numel // b.batch
    labels = b.tensor("labels", (b.batch,), "label", dtype="i32", loaded=True)
    metrics = b.tensor("metrics", (2,), "metrics", persistent=True)
    probabilities = b.tensor("loss:probabilities", (b.batch, features), "activation",
                             dtype="i32")
    m, shift = scales.quantize_multiplier(float(quant.activation(model.loss_input)[0]) * 2**16)
    b.op("QCE_SOFTMAX_FWD", FORWARD, [z, labels, probabilities, metrics],
         [b.batch, features, quant.element_bytes, m, shift], layer="loss")
    return labels, metrics, probabilities


def _needs(nodes):
    """wants_grad: a trainable dense / conv layer; upstream: some earlier layer trains."""
    wants_grad, upstream = {}, {}
    for node in nodes:
        wants_grad[node.name] = node.type in WEIGHTED and node.trainable
        upstream[node.name] = any(wants_grad[p] or upstream[p] for p in node.inputs)
    return wants_grad, upstream


class _Derivatives:
    """name -> the g16 derivative a node's backward reads. A tensor read by two
    layers (a residual fork) gets both contributions summed with QG16_ADD; an
    addition hands its dY on unchanged, so that tensor is shared and sums into
    it go to a fresh tensor instead."""

    def __init__(self, b, nodes):
        self.b, self.nodes, self.douts, self.shared, self.count = b, nodes, {}, set(), 0

    def _base(self, name):   # a view shares its input's derivative
        while _node(self.nodes, name).type in VIEWS:
            name = _node(self.nodes, name).inputs[0]
        return name

    def _new(self, name):
        self.count += 1
        suffix = "" if name not in self.douts else f"+{self.count}"
        return self.b.activation(f"{name}:output/deriv{suffix}", _node(self.nodes, name).shape,
                                 kind="derivative", dtype="g16")

    def of(self, name):
        name = self._base(name)
        if name not in self.douts:
            self.douts[name] = self._new(name)
        return self.douts[name]

    def add_to(self, name, write):
        """write(dx) emits the op that writes one contribution into dx."""
        name = self._base(name)
        if name not in self.douts:
            write(self.of(name))
            return
        extra = self._new(name)
        write(extra)
        self._sum(name, extra)

    def share(self, name, dy):
        """An addition's input: its derivative is dY itself (F = 1 on both sides)."""
        name = self._base(name)
        self.shared.add(dy)
        if name not in self.douts:
            self.douts[name] = dy
        else:
            self._sum(name, dy)

    def _sum(self, name, extra):
        total = self.douts[name]
        if total in self.shared:
            fresh = self._new(name)
            self.b.op("QG16_ADD", CALC_DERIV, [total, extra, fresh],
                      [self.b.tensors[total].numel], layer=name)
            self.douts[name] = fresh
        else:
            layers.g16_sum(self.b, name, total, extra)


def _backward(b, model, quant, qas, labels, probabilities):
    nodes = model.nodes
    wants_grad, upstream = _needs(nodes)
    derivs = _Derivatives(b, nodes)

    loss_node = _node(nodes, model.loss_input)
    if not (wants_grad[loss_node.name] or upstream[loss_node.name]):
        return {}
    features = b.tensors[probabilities].numel // b.batch
    b.op("QCE_SOFTMAX_DERIV", CALC_DERIV, [probabilities, labels, derivs.of(loss_node.name)],
         [b.batch, features], layer="loss")
    rng = None
    factors = {}
    for node in reversed(nodes):
        if node.type in ("input", *VIEWS):
            continue
        dy = derivs.of(node.name)
        x = node.inputs[0]
        if node.type in WEIGHTED:
            if wants_grad[node.name]:
                layers.fc_grad(b, node, quant, b.outputs[x], dy)
            if upstream[node.name]:
                derivs.add_to(x, lambda dx, node=node: layers.fc_deriv(b, node, quant, dy, dx))
            if wants_grad[node.name]:
                rng = rng if rng is not None else b.tensor("sgd:rng", (1,), "state",
                                                           persistent=True, init=("seed",),
                                                           dtype="u32")
                optimizer = b.optimizer.type
                per_rate = layers.rate_factors(quant, node, qas, optimizer)
                apply = layers.adam_apply if optimizer == "adam" else layers.sgd_apply
                for key in ("weight", "bias"):
                    factors[apply(b, node, key, quant, per_rate[key], rng)] = per_rate[key]
        elif node.type == "addition":
            for name in node.inputs:
                if wants_grad[name] or upstream[name]:
                    derivs.share(name, dy)
        elif upstream[node.name] and node.type == "pooling2d":
            derivs.add_to(x, lambda dx, node=node: layers.pool_deriv(
                b, node, quant, b.outputs[node.inputs[0]], dy, dx))
        elif upstream[node.name]:
            derivs.add_to(x, lambda dx, node=node: layers.relu_deriv(
                b, node, quant, b.outputs[node.name], dy, dx))
    return factors


def _node(nodes, name):
    return next(node for node in nodes if node.name == name)
