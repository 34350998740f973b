"""activation: relu, sigmoid, tanh, softmax (over the last axis, as NNTrainer)
whose derivative reads the output only, so the planner may run it in place;
leaky_relu, swish, gelu (ACTX ops) whose derivative reads the input."""
from core_cy import CONSTANTS
from host_tools.graph.builder import CALC_DERIV, FORWARD
from host_tools.graph.nodes import numel

READS_INPUT = ("leaky_relu", "swish", "gelu")


def _params_list(b, node):
    act = node.props["activation"]
    cols = node.shape[-1] if act == "softmax" else numel(node.shape)
    rows = b.batch * numel(node.shape) // cols
    return [rows, cols, CONSTANTS[f"ACT_{act.upper()}"]]


def params(b, node):
    pass  # no weights


def _x_params(b, node):
    return [b.batch * numel(node.shape), CONSTANTS[f"ACT_{node.props['activation'].upper()}"]]


def forward(b, node, x, y):
    if node.props["activation"] in READS_INPUT:
        b.op("ACTX_FWD", FORWARD, [x, y], _x_params(b, node), layer=node.name)
    else:
        b.op("ACT_FWD", FORWARD, [x, y], _params_list(b, node), layer=node.name)


def calc_deriv(b, node, dy, dxs):
    if node.props["activation"] in READS_INPUT:
        b.op("ACTX_DERIV", CALC_DERIV, [b.inputs_of(node)[0], dy, dxs[0]], _x_params(b, node),
             layer=node.name)
    else:
        b.op("ACT_DERIV", CALC_DERIV, [b.outputs[node.name], dy, dxs[0]],
             _params_list(b, node), layer=node.name)
