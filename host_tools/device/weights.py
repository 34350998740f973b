"""The board's DOWNLOAD what=weights blob -> named arrays.

The blob is one record per entry of the bundle's MODL "params", in sorted
key order: u32 tensor id, u32 nbytes, raw float32 bytes. The names and
shapes come from the bundle, so pulling needs the bundle the board runs;
every record is checked against it (a board running another bundle shows up
here rather than as silently wrong weights)."""
import struct

import numpy as np

from host_tools.errors import UserError

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
        entries.append((key, tensor, shape))
    return entries


def decode_weights(blob, model, bundle_path):
    """{'<layer>:weight': array, ...} in the shapes the bundle's model names."""
    out, offset = {}, 0
    for key, tensor, shape in weight_entries(model, bundle_path):
        if offset + RECORD_HEADER.size > len(blob):
            raise _mismatch(bundle_path, f"weights end before '{key}'")
        tid, nbytes = RECORD_HEADER.unpack_from(blob, offset)
        offset += RECORD_HEADER.size
        if tid != tensor or nbytes != 4 * int(np.prod(shape)) or offset + nbytes > len(blob):
            raise _mismatch(bundle_path, f"record for '{key}' is tensor {tid} of {nbytes} bytes, "
                                         f"the bundle has tensor {tensor} of shape {shape}")
        out[key] = np.frombuffer(blob, np.float32, nbytes // 4, offset).reshape(shape).copy()
        offset += nbytes
    if offset != len(blob):
        raise _mismatch(bundle_path, f"{len(blob) - offset} bytes left after the last weight")
    return out


def _mismatch(bundle_path, detail):
    return UserError(f"the board's weights do not match bundle {bundle_path} ({detail}); "
                     f"pass the bundle the board was flashed with (--bundle)")
