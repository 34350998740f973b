"""Tensors and ops of the training graph (host-side, before planning)."""
from dataclasses import dataclass, field

import numpy as np

# Element types a tensor may hold; the planner plans numel x itemsize bytes.
DTYPES = {"f32": np.float32, "i32": np.int32, "u32": np.uint32, "i16": np.int16,
          "i8": np.int8, "u8": np.uint8}
ITEM_BYTES = {name: np.dtype(kind).itemsize for name, kind in DTYPES.items()}
# g16 (docs/int8.md): an int32 exponent, then int16 values: every integer gradient
G16 = "g16"
G16_HEADER_BYTES = 4

# What a tensor holds; used by reports, the planner and swap decisions.
KINDS = ("input", "label", "metrics", "activation", "derivative", "weight", "gradient",
         "optimizer", "state", "scratch")


@dataclass
class Tensor:
    id: int
    name: str
    shape: tuple
    kind: str
    dtype: str = "f32"
    persistent: bool = False   # survives across iterations
    loaded: bool = False       # written by the data loader before op 0
    init: tuple = ("zeros",)   # how persistent tensors start: zeros | const v | uniform b | seed

    @property
    def numel(self):
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self):
        if self.dtype == G16:
            return G16_HEADER_BYTES + 2 * self.numel
        return self.numel * ITEM_BYTES[self.dtype]


@dataclass
class Op:
    kind: str          # key of core_cy.OP_KINDS, e.g. "FC_FWD"
    phase: int
    tensors: list      # tensor ids
    params: list = field(default_factory=list)
    floats: list = field(default_factory=list)
    layer: str = ""

    @property
    def label(self):
        return f"{self.layer}.{self.kind.lower()}"
