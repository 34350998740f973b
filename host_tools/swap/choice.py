"""Which gaps are swapped, and the RAM profile that choice leaves.

The profile counts aligned bytes resident at each op with minimal residency (no
prefetch): it is the lower bound of any arena plan for the choice. Prefetch is added
later only where the plan leaves room, so it never raises the arena.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from host_tools.planning import Buffer

from .residency import Tensor


@dataclass(frozen=True)
class Move:
    tensor: int
    gap: int
    freed: tuple[tuple[int, int], ...]   # op ranges the tensor leaves
    cost: float                           # extra weighted bytes moved per iteration


class Choice:
    def __init__(self, tensors: Iterable[Tensor], n_ops: int, write_weight: float,
                 pinned: Iterable[int] = ()):
        self.tensors = {tensor.id: tensor for tensor in tensors}
        self.n_ops = n_ops
        self.write_weight = write_weight
        self.pinned = set(pinned)
        self.swapped: dict[int, frozenset[int]] = {tid: frozenset() for tid in self.tensors}
        self.profile = np.zeros(n_ops + 1, dtype=np.int64)
        self._moves: dict[int, list[Move]] = {}   # per tensor; only set() changes them
        for tensor in self.tensors.values():
            self._add_profile(tensor, self.swapped[tensor.id], +1)

    def _add_profile(self, tensor: Tensor, swapped: frozenset[int], sign: int) -> None:
        for first, last in tensor.residency(swapped).intervals:
            self.profile[first:last + 1] += sign * tensor.aligned

    def peak(self) -> int:
        return int(self.profile[:self.n_ops].max(initial=0))

    def set(self, tid: int, swapped: frozenset[int]) -> None:
        tensor = self.tensors[tid]
        self._add_profile(tensor, self.swapped[tid], -1)
        self._moves.pop(tid, None)
        self.swapped[tid] = swapped
        self._add_profile(tensor, swapped, +1)

    def cost(self, tid: int, swapped: frozenset[int] | None = None) -> float:
        tensor = self.tensors[tid]
        return tensor.cost(self.swapped[tid] if swapped is None else swapped, self.write_weight)

    def moves(self) -> list[Move]:
        """Every gap that could still be swapped out, with what it frees and costs."""
        found = []
        for tid in self.tensors:
            if tid not in self.pinned:
                if tid not in self._moves:
                    self._moves[tid] = self._tensor_moves(tid)
                found.extend(self._moves[tid])
        return found

    def _tensor_moves(self, tid: int) -> list[Move]:
        tensor, current = self.tensors[tid], self.swapped[tid]
        found = []
        for gap in tensor.gaps:
            if not gap.live or gap.index in current:
                continue
            wider = current | {gap.index}
            freed = self._freed(tensor, current, wider)
            if freed:
                found.append(Move(tid, gap.index, freed, self.cost(tid, wider) - self.cost(tid)))
        return found

    def _freed(self, tensor: Tensor, before: frozenset[int], after: frozenset[int]) -> tuple[tuple[int, int], ...]:
        """Op ranges resident under `before` but not under `after`."""
        mask = np.zeros(self.n_ops + 1, dtype=bool)
        for first, last in tensor.residency(before).intervals:
            mask[first:last + 1] = True
        for first, last in tensor.residency(after).intervals:
            mask[first:last + 1] = False
        ops = np.flatnonzero(mask)
        if ops.size == 0:
            return ()
        breaks = np.flatnonzero(np.diff(ops) > 1)
        starts = np.concatenate(([ops[0]], ops[breaks + 1]))
        ends = np.concatenate((ops[breaks], [ops[-1]]))
        return tuple(zip(starts.tolist(), ends.tolist()))

    def best_move(self, target: int) -> Move | None:
        """The gap that removes the most excess above `target` per weighted byte moved."""
        excess = np.maximum(self.profile - target, 0)
        capped: dict[int, list[int]] = {}   # tensor size -> prefix sums of min(excess, size)
        best, best_score = None, 0.0
        for move in self.moves():
            aligned = self.tensors[move.tensor].aligned
            if aligned not in capped:
                capped[aligned] = [0, *np.cumsum(np.minimum(excess, aligned)).tolist()]
            sums = capped[aligned]
            relief = sum(sums[last + 1] - sums[first] for first, last in move.freed)
            score = relief / move.cost
            if score > best_score:
                best, best_score = move, score
        return best

    def buffers(self) -> list[Buffer]:
        """Minimal-residency buffers of every tensor that is ever resident."""
        found = []
        for tid, tensor in self.tensors.items():
            intervals = tensor.residency(self.swapped[tid]).intervals
            if intervals:
                found.append(Buffer(tid, tensor.use.size, intervals))
        return found
