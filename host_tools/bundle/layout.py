"""Byte layout of a .mtb bundle (docs/bundle-format.md). The record dtypes,
versions and numbered constants come from the C headers through core_cy (the
dtypes are built from the C structs' offsetof/sizeof), so the device's layout
is defined once; this module adds only the container's struct formats, which
are checked against the C sizes on import."""
import struct

import numpy as np

from core_cy import CONSTANTS
from core_cy._core import (BUNDLE_CONSTANTS, BUNDLE_FORMAT_VERSION, BUNDLE_OP_DTYPE,
                           BUNDLE_SWAP_EVENT_DTYPE, BUNDLE_TENSOR_DTYPE)
from core_cy._core import KERNEL_ABI_VERSION  # noqa: F401  (re-exported)

MAGIC = b"MTBF"
FORMAT_MAJOR, FORMAT_MINOR = BUNDLE_FORMAT_VERSION

NO_TENSOR = CONSTANTS["NO_TENSOR"]
LABEL_INDEX, LABEL_DENSE = CONSTANTS["LABEL_INDEX"], CONSTANTS["LABEL_DENSE"]
WHERE_ARENA, WHERE_FLASH = BUNDLE_CONSTANTS["WHERE_ARENA"], BUNDLE_CONSTANTS["WHERE_FLASH"]
TRAIN_SHUFFLE = BUNDLE_CONSTANTS["TRAIN_SHUFFLE"]
TRAIN_EVAL_EPOCH = BUNDLE_CONSTANTS["TRAIN_EVAL_EPOCH"]

# magic, major, minor, section count, total length; then a CRC of these 16 bytes.
FILE_HEADER = struct.Struct("<4sHHII")
# tag, payload length; then a CRC of tag, length and padded payload.
SECTION_HEADER = struct.Struct("<4sI")
CRC = struct.Struct("<I")
PROG = struct.Struct("<IIIiiiiIIIIII")
TRAIN = struct.Struct("<IIIII")
INIT_HEADER = struct.Struct("<IIII")
DATA_HEADER = struct.Struct("<I")
MICRO = struct.Struct("<I")    # MICR: passes per iteration

TAG_PROG, TAG_OPS, TAG_TENS, TAG_SWAP = b"PROG", b"OPS ", b"TENS", b"SWAP"
TAG_INIT, TAG_TRAIN, TAG_DATA, TAG_MODEL, TAG_NAMES = b"INIT", b"TRAN", b"DATA", b"MODL", b"NAME"
TAG_TEST = b"test"   # lowercase: optional, readers before it skip it
TAG_MICRO = b"MICR"  # uppercase: a reader that would not accumulate refuses the bundle

OP_DTYPE = BUNDLE_OP_DTYPE                  # mt_op
TENSOR_DTYPE = BUNDLE_TENSOR_DTYPE          # mt_tensor
SWAP_EVENT_DTYPE = BUNDLE_SWAP_EVENT_DTYPE  # mt_swap_event


def _check_sizes():
    c = BUNDLE_CONSTANTS
    pairs = {"file header": (FILE_HEADER.size + CRC.size, c["HEADER_BYTES"]),
             "section header": (SECTION_HEADER.size + CRC.size, c["SECTION_HEADER_BYTES"]),
             "PROG": (PROG.size, c["PROG_BYTES"]), "TRAN": (TRAIN.size, c["TRAIN_BYTES"]),
             "INIT header": (INIT_HEADER.size, c["INIT_HEADER_BYTES"]),
             "MICR": (MICRO.size, c["MICRO_BYTES"])}
    for name, (python_bytes, c_bytes) in pairs.items():
        if python_bytes != c_bytes:
            raise ImportError(f"bundle {name}: {python_bytes} bytes here, {c_bytes} in mt_bundle.h")


_check_sizes()


def padded(length: int) -> int:
    """Payloads and init blocks are padded with zeros to a multiple of 4 bytes."""
    return (length + 3) & ~3


def make_op(kind: int, phase: int, tensors, params=(), floats=()) -> np.ndarray:
    """One op record (a 0-d structured array); unused tensor slots are NO_TENSOR."""
    op = np.zeros((), OP_DTYPE)
    op["kind"], op["phase"] = kind, phase
    op["t"][:] = NO_TENSOR
    op["t"][: len(tensors)] = tensors
    op["p"][: len(params)] = params
    op["f"][: len(floats)] = floats
    return op
