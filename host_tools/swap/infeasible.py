"""When no schedule fits: the error and the bound every schedule must respect."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .residency import Tensor
from .uses import TensorUse


class SwapInfeasible(Exception):
    """The RAM budget is below what this scheduler can reach; `min_budget` does fit."""

    def __init__(self, budget: int, min_budget: int, operand_floor: int):
        self.budget, self.min_budget, self.operand_floor = budget, min_budget, operand_floor
        super().__init__(
            f"RAM budget {budget} B cannot be met: the smallest feasible budget is {min_budget} B "
            f"(no schedule can go below {operand_floor} B, the bytes some op needs resident at once)")


def operand_bound(uses: Sequence[TensorUse], n_ops: int, alignment: int, pinned: Iterable[int] = ()) -> int:
    """Peak resident bytes with every live gap swapped: each op's operands (plus loaded
    tensors at op 0 and pinned tensors throughout their life) must be in RAM together."""
    pinned = set(pinned)
    profile = np.zeros(n_ops + 1, dtype=np.int64)
    for use in uses:
        tensor = Tensor(use, n_ops, alignment)
        swappable = frozenset() if use.id in pinned else frozenset(g.index for g in tensor.gaps if g.live)
        for first, last in tensor.residency(swappable).intervals:
            profile[first:last + 1] += tensor.aligned
    return int(profile[:n_ops].max(initial=0))
