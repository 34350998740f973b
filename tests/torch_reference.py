"""PyTorch twin of a microtrain model, for golden tests.

`TorchTwin(graph)` interprets the graph's normalized nodes with torch.nn
modules, `load(weights)` copies a Session's weights in (so both start equal),
and `reference_training(...)` trains the same consecutive batches the C loop
sees and returns per-iteration losses and final weights keyed like
Session.weights(). Targets are decoded from the very bytes the C loader
copies (host_tools.data.encode), so labels can never differ between the two.
"""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

from core_cy import CONSTANTS
from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.program import build_program
from host_tools.session import Session
from host_tools.graph.movement_shapes import full
from host_tools.graph.nodes import numel
from host_tools.graph.normalize import normalize
from host_tools.graph.shapes import conv_filters, conv_geometry, pool_geometry

LABEL_INDEX = CONSTANTS["LABEL_INDEX"]
ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
               "softmax": lambda x: torch.softmax(x, dim=-1),  # last axis, as NNTrainer
               "leaky_relu": lambda x: Fn.leaky_relu(x, 0.01), "swish": Fn.silu,
               "gelu": Fn.gelu}
# npz key suffix -> attribute of the torch module holding it
TORCH_NAMES = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
               "running_mean": "running_mean", "running_var": "running_var"}


def _pads(g):
    """F.pad widths (left, right, top, bottom) giving exactly (oh, ow) windows;
    'same' puts the odd extra pixel after, like our shapes.window."""
    bottom = max((g["oh"] - 1) * g["sh"] + g["kh"] - g["h"] - g["ph"], 0)
    right = max((g["ow"] - 1) * g["sw"] + g["kw"] - g["w"] - g["pw"], 0)
    return (g["pw"], right, g["ph"], bottom)


def _module_for(node):
    if node.type == "fully_connected":
        bias = not node.props.get("disable_bias", False)
        return nn.Linear(node.in_shapes[0][-1], node.shape[-1], bias=bias)
    if node.type in ("conv2d", "depthwise_conv2d"):
        g = conv_geometry(node, node.in_shapes[0])
        filters, _ = conv_filters(node, g["c"])
        groups = g["c"] if node.type == "depthwise_conv2d" else 1
        return nn.Conv2d(g["c"], filters, (g["kh"], g["kw"]), (g["sh"], g["sw"]), groups=groups,
                         bias=not node.props.get("disable_bias", False))
    if node.type == "layer_normalization":
        cols = numel(full(node.shape)[node.props["axis"][0] - 1:])
        return nn.LayerNorm(cols, eps=node.props.get("epsilon", 1e-3))
    if node.type == "batch_normalization":
        norm = nn.BatchNorm2d if len(node.shape) == 3 else nn.BatchNorm1d
        return norm(node.shape[0], eps=node.props.get("epsilon", 1e-3),  # NNTrainer's keys
                    momentum=1.0 - node.props.get("momentum", 0.99))
    return None


def _pool(node, x):
    g = pool_geometry(node, node.in_shapes[0])
    kind = node.props.get("pooling", "max")
    if kind == "max":  # padding never wins a max
        padded = Fn.pad(x, _pads(g), value=float("-inf"))
        return Fn.max_pool2d(padded, (g["kh"], g["kw"]), (g["sh"], g["sw"]))
    padded = Fn.pad(x, _pads(g))  # zeros, counted in the divisor (count_include_pad)
    return Fn.avg_pool2d(padded, (g["kh"], g["kw"]), (g["sh"], g["sw"]))


