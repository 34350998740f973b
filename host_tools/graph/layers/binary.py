"""subtract (y = a - b) and multiply (y = a * b) of two same-shaped inputs,
as NNTrainer's operation layers. Derivatives: subtract da = dy, db = -dy;
multiply da = dy * b, db = dy * a."""
from types import SimpleNamespace

from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.nodes import numel


def _no_params(b, node):
    pass


def _size(b, node):
    return [b.batch * numel(node.shape)]


def _sub_forward(b, node, xs, y):
    b.op("SUB", FORWARD, [y, *xs], _size(b, node), layer=node.name)


def _sub_deriv(b, node, dy, dxs):
    if dxs[0] is not None:
        b.op("COPY", CALC_DERIV, [dy, dxs[0]], _size(b, node), layer=node.name)
    if dxs[1] is not None:
        b.op("NEG", CALC_DERIV, [dy, dxs[1]], _size(b, node), layer=node.name)


def _mul_forward(b, node, xs, y):
    b.op("MUL", FORWARD, [y, *xs], _size(b, node), layer=node.name)


def _mul_deriv(b, node, dy, dxs):
    a, other = b.inputs_of(node)
    for dx, factor in zip(dxs, (other, a)):
        if dx is not None:
            b.op("MUL", CALC_DERIV, [dx, dy, factor], _size(b, node), layer=node.name)


subtract = SimpleNamespace(params=_no_params, forward=_sub_forward, calc_deriv=_sub_deriv,
                           multi_input=True, n_inputs=2)
multiply = SimpleNamespace(params=_no_params, forward=_mul_forward, calc_deriv=_mul_deriv,
                           multi_input=True, n_inputs=2)
