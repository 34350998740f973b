"""layer_normalization over trailing c:h:w axes (`axis` = 3, 2,3 or 1,2,3;
NNTrainer requires axis), epsilon default 0.001 (NNTrainer's Epsilon);
gamma / beta hold one value per normalized element."""
from host_tools.errors import UserError
from host_tools.graph.builder import CALC_DERIV, CALC_GRAD, FORWARD
from host_tools.graph.initializers import initializer
from host_tools.graph.movement_shapes import full
from host_tools.graph.nodes import numel


def _dims(b, node):
    axes = node.props.get("axis")
    if not axes:
        raise UserError("missing key 'axis'", node.where)
    if list(axes) != list(range(axes[0], 4)):
        raise UserError(f"axis={','.join(map(str, axes))}: only trailing axes "
                        "(3; 2,3; 1,2,3) are supported", node.where)
    cols = numel(full(node.shape)[axes[0] - 1:])
    return [b.batch * numel(node.shape) // cols, cols]


def params(b, node):
    cols = _dims(b, node)[1]
    for key, prop, default in (("gamma", "gamma_initializer", "ones"),
                               ("beta", "beta_initializer", "zeros")):
        b.parameter(node, key, (cols,), initializer(node.props.get(prop, default), cols, cols),
                    node.trainable)


def forward(b, node, x, y):
    p, rows = b.params[node.name], _dims(b, node)[0]
    mean = b.tensor(f"{node.name}:row_mean", (rows,), "scratch")
    invstd = b.tensor(f"{node.name}:row_invstd", (rows,), "scratch")
    b.saved[node.name] = {"mean": mean, "invstd": invstd}
    b.op("LN_FWD", FORWARD, [x, p["gamma"], p["beta"], y, mean, invstd], _dims(b, node),
         [node.props.get("epsilon", 1e-3)], layer=node.name)


def calc_grad(b, node, x, dy):
    s, g = b.saved[node.name], b.grads[node.name]
    b.op("LN_GRAD", CALC_GRAD, [x, dy, s["mean"], s["invstd"], g["gamma"], g["beta"]],
         _dims(b, node), layer=node.name)


def calc_deriv(b, node, dy, dxs):
    s = b.saved[node.name]
    b.op("LN_DERIV", CALC_DERIV, [b.inputs_of(node)[0], dy, b.params[node.name]["gamma"],
                                  s["mean"], s["invstd"], dxs[0]], _dims(b, node),
         layer=node.name)
