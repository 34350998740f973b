"""What goes into a bundle, as host-side Python values. The writer checks
shapes and dtypes; the C reader (core_cy read_bundle) checks meaning."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from host_tools.bundle.layout import KERNEL_ABI_VERSION, LABEL_INDEX


@dataclass(frozen=True)
class InitRecord:
    """Initial bytes of a persistent tensor, at its arena offset or (for a
    tensor whose home is flash) at a flash offset."""
    tensor: int
    where: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 1
    iterations: int = 0            # per epoch; 0 = n_samples // batch
    checkpoint_interval: int = 0   # iterations; 0 = never
    shuffle_seed: int = 0
    flags: int = 0                 # layout.TRAIN_* bits


@dataclass(frozen=True)
class Dataset:
    """x: float32 (n_samples, x_numel). y: int32 (n_samples,) class indices,
    or float32 (n_samples, k) dense targets."""
    x: np.ndarray
    y: np.ndarray


@dataclass
class BundleContent:
    ops: np.ndarray                 # layout.OP_DTYPE
    tensors: np.ndarray             # layout.TENSOR_DTYPE
    arena_bytes: int
    input: int
    labels: int
    metrics: int
    output: int
    batch: int
    x_numel: int
    label_kind: int = LABEL_INDEX
    y_bytes: int = 4
    flash_bytes: int = 0
    kernel_abi: int = KERNEL_ABI_VERSION
    swap_events: Optional[np.ndarray] = None   # layout.SWAP_EVENT_DTYPE
    init: list[InitRecord] = field(default_factory=list)
    train: TrainSettings = field(default_factory=TrainSettings)
    dataset: Optional[Dataset] = None
    test_dataset: Optional[Dataset] = None     # held-out samples, evaluated after each epoch
    model: dict[str, Any] = field(default_factory=dict)
    names: Optional[list[str]] = None          # one per tensor
    micro_batches: int = 1                     # passes per iteration (batch is per pass)
