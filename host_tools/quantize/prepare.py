"""The whole host path from a float model to an integer training graph:
float graph, float weights (--init-weights or the seeded init), calibration
on the data, quantization, integer graph."""
import sys
from dataclasses import replace

import numpy as np

from host_tools.errors import UserError
from host_tools.graph.training_graph import build_training_graph
from host_tools.graph.fused_update_q import fuse_integer_updates
from host_tools.quantize.graph import build_integer_graph, check_supported
from host_tools.quantize.ptq import quantize_model
from host_tools.weights import initial_values, load_weights_npz, npz_params

RANDOM_CALIBRATION_SAMPLES = 64


def float_graph_of(spec, label_kind):
    """The float32 twin of an integer model: same layers, batch and loss."""
    return build_training_graph(replace(spec, precision="float32", micro_batch=0), label_kind)


def float_weights(graph, seed, weights=None):
    """npz key -> float array: the seeded init, overridden by an npz path or dict."""
    by_id = initial_values(graph, seed)
    if isinstance(weights, (str, bytes)) or hasattr(weights, "__fspath__"):
        by_id.update(load_weights_npz(weights, graph))
        weights = None
    values = {key: by_id[t.id] for key, t in npz_params(graph).items()}
    values.update(weights or {})
    return values


def calibration_samples(graph, data):
    """The data's training samples, or (planning without data) standard normal ones."""
    if data is not None:
        return data.x, data.y
    print("microtrain: warning: no --data: integer scales calibrated on random inputs "
          "(fine for memory figures; pass --data for a bundle that trains)", file=sys.stderr)
    rng = np.random.default_rng(0)
    n = max(RANDOM_CALIBRATION_SAMPLES, graph.batch)
    x = rng.standard_normal((n, *graph.tensors[graph.input].shape[1:])).astype(np.float32)
    classes = graph.tensors[graph.output].numel // graph.batch
    return x, rng.integers(0, max(classes, 2), n)


def quantized_graph(spec, label_kind, data=None, weights=None, seed=0, fused=True):
    """spec.precision is int8 or fixed -> (integer graph, its float twin); fused:
    FC weight gradients fused with their update (graph.fused_layers names them)."""
    check_supported(spec)
    float_graph = float_graph_of(spec, label_kind)
    if label_kind != float_graph.label_kind or float_graph.loss != "cross_softmax":
        raise UserError(f"{spec.source}: precision {spec.precision} trains with softmax "
                        f"cross-entropy on class labels only")
    values = float_weights(float_graph, seed, weights)
    x, y = calibration_samples(float_graph, data)
    quant = quantize_model(float_graph, values, x, y, spec.precision)
    graph = build_integer_graph(spec, quant, spec.qas)
    graph.fused_layers = fuse_integer_updates(graph) if fused else []
    return graph, float_graph
