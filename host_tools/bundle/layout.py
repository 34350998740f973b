"""Byte layout of a .mtb bundle (docs/bundle-format.md), the single Python
definition of it. Record dtypes mirror the C structs the device uses in place;
tests/test_bundle.py checks them against sizeof/offsetof from the C compiler."""
import struct

import numpy as np

MAGIC = b"MTBF"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
# Op semantics of mt_program.h the planner targets (MT_KERNEL_ABI_VERSION in C).
KERNEL_ABI_VERSION = 1

NO_TENSOR = -1
LABEL_INDEX, LABEL_DENSE = 0, 1
WHERE_ARENA, WHERE_FLASH = 0, 1
TRAIN_SHUFFLE = 1 << 0
TRAIN_EVAL_EPOCH = 1 << 1

# magic, major, minor, section count, total length; then a CRC of these 16 bytes.
FILE_HEADER = struct.Struct("<4sHHII")
# tag, payload length; then a CRC of tag, length and padded payload.
SECTION_HEADER = struct.Struct("<4sI")
CRC = struct.Struct("<I")
PROG = struct.Struct("<IIIiiiiIIIIII")
TRAIN = struct.Struct("<IIIII")
INIT_HEADER = struct.Struct("<IIII")
DATA_HEADER = struct.Struct("<I")

TAG_PROG, TAG_OPS, TAG_TENS, TAG_SWAP = b"PROG", b"OPS ", b"TENS", b"SWAP"
TAG_INIT, TAG_TRAIN, TAG_DATA, TAG_MODEL, TAG_NAMES = b"INIT", b"TRAN", b"DATA", b"MODL", b"NAME"

# mt_op: kind u16, phase u8, reserved u8, int32 t[8], int32 p[16], float f[4].
OP_DTYPE = np.dtype([
    ("kind", "<u2"), ("phase", "u1"), ("reserved", "u1"),
    ("t", "<i4", (8,)), ("p", "<i4", (16,)), ("f", "<f4", (4,)),
])
TENSOR_DTYPE = np.dtype([("offset", "<u4"), ("nbytes", "<u4")])
SWAP_EVENT_DTYPE = np.dtype([
    ("op", "<u4"), ("when", "u1"), ("action", "u1"), ("tag", "<u2"),
    ("arena_offset", "<u4"), ("flash_offset", "<u4"), ("nbytes", "<u4"),
])


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
