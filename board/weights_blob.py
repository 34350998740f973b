"""The weights a board sends on a weights download, the same from every engine
(board/trainer.py on CPython, board/mp_engine.py on MicroPython): numpy-free."""

import struct


def weights_blob(model, read_tensor):
    """MODL params in sorted key order: u32 tensor id | u32 nbytes | bytes, each.
    model: the bundle's MODL JSON; read_tensor(tid) -> the tensor's current bytes."""
    out = bytearray()
    params = model.get("params", {})
    for key in sorted(params):
        tid = int(params[key]["tensor"])
        # a tiled weight (issue 11) is its chunk tensors' bytes in row order
        chunks = params[key].get("chunks")
        data = b"".join(bytes(read_tensor(int(c))) for c in chunks) if chunks else read_tensor(tid)
        out += struct.pack("<II", tid, len(data)) + data
    return bytes(out)
