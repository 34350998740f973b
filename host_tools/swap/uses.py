"""The scheduler's input (how one iteration uses each tensor) and its per-op timeline.

Convention for values that exist before op 0: the data loader writes `loaded` tensors
into the arena before every iteration. A non-persistent tensor whose first use reads it
(e.g. a metrics accumulator the executor zeroes before op 0) is treated the same way.
Both get a pseudo write at op 0, so their value is dirty (never in flash) until evicted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class TensorUse:
    id: int
    size: int                 # bytes
    reads: tuple[int, ...]    # op indices reading it (sorted)
    writes: tuple[int, ...]   # op indices writing it (in-place updates appear in both)
    persistent: bool          # value survives across iterations
    loaded: bool              # written by the data loader before op 0


@dataclass(frozen=True)
class Use:
    """Everything one op does to one tensor."""
    op: int
    reads: bool
    writes: bool


def check_uses(uses: Sequence[TensorUse], n_ops: int) -> None:
    ids = [use.id for use in uses]
    if len(set(ids)) != len(ids):
        raise ValueError("tensor ids must be unique")
    for use in uses:
        if use.size <= 0:
            raise ValueError(f"tensor {use.id}: size must be > 0")
        for op in use.reads + use.writes:
            if not 0 <= op < n_ops:
                raise ValueError(f"tensor {use.id}: op {op} outside 0..{n_ops - 1}")
        if use.persistent and use.loaded:
            raise ValueError(f"tensor {use.id}: a loaded tensor is rewritten every iteration, "
                             "so it cannot also be persistent")


def starts_before_op0(use: TensorUse) -> bool:
    """Value present in the arena before op 0 each iteration (see module docstring)."""
    if use.loaded:
        return True
    if use.persistent or not use.reads:
        return False
    first_write = min(use.writes, default=None)
    return first_write is None or use.reads[0] <= first_write


def timeline(use: TensorUse) -> tuple[Use, ...]:
    """The tensor's uses in op order, one entry per op; loaded values get a write at op 0."""
    read_ops, write_ops = set(use.reads), set(use.writes)
    if starts_before_op0(use):
        write_ops.add(0)
    return tuple(Use(op, op in read_ops, op in write_ops) for op in sorted(read_ops | write_ops))
