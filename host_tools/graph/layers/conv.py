"""conv2d and depthwise_conv2d (groups == channels), nn.Conv2d layout."""
import math

from core_cy import CONSTANTS
from host_tools.graph.builder import CALC_DERIV, CALC_GRAD, FORWARD
from host_tools.graph.shapes import conv_filters, conv_geometry


def _params_list(b, node):
    g = conv_geometry(node, node.in_shapes[0])
    filters, groups = conv_filters(node, g["c"])
    groups = g["c"] if groups != 1 else 1
    return [b.batch, g["c"], g["h"], g["w"], filters, g["kh"], g["kw"], g["sh"], g["sw"],
            g["ph"], g["pw"], g["oh"], g["ow"], groups]


def params(b, node):
    p = _params_list(b, node)
    channels, filters, kh, kw, groups = p[1], p[4], p[5], p[6], p[13]
    bound = 1.0 / math.sqrt(channels // groups * kh * kw)
    b.parameter(node, "weight", (filters, channels // groups, kh, kw), ("uniform", bound),
                node.trainable)
    if not node.props.get("disable_bias", False):
        b.parameter(node, "bias", (filters,), ("uniform", bound), node.trainable)


def _scratch(b, node, phase):
    """The kernel's working tile: a tensor used by this one op only, so the
    planner lets every conv op share the same bytes."""
    return b.tensor(f"{node.name}:scratch_{phase}", (CONSTANTS["CONV_SCRATCH_BYTES"] // 4,),
                    "scratch")


def forward(b, node, x, y):
    p = b.params[node.name]
    b.op("CONV_FWD", FORWARD, [x, p["weight"], p.get("bias", -1), y, _scratch(b, node, "fwd")],
         _params_list(b, node), layer=node.name)


def calc_grad(b, node, x, dy):
    g = b.grads[node.name]
    b.op("CONV_GRAD", CALC_GRAD,
         [x, dy, g["weight"], g.get("bias", -1), _scratch(b, node, "grad")],
         _params_list(b, node), layer=node.name)


def calc_deriv(b, node, dy, dxs):
    b.op("CONV_DERIV", CALC_DERIV,
         [dy, b.params[node.name]["weight"], dxs[0], _scratch(b, node, "deriv")],
         _params_list(b, node), layer=node.name)
