"""Integer ops per layer (docs/int8.md op kinds 100-110): activations are int8
(int16 for fixed), gradients g16, weights int8/int16 with per-channel scales;
every scale reaches the kernels as an integer multiplier computed here."""
import numpy as np

from host_tools.graph.builder import APPLY, CALC_DERIV, CALC_GRAD, FORWARD
from host_tools.graph.nodes import numel
from host_tools.graph.tensors import G16
from host_tools.quantize import scales

MOMENTUM_ONE = 2**15   # QSGD_APPLY's mu is Q15
Q16 = 2.0**16          # QSGD steps are in Q16 units of a weight's integer


def act_dtype(quant):
    return "i8" if quant.element_bytes == 1 else "i16"


def fc_dims(b, node):
    n_in = node.in_shapes[0][-1]
    return [b.batch * numel(node.in_shapes[0]) // n_in, n_in, node.shape[-1]]


def _array(b, name, value, kind="state", dtype="i32"):
    value = np.asarray(value)
    return b.tensor(name, value.shape, kind, persistent=True, init=("array", value), dtype=dtype)


def _conv_params(b, node):
    from host_tools.graph.layers.conv import _params_list
    return _params_list(b, node)


def _zero_points(zx, zy=0):
    """QCONV's packed ZP param: (zx + 128) | (zy + 128) << 8."""
    return (zx + 128) | (zy + 128) << 8


def _is_conv(node):
    return node.type in ("conv2d", "depthwise_conv2d")


def fc_params(b, node, quant):
    """Weight, bias and the forward requantization RQ as persistent integer tensors
    (the derivative's WS and the SGD multipliers come with the ops that read them)."""
    layer = quant.layers[node.name]
    s_x, _ = quant.activation(node.inputs[0])
    s_y, _ = quant.activation(node.name)
    p = b.params.setdefault(node.name, {})
    p["weight"] = _array(b, f"{node.name}:weight", layer.weight, "weight", act_dtype(quant))
    p["bias"] = _array(b, f"{node.name}:bias", layer.bias, "weight")
    b.grads[node.name] = {key: b.tensor(f"{node.name}:{key}/grad", b.tensors[p[key]].shape,
                                        "gradient", dtype=G16) for key in ("weight", "bias")}
    requant = np.float64(s_x) * layer.weight_scale.astype(np.float64) / np.float64(s_y)
    p["requant"] = _array(b, f"{node.name}:requant", scales.channel_multipliers(requant))


def rate_factors(quant, node, qas, optimizer):
    """Per unit learning rate, the optimizer's multiplier of each channel
    (docs/int8.md): QAS undoes the s_w**2 error of the integer gradient (fixed
    always does). Weight steps are Q16 units of q and SGD's scale with the
    gradient's factor s_x (Adam's ratio m / sqrt(v) is free of it); int32 bias
    steps are whole units of q (a Q16 step would saturate int32 when s_b is tiny),
    so their multipliers carry no 2**16 (Adam's ratio is Q16: 2**-16)."""
    layer = quant.layers[node.name]
    s_x = np.float64(quant.activation(node.inputs[0])[0])
    s_w = layer.weight_scale.astype(np.float64)
    s_b = layer.bias_scale.astype(np.float64)
    qas = qas or quant.precision == "fixed"
    if optimizer == "adam":
        return {"weight": 1.0 / s_w, "bias": 1.0 / s_b / Q16} if qas else \
            {"weight": np.ones_like(s_w), "bias": np.ones_like(s_b) / Q16}
    if qas:
        return {"weight": s_x / s_w * Q16, "bias": 1.0 / s_b}
    return {"weight": s_x * s_w * Q16, "bias": s_b}


def gradient_factor(quant, node, key):
    """F of docs/int8.md: real gradient = g * 2**e * F (s_x for weights, 1 for biases)."""
    return float(quant.activation(node.inputs[0])[0]) if key == "weight" else 1.0


def fc_forward(b, node, quant, x, y):
    """QFC_FWD or QCONV_FWD: the accumulator requantized per output channel."""
    p = b.params[node.name]
    _, zx = quant.activation(node.inputs[0])
    _, zy = quant.activation(node.name)
    if _is_conv(node):
        kind, params = "QCONV_FWD", [*_conv_params(b, node), quant.element_bytes,
                                     _zero_points(zx, zy)]
    else:
        kind, params = "QFC_FWD", [*fc_dims(b, node), quant.element_bytes, zx, zy]
    b.op(kind, FORWARD, [x, p["weight"], p["bias"], y, p["requant"]], params, layer=node.name)


def fc_grad(b, node, quant, x, dy):
    g = b.grads[node.name]
    _, zx = quant.activation(node.inputs[0])
    if _is_conv(node):
        kind, params = "QCONV_GRAD", [*_conv_params(b, node), quant.element_bytes,
                                      _zero_points(zx)]
    else:
        kind, params = "QFC_GRAD", [*fc_dims(b, node), quant.element_bytes, zx]
    b.op(kind, CALC_GRAD, [x, dy, g["weight"], g["bias"]], params, layer=node.name)


def fc_deriv(b, node, quant, dy, dx):
    p = b.params[node.name]
    ws, ws_exp = scales.weight_multipliers(quant.layers[node.name].weight_scale)
    p["weight_multipliers"] = _array(b, f"{node.name}:weight_multipliers", ws)
    dims = _conv_params(b, node) if _is_conv(node) else fc_dims(b, node)
    b.op("QCONV_DERIV" if _is_conv(node) else "QFC_DERIV", CALC_DERIV,
         [dy, p["weight"], p["weight_multipliers"], dx],
         [*dims, quant.element_bytes, ws_exp], layer=node.name)


def _pool_params(b, node):
    from host_tools.graph.layers.pooling import _params_list
    return _params_list(b, node)


def _is_max(node):
    return node.props.get("pooling", "max") == "max"


def pool_forward(b, node, quant, x, y):
    """Both keep the input's scale. Max pooling stores no argmax: its backward
    finds each window's first maximum again in X (QMAXPOOL_DERIV_X), which the
    ReLU before it keeps alive anyway; int32 indices would cost 4 bytes per output."""
    if _is_max(node):
        b.op("QMAXPOOL_FWD", FORWARD, [x, y, -1],
             [*_pool_params(b, node), quant.element_bytes], layer=node.name)
    else:
        _, z = quant.activation(node.name)
        b.op("QAVGPOOL_FWD", FORWARD, [x, y], [*_pool_params(b, node), quant.element_bytes, z],
             layer=node.name)


def pool_deriv(b, node, quant, x, dy, dx):
    if _is_max(node):
        b.op("QMAXPOOL_DERIV_X", CALC_DERIV, [dy, x, dx],
             [*_pool_params(b, node), quant.element_bytes], layer=node.name)
    else:
        b.op("QAVGPOOL_DERIV", CALC_DERIV, [dy, dx], _pool_params(b, node), layer=node.name)


def add_forward(b, node, quant, a, other, y):
    """QADD_FWD: both inputs requantized to the output's scale and zero point."""
    s_y, z_y = quant.activation(node.name)
    (s_a, z_a), (s_b, z_b) = (quant.activation(name) for name in node.inputs)
    ma, sha = scales.quantize_multiplier(float(s_a) / float(s_y), True)
    mb, shb = scales.quantize_multiplier(float(s_b) / float(s_y), True)
    b.op("QADD_FWD", FORWARD, [a, other, y],
         [b.batch * numel(node.shape), quant.element_bytes, z_a, z_b, z_y, ma, sha, mb, shb],
         layer=node.name)


def g16_sum(b, node_name, total, extra):
    """total += extra (g16): a tensor read by two layers receives both derivatives."""
    b.op("QG16_ADD", CALC_DERIV, [total, extra, total], [b.tensors[total].numel],
         layer=node_name)


def relu_forward(b, node, quant, x, y):
    _, z = quant.activation(node.name)
    b.op("QRELU_FWD", FORWARD, [x, y], [b.batch * numel(node.shape), quant.element_bytes, z],
         layer=node.name)


def relu_deriv(b, node, quant, y, dy, dx):
    _, z = quant.activation(node.name)
    b.op("QRELU_DERIV", CALC_DERIV, [y, dy, dx],
         [b.batch * numel(node.shape), quant.element_bytes, z], layer=node.name)


def sgd_apply(b, node, key, quant, factors, rng):
    """One QSGD_APPLY per weight and bias; the LR tensor is rewritten when the rate changes."""
    opt = b.optimizer
    weight = b.params[node.name][key]
    shape = b.tensors[weight].shape
    rate = _array(b, f"{node.name}:{key}/lr",
                  scales.channel_multipliers(opt.learning_rate * factors, True))
    tensors = [weight, b.grads[node.name][key], rate, rng]
    mu = int(min(scales.round_half_away(opt.momentum * MOMENTUM_ONE), MOMENTUM_ONE - 1))
    if opt.momentum:
        # m16 (docs/int8.md): an int32 exponent then int16 values, i.e. numel + 2
        # int16 words; zeros are the empty momentum (exponent 0)
        tensors.append(b.tensor(f"{node.name}:{key}/momentum", (numel(shape) + 2,), "optimizer",
                                persistent=True, dtype="i16"))
    element = quant.element_bytes if key == "weight" else 4
    b.op("QSGD_APPLY", APPLY, tensors, [numel(shape), element, shape[0], mu], layer=node.name)
    return rate


Q30 = 2**30
ADAM_STEP_START = np.array([0, Q30, Q30], np.int32)   # [t, beta1**t, beta2**t in Q30]


def adam_apply(b, node, key, quant, factors, rng):
    """QADAM_APPLY: m and v as a16 (16-bit words, per-tensor base); eps in the integer gradient's
    units (eps / F), so the update is float Adam's."""
    opt = b.optimizer
    weight = b.params[node.name][key]
    shape = b.tensors[weight].shape
    rate = _array(b, f"{node.name}:{key}/lr",
                  scales.channel_multipliers(opt.learning_rate * factors, True))
    # a16 moments (docs/int8.md): an int32 base exponent then int16 words, i.e.
    # numel + 2 int16 words; zeros are empty moments
    m, v = (b.tensor(f"{node.name}:{key}/adam_{name}", (numel(shape) + 2,), "optimizer",
                     persistent=True, dtype="i16") for name in ("m", "v"))
    step = _array(b, f"{node.name}:{key}/adam_step", ADAM_STEP_START, "optimizer")
    eps_m, eps_sh = scales.quantize_multiplier(opt.epsilon / gradient_factor(quant, node, key))
    beta1, beta2 = (int(min(scales.round_half_away(beta * Q30), Q30 - 1))
                    for beta in (opt.beta1, opt.beta2))
    element = quant.element_bytes if key == "weight" else 4
    b.op("QADAM_APPLY", APPLY, [weight, b.grads[node.name][key], rate, m, v, step, rng],
         [numel(shape), element, shape[0], beta1, beta2, eps_m, eps_sh], layer=node.name)
    return rate
