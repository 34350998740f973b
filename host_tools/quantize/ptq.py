"""Post-training quantization: float weights + calibrated ranges -> what the
integer graph is built from. Batch norms are folded into the layer before
them (docs/int8.md); a ReLU right after a layer lends it its range (the
layer's output then saturates at the real 0, the ReLU keeps it)."""
from dataclasses import dataclass, field

import numpy as np

from host_tools.errors import UserError
from host_tools.quantize import scales
from host_tools.quantize.calibrate import calibrate
from host_tools.quantize.fold import fold_batch_norm, foldable_pairs
from host_tools.weights import npz_params

ELEMENT_BYTES = {"int8": 1, "fixed": 2}
# Layer outputs get 1.5x their calibrated range: training grows activations past
# what the starting weights give, and static scales would then saturate
# (bench/int8_accuracy.py: Adam on digits, int8+QAS -1.4 -> -0.4 points vs float32).
# The input keeps its own range: the data does not grow.
HEADROOM = 1.5
# Weights get headroom too: a channel's scale is frozen at quantization, and
# fine-tuning grows the largest |w| of a row about 2x (median; up to 3x on the
# digits CNN with Adam, which moves every weight by about lr per step), so
# max / 127 saturates them. Measured on the digits CNN with Adam (docs/int8.md,
# "Weight headroom"): 41 % of conv1's weights stuck at the bound, int8+QAS -1.61
# and fixed -1.50 points vs float32; with these, -0.50 and -0.11. int8 spends one
# of its 7 bits on it (3x gained nothing more), fixed two of 15.
WEIGHT_HEADROOM = {1: 2.0, 2: 4.0}
WEIGHTED = ("fully_connected", "conv2d", "depthwise_conv2d")
# layers whose output has their input's scale and zero point
SAME_SCALE = ("flatten", "reshape", "identity", "pooling2d", "dropout")


@dataclass
class QuantLayer:
    """One weighted layer: integer weight and bias with their float scales."""
    weight: np.ndarray        # int8 / int16, PyTorch layout
    weight_scale: np.ndarray  # float32 per output channel
    bias: np.ndarray          # int32 (zeros when the layer has none but a folded BN gave one)
    bias_scale: np.ndarray    # float32 per output channel: s_x * s_w[o]
    has_bias: bool            # the float layer has a bias (else a folded batch norm made one)


@dataclass
class QuantizedModel:
    precision: str
    element_bytes: int
    activations: dict                    # node name -> (scale float32, zero point int)
    layers: dict = field(default_factory=dict)   # layer name -> QuantLayer
    folded: dict = field(default_factory=dict)   # batch-norm name -> the layer it folded into

    def activation(self, name):
        return self.activations[name]

    def quantize_input(self, x, input_name):
        """The float samples as the integer program's input holds them."""
        scale, zero_point = self.activations[input_name]
        return scales.quantize_activation(x, scale, zero_point, self.element_bytes)


def _node_ranges(nodes, ranges, folded):
    """Range each integer tensor gets: a layer takes that of the batch norm it
    absorbed, and a layer (or its batch norm) followed only by a ReLU takes the ReLU's."""
    consumers = {}
    for node in nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    source = {node.name: node.name for node in nodes}
    for bn, layer in folded.items():
        source[layer] = bn
    for node in nodes:
        users = consumers.get(source[node.name], [])
        if node.type in (*WEIGHTED, "addition") and len(users) == 1 \
                and users[0].type == "activation" \
                and users[0].props.get("activation") == "relu":
            source[node.name] = users[0].name
    return {name: ranges.of(src) for name, src in source.items()}


def _propagate(nodes, params):
    """Scale-preserving layers (flatten, pooling, ReLU, folded BN) copy their input's."""
    for node in nodes:
        if node.name in params:
            continue
        if node.type in SAME_SCALE or node.type == "batch_normalization" or (
                node.type == "activation" and node.props.get("activation") == "relu"):
            params[node.name] = params[node.inputs[0]]
    return params


def quantize_model(float_graph, float_values, x, y, precision):
    """float_values: npz key -> float array (PyTorch layouts) for every parameter."""
    element_bytes = ELEMENT_BYTES[precision]
    nodes = float_graph.nodes
    by_id = {t.id: float_values[key] for key, t in npz_params(float_graph).items()}
    ranges = calibrate(float_graph, by_id, x, y)
    pairs = foldable_pairs(nodes)
    folded = {bn.name: layer.name for layer, bn in pairs}
    for node in nodes:
        if node.type == "batch_normalization" and node.name not in folded:
            raise UserError(f"{precision}: batch norm '{node.name}' does not follow a conv or "
                            f"dense layer and cannot be folded")
    weights = _folded_weights(nodes, float_values, pairs)
    node_ranges = _node_ranges(nodes, ranges, folded)
    params = {}
    for node in nodes:
        if node.type in ("input", "addition") or node.type in WEIGHTED:
            low, high = node_ranges[node.name]
            widen = 1.0 if node.type == "input" else HEADROOM
            params[node.name] = scales.activation_params(low * widen, high * widen,
                                                         element_bytes)
    params = _propagate(nodes, params)
    model = QuantizedModel(precision, element_bytes, params, folded=folded)
    for node in nodes:
        if node.type in WEIGHTED:
            model.layers[node.name] = _quant_layer(weights[node.name], params[node.inputs[0]][0],
                                                   element_bytes)
    return model


def _folded_weights(nodes, values, pairs):
    """layer name -> (weight, bias or None, the float layer has a bias), batch norms folded in."""
    weights = {node.name: (values[f"{node.name}:weight"], values.get(f"{node.name}:bias"),
                           f"{node.name}:bias" in values)
               for node in nodes if node.type in WEIGHTED}
    for layer, bn in pairs:
        w, b, had_bias = weights[layer.name]
        key = bn.name
        weights[layer.name] = (*fold_batch_norm(
            w, b, values[f"{key}:gamma"], values[f"{key}:beta"], values[f"{key}:running_mean"],
            values[f"{key}:running_var"], bn.props.get("epsilon", 1e-3)), had_bias)
    return weights


def _quant_layer(weight_and_bias, input_scale, element_bytes):
    weight, bias, has_bias = weight_and_bias
    w_scale = scales.weight_scales(weight, element_bytes, WEIGHT_HEADROOM[element_bytes])
    b_scale = (np.float64(input_scale) * w_scale.astype(np.float64)).astype(np.float32)
    bias = np.zeros(len(weight), np.float32) if bias is None else bias
    return QuantLayer(scales.quantize_weight(weight, w_scale, element_bytes), w_scale,
                      scales.quantize_bias(bias, input_scale, w_scale), b_scale, has_bias)
