"""The samples blob (upload kind 2, stored as DIR/samples.bin), little-endian:

    "MTSD" | u32 n_samples | u32 x_numel | u32 y_bytes
    | n_samples * x_numel float32 (sample-major) | n_samples * y_bytes label bytes

Labels are an int32 class index per sample (y_bytes 4) or float32 targets
(y_bytes = 4 * targets). The 16-byte header keeps both blocks 4-aligned.
decode_samples is numpy-free (the board side); encode_samples is for hosts
and takes numpy arrays (imported only there).
"""

import struct

MAGIC = b"MTSD"
HEADER = "<4sIII"
HEADER_BYTES = 16


class SamplesError(ValueError):
    """Not a well-formed samples blob."""


def decode_samples(blob):
    """-> (n_samples, x_numel, y_bytes, x memoryview, y memoryview); SamplesError if malformed."""
    if len(blob) < HEADER_BYTES:
        raise SamplesError("samples blob of %d bytes is shorter than its 16-byte header" % len(blob))
    magic, n, x_numel, y_bytes = struct.unpack_from(HEADER, blob, 0)
    if magic != MAGIC:
        raise SamplesError("samples blob starts with %r, expected %r" % (bytes(magic), MAGIC))
    if n == 0 or x_numel == 0 or y_bytes == 0 or y_bytes % 4:
        raise SamplesError("samples header n=%d x_numel=%d y_bytes=%d: all must be > 0, "
                           "y_bytes a multiple of 4" % (n, x_numel, y_bytes))
    x_size = n * x_numel * 4
    expected = HEADER_BYTES + x_size + n * y_bytes
    if len(blob) != expected:
        raise SamplesError("samples blob has %d bytes, its header implies %d" % (len(blob), expected))
    view = memoryview(blob)
    return n, x_numel, y_bytes, view[HEADER_BYTES:HEADER_BYTES + x_size], view[HEADER_BYTES + x_size:]


def encode_samples(x, y):
    """Host side: x (n, ...) floats, y (n,) int class labels or (n, k) float targets -> bytes."""
    import numpy as np
    x = np.ascontiguousarray(x, dtype="<f4")
    n = len(x)
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError("x has %d samples but y has %d" % (n, len(y)))
    if np.issubdtype(y.dtype, np.integer):
        if y.ndim != 1:
            raise ValueError("integer labels must have shape (n,), got %s" % (y.shape,))
        labels = np.ascontiguousarray(y, dtype="<i4")
    else:
        labels = np.ascontiguousarray(y, dtype="<f4").reshape(n, -1)
    x_numel = x.size // n if n else 0
    y_bytes = labels.nbytes // n if n else 0
    return struct.pack(HEADER, MAGIC, n, x_numel, y_bytes) + x.tobytes() + labels.tobytes()
