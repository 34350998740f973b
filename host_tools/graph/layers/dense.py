"""fully_connected: y = x W^T + b over the input's LAST dimension, as NNTrainer
(and nn.Linear) do; leading dimensions are rows. nn.Linear weight layout."""
from host_tools.graph.builder import CALC_DERIV, CALC_GRAD, FORWARD
from host_tools.graph.initializers import bias_init, weight_init
from host_tools.graph.nodes import numel


def _dims(b, node):
    n_in = node.in_shapes[0][-1]
    return [b.batch * numel(node.in_shapes[0]) // n_in, n_in, node.shape[-1]]


def params(b, node):
    n_in, n_out = node.in_shapes[0][-1], node.shape[-1]
    b.parameter(node, "weight", (n_out, n_in), weight_init(node, n_in, n_out), node.trainable)
    if not node.props.get("disable_bias", False):
        b.parameter(node, "bias", (n_out,), bias_init(node, n_out), node.trainable)


def forward(b, node, x, y):
    p = b.params[node.name]
    b.op("FC_FWD", FORWARD, [x, p["weight"], p.get("bias", -1), y], _dims(b, node), layer=node.name)


def calc_grad(b, node, x, dy):
    g = b.grads[node.name]
    b.op("FC_GRAD", CALC_GRAD, [x, dy, g["weight"], g.get("bias", -1)], _dims(b, node),
         layer=node.name)


def calc_deriv(b, node, dy, dxs):
    b.op("FC_DERIV", CALC_DERIV, [dy, b.params[node.name]["weight"], dxs[0]], _dims(b, node),
         layer=node.name)
