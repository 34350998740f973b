"""--dump-weights of an integer run: float weights in PyTorch layouts (the
integers times their scales, batch norms folded into the layer before them
and written as identities so the npz loads back into the float model), plus
the integer tensors and scales under '#' keys, which weight loaders skip:
    <layer>:weight#q  int8 / int16   <layer>:weight#scale  float32 per output channel
    <layer>:bias#q    int32          <layer>:bias#scale    float32 (s_x * s_w)
    <node>:output#scale, <node>:output#zero_point   activation quantization"""
import numpy as np

from host_tools.quantize.scales import dequantize

INTEGER_MARK = "#"


def dump_weights(session):
    """npz key -> array for a float or an integer session."""
    graph = session.graph
    quant = graph.quant
    if quant is None:
        return session.weights()
    values = session.weights()
    out = {}
    for layer, q in quant.layers.items():
        weight, bias = values[f"{layer}:weight"], values[f"{layer}:bias"]
        out[f"{layer}:weight"] = dequantize(weight, q.weight_scale, axis=0)
        out[f"{layer}:weight#q"], out[f"{layer}:weight#scale"] = weight, q.weight_scale
        out[f"{layer}:bias#q"], out[f"{layer}:bias#scale"] = bias, q.bias_scale
        out[f"{layer}:bias"] = dequantize(bias, q.bias_scale, axis=0)
    for bn, layer in quant.folded.items():
        _identity_batch_norm(out, graph, bn, layer, quant.layers[layer])
    for name, (scale, zero_point) in quant.activations.items():
        out[f"{name}:output#scale"] = np.float32(scale)
        out[f"{name}:output#zero_point"] = np.int32(zero_point)
    return out


def _identity_batch_norm(out, graph, bn, layer, q):
    """The batch norm becomes y = x in eval mode; a layer without a bias of its
    own hands its folded one to beta."""
    node = next(n for n in graph.nodes if n.name == bn)
    epsilon = node.props.get("epsilon", 1e-3)
    channels = len(q.weight_scale)
    out[f"{bn}:gamma"] = np.ones(channels, np.float32)
    out[f"{bn}:running_mean"] = np.zeros(channels, np.float32)
    out[f"{bn}:running_var"] = np.full(channels, 1.0 - epsilon, np.float32)
    out[f"{bn}:beta"] = np.zeros(channels, np.float32) if q.has_bias \
        else out.pop(f"{layer}:bias")
