"""Small valid bundles built by hand: a 3-input, 2-class linear classifier
trained with softmax cross-entropy and SGD (ops follow mt_program.h).
Shared by tests/test_bundle.py and the fuzz seed corpus."""
from __future__ import annotations

import numpy as np

from host_tools.bundle import layout
from host_tools.bundle.content import BundleContent, Dataset, InitRecord, TrainSettings

FC_FWD, FC_GRAD = 1, 2
LOSS_CE_SOFTMAX_FWD, LOSS_CE_SOFTMAX_DERIV = 72, 73
SGD_APPLY = 80
FORWARD, CALC_GRAD, CALC_DERIV, APPLY = 0, 1, 2, 3
SWAP_BEFORE, SWAP_AFTER = 0, 1
READ_START, READ_WAIT, WRITE = 0, 1, 2

N, IN, OUT = 2, 3, 2
# (name, bytes) in tensor id order.
TENSORS = [("x", N * IN * 4), ("w", OUT * IN * 4), ("b", OUT * 4), ("z", N * OUT * 4),
           ("labels", N * 4), ("p", N * OUT * 4), ("metrics", 8), ("dz", N * OUT * 4),
           ("dw", OUT * IN * 4), ("db", OUT * 4)]
X, W, B, Z, T, P, METRICS, DZ, DW, DB = range(len(TENSORS))


def tensor_table() -> np.ndarray:
    table = np.zeros(len(TENSORS), layout.TENSOR_DTYPE)
    offset = 0
    for i, (_, nbytes) in enumerate(TENSORS):
        table[i] = (offset, nbytes)
        offset += nbytes
    return table


def op_list(lr: float = 0.1) -> np.ndarray:
    ops = [
        layout.make_op(FC_FWD, FORWARD, [X, W, B, Z], [N, IN, OUT]),
        layout.make_op(LOSS_CE_SOFTMAX_FWD, FORWARD, [Z, T, P, METRICS], [N, OUT, layout.LABEL_INDEX]),
        layout.make_op(LOSS_CE_SOFTMAX_DERIV, CALC_DERIV, [P, T, DZ], [N, OUT, layout.LABEL_INDEX]),
        layout.make_op(FC_GRAD, CALC_GRAD, [X, DZ, DW, DB], [N, IN, OUT]),
        layout.make_op(SGD_APPLY, APPLY, [W, DW], [OUT * IN], [lr, 0.0]),
        layout.make_op(SGD_APPLY, APPLY, [B, DB], [OUT], [lr, 0.0]),
    ]
    return np.stack(ops)


def swap_schedule(tensors: np.ndarray) -> np.ndarray:
    """W lives in flash between iterations: read before op 0, written back after its update."""
    w_offset, w_bytes = int(tensors[W]["offset"]), int(tensors[W]["nbytes"])
    events = [(0, SWAP_BEFORE, READ_START, 1, w_offset, 0, w_bytes),
              (0, SWAP_BEFORE, READ_WAIT, 1, w_offset, 0, w_bytes),
              (4, SWAP_AFTER, WRITE, 0, w_offset, 0, w_bytes)]
    return np.array(events, layout.SWAP_EVENT_DTYPE)


def dataset(n_samples: int = 5, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, IN)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return Dataset(x, y)


def tiny_content(with_swap: bool = True, with_data: bool = True, with_names: bool = True) -> BundleContent:
    tensors = tensor_table()
    rng = np.random.default_rng(1)
    w = rng.standard_normal(OUT * IN).astype(np.float32).tobytes()
    b = np.zeros(OUT, np.float32).tobytes()
    init = [InitRecord(W, layout.WHERE_ARENA, int(tensors[W]["offset"]), w),
            InitRecord(B, layout.WHERE_ARENA, int(tensors[B]["offset"]), b)]
    if with_swap:
        init.append(InitRecord(W, layout.WHERE_FLASH, 0, w))
    return BundleContent(
        ops=op_list(), tensors=tensors, arena_bytes=int(sum(n for _, n in TENSORS)),
        input=X, labels=T, metrics=METRICS, output=P, batch=N, x_numel=IN,
        label_kind=layout.LABEL_INDEX, y_bytes=4,
        flash_bytes=OUT * IN * 4 if with_swap else 0,
        swap_events=swap_schedule(tensors) if with_swap else None,
        init=init,
        train=TrainSettings(epochs=3, iterations=0, checkpoint_interval=2, shuffle_seed=7,
                            flags=layout.TRAIN_SHUFFLE),
        dataset=dataset() if with_data else None,
        model={"name": "tiny-linear", "layers": [{"type": "fc", "in": IN, "out": OUT}]},
        names=[name for name, _ in TENSORS] if with_names else None,
    )
