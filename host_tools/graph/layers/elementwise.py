"""addition (residual sums) and flatten / reshape (copies; views come with the planner)."""
from types import SimpleNamespace

from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.nodes import numel


def _no_params(b, node):
    pass


def _add_forward(b, node, xs, y):
    b.op("ADD", FORWARD, [y, *xs], [b.batch * numel(node.shape)], layer=node.name)


def _add_deriv(b, node, dy, dxs):
    for dx in dxs:
        if dx is not None:
            b.op("COPY", CALC_DERIV, [dy, dx], [b.batch * numel(node.shape)], layer=node.name)


def _copy_forward(b, node, x, y):
    b.op("COPY", FORWARD, [x, y], [b.batch * numel(node.shape)], layer=node.name)


def _copy_deriv(b, node, dy, dxs):
    b.op("COPY", CALC_DERIV, [dy, dxs[0]], [b.batch * numel(node.shape)], layer=node.name)


addition = SimpleNamespace(params=_no_params, forward=_add_forward, calc_deriv=_add_deriv,
                           multi_input=True)
view_copy = SimpleNamespace(params=_no_params, forward=_copy_forward, calc_deriv=_copy_deriv)
