"""Bundle writer: BundleContent -> bytes -> file. Every bundle is read back
through the C reader before it is written, so the host never ships a file
the device would refuse."""
from __future__ import annotations

import json
import os
import tempfile
import zlib
from typing import Iterable

import numpy as np

from host_tools.bundle import layout
from host_tools.bundle.content import BundleContent, Dataset

Section = tuple[bytes, bytes]  # (4-byte tag, payload)


def _pad(payload: bytes) -> bytes:
    return payload + b"\0" * (layout.padded(len(payload)) - len(payload))


def _section_bytes(tag: bytes, payload: bytes) -> bytes:
    if len(tag) != 4:
        raise ValueError(f"section tag {tag!r} must be 4 bytes")
    head = layout.SECTION_HEADER.pack(tag, len(payload))
    body = _pad(payload)
    crc = zlib.crc32(body, zlib.crc32(head))
    return head + layout.CRC.pack(crc) + body


def assemble(sections: Iterable[Section], major: int = layout.FORMAT_MAJOR,
             minor: int = layout.FORMAT_MINOR) -> bytes:
    """File header + sections, in the given order. Exposed so tests and
    future writers can add sections this module does not know."""
    encoded = [_section_bytes(tag, payload) for tag, payload in sections]
    total = layout.FILE_HEADER.size + layout.CRC.size + sum(map(len, encoded))
    head = layout.FILE_HEADER.pack(layout.MAGIC, major, minor, len(encoded), total)
    return b"".join([head, layout.CRC.pack(zlib.crc32(head)), *encoded])


def _records(array: np.ndarray, dtype: np.dtype, what: str) -> bytes:
    array = np.asarray(array)
    if array.dtype != dtype or array.ndim != 1:
        raise ValueError(f"{what} must be a 1-d array of dtype {dtype}, got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array).tobytes()


def _prog_payload(c: BundleContent) -> bytes:
    return layout.PROG.pack(len(c.ops), len(c.tensors), c.arena_bytes, c.input, c.labels,
                            c.metrics, c.output, c.batch, c.x_numel, c.label_kind, c.y_bytes,
                            c.flash_bytes, c.kernel_abi)


def _init_payload(c: BundleContent) -> bytes:
    parts = []
    for rec in c.init:
        parts.append(layout.INIT_HEADER.pack(rec.tensor, rec.where, rec.offset, len(rec.data)))
        parts.append(_pad(bytes(rec.data)))
    return b"".join(parts)


def _train_payload(c: BundleContent) -> bytes:
    t = c.train
    return layout.TRAIN.pack(t.epochs, t.iterations, t.checkpoint_interval, t.shuffle_seed, t.flags)


def _data_payload(data: Dataset) -> bytes:
    x = np.ascontiguousarray(data.x, dtype="<f4")
    y = np.ascontiguousarray(data.y)
    if x.ndim != 2 or len(y) != len(x):
        raise ValueError(f"dataset x must be (n, x_numel) with one label row per sample, got {x.shape}, {y.shape}")
    if y.dtype.kind == "i":
        y = y.astype("<i4")
    elif y.dtype.kind == "f":
        y = y.astype("<f4")
    else:
        raise ValueError(f"dataset y must be int (class index) or float (dense), got {y.dtype}")
    return layout.DATA_HEADER.pack(len(x)) + x.tobytes() + y.tobytes()


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def content_sections(c: BundleContent) -> list[Section]:
    sections = [
        (layout.TAG_PROG, _prog_payload(c)),
        (layout.TAG_TENS, _records(c.tensors, layout.TENSOR_DTYPE, "tensors")),
        (layout.TAG_OPS, _records(c.ops, layout.OP_DTYPE, "ops")),
    ]
    if c.micro_batches > 1:
        sections.append((layout.TAG_MICRO, layout.MICRO.pack(c.micro_batches)))
    if c.swap_events is not None:
        sections.append((layout.TAG_SWAP, _records(c.swap_events, layout.SWAP_EVENT_DTYPE, "swap events")))
    sections += [(layout.TAG_INIT, _init_payload(c)), (layout.TAG_TRAIN, _train_payload(c)),
                 (layout.TAG_MODEL, _json(c.model))]
    if c.names is not None:
        if len(c.names) != len(c.tensors):
            raise ValueError(f"{len(c.names)} names for {len(c.tensors)} tensors")
        sections.append((layout.TAG_NAMES, _json(list(c.names))))
    if c.test_dataset is not None:
        sections.append((layout.TAG_TEST, _data_payload(c.test_dataset)))
    if c.dataset is not None:  # last: the biggest, and a reader may stream up to it
        sections.append((layout.TAG_DATA, _data_payload(c.dataset)))
    return sections


def encode_bundle(content: BundleContent) -> bytes:
    return assemble(content_sections(content))


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Temp file in the same directory + fsync + os.replace: a reader sees the
    old file or the new one, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mtb-", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bundle(path: str | os.PathLike, program: BundleContent) -> bytes:
    """Encodes, checks with the device's reader (raises BundleError), writes
    atomically; returns the bytes written."""
    from core_cy._core import read_bundle  # the one reader, in C

    data = encode_bundle(program)
    read_bundle(data)
    write_atomic(path, data)
    return data
