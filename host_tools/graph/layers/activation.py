"""activation: relu, sigmoid, tanh, softmax (over the last axis, as NNTrainer).
The derivative reads the output only, so the planner may run it in place."""
from core_cy import CONSTANTS
from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.nodes import numel


def _params_list(b, node):
    act = node.props["activation"]
    cols = node.shape[-1] if act == "softmax" else numel(node.shape)
    rows = b.batch * numel(node.shape) // cols
    return [rows, cols, CONSTANTS[f"ACT_{act.upper()}"]]


def params(b, node):
    pass  # no weights


def forward(b, node, x, y):
    b.op("ACT_FWD", FORWARD, [x, y], _params_list(b, node), layer=node.name)


def calc_deriv(b, node, dy, dxs):
    b.op("ACT_DERIV", CALC_DERIV, [b.outputs[node.name], dy, dxs[0]], _params_list(b, node),
         layer=node.name)
