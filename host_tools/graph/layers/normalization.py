"""batch_normalization over channels (or features) with NNTrainer's keys:
`momentum` weighs the OLD running statistic (default 0.99; the kernel takes
PyTorch's 1 - momentum), epsilon defaults to 0.001."""
from host_tools.graph.builder import CALC_DERIV, CALC_GRAD, FORWARD
from host_tools.graph.initializers import initializer
from host_tools.graph.nodes import numel


def _dims(b, node):
    channels = node.shape[0]
    return [b.batch, channels, numel(node.shape) // channels]


def _floats(node):
    return [1.0 - node.props.get("momentum", 0.99), node.props.get("epsilon", 1e-3)]


INITIALIZERS = (("gamma", "gamma_initializer", "ones"), ("beta", "beta_initializer", "zeros"),
                ("running_mean", "moving_mean_initializer", "zeros"),
                ("running_var", "moving_variance_initializer", "ones"))


def params(b, node):
    channels = node.shape[0]
    for key, prop, default in INITIALIZERS:
        init = initializer(node.props.get(prop, default), channels, channels)
        b.parameter(node, key, (channels,), init, node.trainable and key in ("gamma", "beta"))


def forward(b, node, x, y):
    p = b.params[node.name]
    channels = (node.shape[0],)
    mean = b.tensor(f"{node.name}:batch_mean", channels, "scratch")
    invstd = b.tensor(f"{node.name}:batch_invstd", channels, "scratch")
    b.saved[node.name] = {"mean": mean, "invstd": invstd}
    b.op("BN_FWD", FORWARD, [x, p["gamma"], p["beta"], p["running_mean"], p["running_var"], y,
                             mean, invstd], _dims(b, node), _floats(node), layer=node.name)


def calc_grad(b, node, x, dy):
    s, g = b.saved[node.name], b.grads[node.name]
    b.op("BN_GRAD", CALC_GRAD, [x, dy, s["mean"], s["invstd"], g["gamma"], g["beta"]],
         _dims(b, node), layer=node.name)


def calc_deriv(b, node, dy, dxs):
    s = b.saved[node.name]
    b.op("BN_DERIV", CALC_DERIV, [b.inputs_of(node)[0], dy, b.params[node.name]["gamma"],
                                  s["mean"], s["invstd"], dxs[0]], _dims(b, node),
         layer=node.name)
