"""The board's DOWNLOAD what=weights blob -> named arrays.

The blob is one record per entry of the bundle's MODL "params", in sorted
key order: u32 tensor id, u32 nbytes, raw bytes (float32, or for int8 /
fixed bundles the integers, turned into floats with the per-channel scales
MODL gives them, the integers kept under '#q' keys). The names and
shapes come from the bundle, so pulling needs the bundle the board runs;
every record is checked against it (a board running another bundle shows up
here rather than as silently wrong weights)."""
import struct

import numpy as np

from host_tools.errors import UserError
from host_tools.graph.tensors import DTYPES

RECORD_HEADER = struct.Struct("<II")


def weight_entries(model, bundle_path):
    """[(key, tensor id, shape)] from the bundle's MODL "params", sorted by key;
    a bundle without them (or with malformed ones) cannot name the weights."""
    params = model.get("params") if isinstance(model, dict) else None
    if not isinstance(params, dict) or not params:
        raise UserError(f"bundle {bundle_path} has no weight names and shapes (its model "
                        f"section lacks 'params'); plan it again with `microtrain plan -o`")
    entries = []
    for key in sorted(params):
        entry = params[key]
        try:
            tensor, shape = int(entry["tensor"]), tuple(int(d) for d in entry["shape"])
        except (KeyError, TypeError, ValueError):
            raise UserError(f"bundle {bundle_path}: weight '{key}' lacks a tensor id or a "
                            f"shape in the model section") from None
        if entry.get("dtype", "f32") not in DTYPES:
            raise UserError(f"bundle {bundle_path}: weight '{key}' has unknown dtype "
                            f"{entry.get('dtype')!r}")
        entries.append((key, tensor, shape))
    return entries


def _value(raw, entry, shape):
    """-> {suffix: array}: a float weight, or an integer one with its float twin."""
    values = np.frombuffer(raw, DTYPES[entry.get("dtype", "f32")]).reshape(shape).copy()
    if "scale" not in entry:
        return {"": values}
    scale = np.asarray(entry["scale"], np.float64).reshape((-1,) + (1,) * (len(shape) - 1))
    return {"": (values * scale).astype(np.float32), "#q": values,
            "#scale": np.asarray(entry["scale"], np.float32)}


def decode_weights(blob, model, bundle_path):
    """{'<layer>:weight': array, ...} in the shapes the bundle's model names."""
    out, offset = {}, 0
    for key, tensor, shape in weight_entries(model, bundle_path):
        if offset + RECORD_HEADER.size > len(blob):
            raise _mismatch(bundle_path, f"weights end before '{key}'")
        tid, nbytes = RECORD_HEADER.unpack_from(blob, offset)
        offset += RECORD_HEADER.size
        entry = model["params"][key]
        item = np.dtype(DTYPES[entry.get("dtype", "f32")]).itemsize
        if tid != tensor or nbytes != item * int(np.prod(shape)) or offset + nbytes > len(blob):
            raise _mismatch(bundle_path, f"record for '{key}' is tensor {tid} of {nbytes} bytes, "
                                         f"the bundle has tensor {tensor} of shape {shape}")
        for suffix, value in _value(blob[offset:offset + nbytes], entry, shape).items():
            out[key + suffix] = value
        offset += nbytes
    if offset != len(blob):
        raise _mismatch(bundle_path, f"{len(blob) - offset} bytes left after the last weight")
    return out


def _mismatch(bundle_path, detail):
    return UserError(f"the board's weights do not match bundle {bundle_path} ({detail}); "
                     f"pass the bundle the board was flashed with (--bundle)")