class TorchTwin(nn.Module):
    """Runs the normalized nodes of `graph` in order; outputs of every node are
    kept (with retained grads) so tests can read intermediate derivatives."""

    def __init__(self, graph, keep_grads=True):
        super().__init__()
        self.keep_grads = keep_grads  # retain every node's grad (off for benchmarks)
        self.graph = graph
        model = normalize(graph.spec)
        self.nodes, self.loss_kind, self.loss_input = model.nodes, model.loss, model.loss_input
        self.layers = nn.ModuleDict()
        for node in self.nodes:
            module = _module_for(node)
            if module is not None:
                module.requires_grad_(node.trainable)
                self.layers[self._key(node.name)] = module
        self.outputs = {}
        self.masks = {}  # dropout layer -> fixed mask (e.g. the one the C run drew)

    @staticmethod
    def _key(name):
        return name.replace("/", "__").replace(".", "_")  # ModuleDict keys allow neither

    def module(self, name):
        return self.layers[self._key(name)]

    def _run(self, node, xs):
        kind, x = node.type, xs[0]
        if kind in ("fully_connected", "batch_normalization", "conv2d", "depthwise_conv2d"):
            if kind == "conv2d" or kind == "depthwise_conv2d":
                x = Fn.pad(x, _pads(conv_geometry(node, node.in_shapes[0])))
            return self.module(node.name)(x)
        if kind == "activation":
            return ACTIVATIONS[node.props["activation"]](x)
        if kind == "pooling2d":
            return _pool(node, x)
        if kind == "addition":
            return sum(xs[1:], xs[0])
        if kind == "subtract":
            return xs[0] - xs[1]
        if kind == "multiply":
            return xs[0] * xs[1]
        if kind == "identity":
            return x
        if kind == "concat":
            parts = [t.reshape(len(t), *full(s)) for t, s in zip(xs, node.in_shapes)]
            axis = node.props.get("axis", (1,))[0]
            return torch.cat(parts, dim=axis).reshape(len(x), *node.shape)
        if kind == "layer_normalization":
            norm = self.module(node.name)
            return norm(x.reshape(len(x), -1, norm.normalized_shape[0])).reshape(x.shape)
        if kind == "slice":
            axis, index = node.props["split_dimension"], node.props["index"]
            size = full(node.in_shapes[0])[axis - 1]
            part = size // node.props.get("split_number", size)
            y = x.reshape(len(x), *full(node.in_shapes[0])).narrow(axis, index * part, part)
            return y.reshape(len(x), *node.shape)
        if kind == "permute":
            y = x.reshape(len(x), *full(node.in_shapes[0])).permute(0, *node.props["direction"])
            return y.reshape(len(x), *node.shape)
        if kind == "upsample2d":
            kh, kw = node.props.get("kernel_size", (2, 2))
            return x.repeat_interleave(kh, dim=2).repeat_interleave(kw, dim=3)
        if kind in ("flatten", "reshape"):
            return x.reshape(len(x), *node.shape)
        if kind == "dropout":
            if node.name in self.masks:
                return x * self.masks[node.name]
            return Fn.dropout(x, node.props.get("dropout_rate", 0.5), self.training)
        raise NotImplementedError(kind)

    def forward(self, x):
        """x: (N, ...) float; returns the loss input, shaped (N, features)."""
        self.outputs = {}
        for node in self.nodes:
            if node.type == "input":
                y = x.reshape(len(x), *node.shape)
            else:
                y = self._run(node, [self.outputs[name] for name in node.inputs])
            if self.keep_grads and y.requires_grad:
                y.retain_grad()
            self.outputs[node.name] = y
        return self.outputs[self.loss_input].reshape(len(x), -1)

    def loss(self, z, y_bytes):
        """The fused loss on the loss input z, targets decoded from loader bytes."""
        if self.loss_kind == "cross_softmax" and self.graph.label_kind == LABEL_INDEX:
            return Fn.cross_entropy(z, torch.from_numpy(_index_labels(y_bytes)).long())
        target = torch.from_numpy(dense_targets(y_bytes, self.graph, z.shape[1]))
        if self.loss_kind == "mse":
            return Fn.mse_loss(z, target)
        if self.loss_kind == "cross_softmax":
            return Fn.cross_entropy(z, target)  # soft (probability) targets
        return Fn.binary_cross_entropy_with_logits(z, target)

    def parameter_tensors(self):
        """npz key -> the torch tensor holding it."""
        found = {}
        for name, keys in self.graph.params.items():
            for key in keys:
                if key in TORCH_NAMES:
                    found[f"{name}:{key}"] = getattr(self.module(name), TORCH_NAMES[key])
        return found

    def load(self, weights):
        with torch.no_grad():
            for key, tensor in self.parameter_tensors().items():
                tensor.copy_(torch.from_numpy(np.array(weights[key])))

    def weights(self):
        return {key: t.detach().numpy().copy() for key, t in self.parameter_tensors().items()}


def _index_labels(y_bytes):
    return np.ascontiguousarray(y_bytes).view(np.int32).reshape(-1)


def dense_targets(y_bytes, graph, features):
    """Float targets (N, features) exactly as the C loss reads them: index
    labels become one-hot rows, or the value itself when features == 1."""
    if graph.label_kind != LABEL_INDEX:
        return np.ascontiguousarray(y_bytes).view(np.float32).reshape(-1, features).copy()
    labels = _index_labels(y_bytes)
    if features == 1:
        return labels.astype(np.float32)[:, None]
    return np.eye(features, dtype=np.float32)[labels]


def make_optimizer(spec, params):
    opt = spec.optimizer
    params = [p for p in params if p.requires_grad]
    if opt.type == "sgd":
        return torch.optim.SGD(params, lr=opt.learning_rate, momentum=opt.momentum)
    return torch.optim.Adam(params, lr=opt.learning_rate, betas=(opt.beta1, opt.beta2),
                            eps=opt.epsilon)


def batch_rows(n_samples, batch, index):
    """Sample indices of batch `index` over consecutive samples (wrapping like the C loader)."""
    return (np.arange(batch) + index * batch) % n_samples


@dataclass
class MicrotrainRun:
    graph: object
    session: Session
    x_rows: np.ndarray      # what the C loader reads
    y_bytes: np.ndarray
    start: dict             # weights before training
    losses: np.ndarray      # per iteration


def microtrain_run(spec, x, y, n_iter, seed=0, inspect=False):
    """Trains a microtrain Session on n_iter consecutive batches (--no-shuffle).
    inspect=True: every tensor keeps its own bytes (no reuse, no in-place
    sharing) so intermediate values can be read afterwards; otherwise the
    default smallest plan, so golden checks also cover memory reuse."""
    graph = build_training_graph(spec, label_kind_for(spec, y))
    program = build_program(graph, "no-reuse", in_place=False) if inspect else \
        build_program(graph)
    session = Session(program, seed)
    x_rows, y_bytes = encode(x, y, graph)
    start = session.weights()
    order = np.arange(len(x_rows), dtype=np.int32)
    losses, _ = session.train(x_rows, y_bytes, order, 0, n_iter) if n_iter else (None, None)
    return MicrotrainRun(graph, session, x_rows, y_bytes, start, losses)


def reference_training(graph, weights, x_rows, y_bytes, n_iter, first_batch=0):
    """Trains the torch twin from `weights` on the batches Session.train(x_rows,
    y_bytes, arange(n), first_batch, n_iter) sees. Returns (losses, weights)."""
    twin = TorchTwin(graph)
    twin.load(weights)
    twin.train()
    optimizer = make_optimizer(graph.spec, twin.parameters())
    losses = []
    for it in range(n_iter):
        rows = batch_rows(len(x_rows), graph.batch, first_batch + it)
        optimizer.zero_grad()
        loss = twin.loss(twin(torch.from_numpy(x_rows[rows])), y_bytes[rows])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses, np.float32), twin.weights()
