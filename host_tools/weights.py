"""Initial values of persistent tensors and the weight npz format:
keys '<layer>:weight', '<layer>:bias', '<layer>:gamma', '<layer>:beta',
'<layer>:running_mean', '<layer>:running_var' (PyTorch layouts)."""
import numpy as np

from host_tools.errors import UserError
from host_tools.graph.tensors import DTYPES

NPZ_KEYS = ("weight", "bias", "gamma", "beta", "running_mean", "running_var")


def initial_value(tensor, rng):
    kind = tensor.init[0]
    if kind == "uniform":
        return rng.uniform(-tensor.init[1], tensor.init[1], tensor.shape).astype(np.float32)
    if kind == "normal":
        return (rng.standard_normal(tensor.shape) * tensor.init[1]).astype(np.float32)
    if kind == "const":
        return np.full(tensor.shape, tensor.init[1], np.float32)
    if kind == "array":   # integer programs: quantized weights and multipliers
        return np.asarray(tensor.init[1]).reshape(tensor.shape)
    if kind == "seed":  # xorshift32 state: any non-zero word
        return np.array([rng.integers(1, 2**32 - 1)], np.uint32)
    return np.zeros(tensor.shape, DTYPES[tensor.dtype])


def initial_values(graph, seed):
    """tensor id -> starting value of every persistent tensor (seeded). A tiled
    weight draws its value whole, where the untiled graph draws it (its chunks
    draw nothing: they start as zeros), then gets cut into its chunks."""
    from host_tools.graph.tiling import split_values
    rng = np.random.default_rng(seed)
    chunks = getattr(graph, "chunks", {})
    return split_values(graph, {t.id: initial_value(t, rng) for t in graph.tensors
                                if t.persistent or t.id in chunks})


def npz_params(graph):
    """npz key -> tensor for every exported layer parameter."""
    return {f"{layer}:{key}": graph.tensors[tid]
            for layer, keys in graph.params.items() for key, tid in keys.items()
            if key in NPZ_KEYS}


def load_weights_npz(path, graph):
    """Reads a weight npz and checks every key and shape; returns {tensor id: array}."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read weights: {error}", str(path)) from None
    expected = npz_params(graph)
    values = {}
    with archive:
        for key in archive.files:
            if "#" in key:   # integer tensors and scales of an int8 / fixed dump
                continue
            if key not in expected:
                raise UserError(f"unknown key '{key}' (expected some of: "
                                f"{', '.join(sorted(expected))})", str(path))
            tensor, array = expected[key], archive[key]
            if tuple(array.shape) != tuple(tensor.shape):
                raise UserError(f"key '{key}' has shape {tuple(array.shape)}, the model needs "
                                f"{tuple(tensor.shape)}", str(path))
            values[tensor.id] = array.astype(np.float32)
    return values


def save_weights_npz(path, weights):
    np.savez(path, **weights)
