"""Fused update per chunk and tiled regularization (issue 11). Each fused tile
kind (FC_GRAD_SGD_TILE, FC_GRAD_ADAM_TILE, FC_GRAD_ACC_TILE) gives, chunk by
chunk, the bits of the unfused tile ops it replaces (gradient tile then the
chunk's step or accumulation), and the l2norm loss over chunks the untiled
loss's bits; whole trainings with tiled + fused layers (SGD, momentum, Adam,
micro-batched, weight decay and the l2norm regularizer) equal the untiled,
unfused ones bit for bit, also at the smallest RAM and through the board."""
import copy
import ctypes

import numpy as np
import pytest

from core_cy import OP_KINDS
from kernel_lib import core_lib, ptr  # noqa: F401  (fixture)

P = ctypes.c_void_p
HYPER = {"sgd": (0.1, 0.0), "momentum": (0.05, 0.9), "adam": (0.01, 0.9, 0.999, 1e-7),
         "acc": ()}


class _Op(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint16), ("phase", ctypes.c_uint8), ("reserved", ctypes.c_uint8),
                ("t", ctypes.c_int32 * 8), ("p", ctypes.c_int32 * 16), ("f", ctypes.c_float * 4)]


def _run(lib, name, kind, params, floats, arrays, slots=8):  # noqa: F811
    """Runs one op's C adapter on numpy arrays (None: an absent slot)."""
    op = _Op(kind=OP_KINDS[kind])
    for i, value in enumerate(params):
        op.p[i] = value
    for i, value in enumerate(floats):
        op.f[i] = value
    for i in range(8):
        op.t[i] = 0 if i < len(arrays) and arrays[i] is not None else -1
    getattr(lib, name).argtypes = [P, P, ctypes.c_int]
    table = (P * slots)(*(ptr(a) if a is not None else None for a in arrays))
    getattr(lib, name)(ctypes.addressof(op), table, 0)


def _bounds(rows, chunks):
    cuts = [rows * i // chunks for i in range(chunks + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _operands(seed, n, inputs, out):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, inputs)).astype(np.float32)
    dy = rng.standard_normal((n, out)).astype(np.float32)
    w = rng.standard_normal((out, inputs)).astype(np.float32)
    m = rng.standard_normal((out, inputs)).astype(np.float32)
    v = rng.random((out, inputs)).astype(np.float32)
    return x, dy, w, m, v


def _unfused_tile(lib, rule, x, dy, w, m, v, step, db, o0, o1, last):  # noqa: F811
    """FC_GRAD_TILE then the chunk's step (or accumulation) on chunk [o0, o1)."""
    n, inputs = x.shape
    out = dy.shape[1]
    rows = o1 - o0
    dw = np.zeros((rows, inputs), np.float32)
    _run(lib, "mt_run_fc_grad_tile", "FC_GRAD_TILE", [n, inputs, out, o0, rows], [],
         [x, dy, dw, db])
    if rule == "acc":
        _run(lib, "mt_run_add", "ADD", [rows * inputs], [], [w, w, dw])
    elif rule == "adam":
        _run(lib, "mt_run_adam_apply_tile", "ADAM_APPLY_TILE", [rows * inputs, 0, last],
             HYPER[rule], [w, dw, m, v, step])
    else:
        _run(lib, "mt_run_sgd_apply", "SGD_APPLY", [rows * inputs, 0], HYPER[rule],
             [w, dw, m if rule == "momentum" else None])


def _fused_tile(lib, rule, x, dy, w, m, v, step, db, o0, o1, last):  # noqa: F811
    n, inputs = x.shape
    out = dy.shape[1]
    params = [n, inputs, out, o0, o1 - o0]
    scratch = np.full(n + inputs, np.nan, np.float32)
    if rule == "acc":
        _run(lib, "mt_run_fc_grad_acc", "FC_GRAD_ACC_TILE", params, [], [x, dy, w, db, scratch])
    elif rule == "adam":
        _run(lib, "mt_run_fc_grad_adam", "FC_GRAD_ADAM_TILE", [*params, last], HYPER[rule],
             [x, dy, w, m, v, step, db, scratch])
    else:
        _run(lib, "mt_run_fc_grad_sgd", "FC_GRAD_SGD_TILE", params, HYPER[rule],
             [x, dy, w, m if rule == "momentum" else None, db, scratch])


def _chunked(lib, kernel, rule, operands, chunks):  # noqa: F811
    """Runs `kernel` chunk by chunk on copies; the gathered W, M, V, dB and step."""
    x, dy, w, m, v = operands
    out = dy.shape[1]
    step, db = np.array([3], np.uint32), np.full(out, np.nan, np.float32)
    w_out, m_out, v_out = w.copy(), m.copy(), v.copy()
    for i, (o0, o1) in enumerate(_bounds(out, chunks)):
        parts = [np.ascontiguousarray(a[o0:o1]) for a in (w_out, m_out, v_out)]
        kernel(lib, rule, x, dy, *parts, step, db if i == 0 else None, o0, o1, int(o1 == out))
        for whole, part in zip((w_out, m_out, v_out), parts):
            whole[o0:o1] = part
    return w_out, m_out, v_out, db, step


@pytest.mark.parametrize("rule", ["sgd", "momentum", "adam", "acc"])
@pytest.mark.parametrize("n, inputs, out, chunks", [(1, 392, 10, 3), (4, 13, 7, 7), (3, 33, 16, 5)])
def test_fused_tiles_give_the_unfused_tiles_bits(core_lib, rule, n, inputs, out, chunks):  # noqa: F811
    operands = _operands(n * 1000 + inputs, n, inputs, out)
    want = _chunked(core_lib, _unfused_tile, rule, operands, chunks)
    got = _chunked(core_lib, _fused_tile, rule, operands, chunks)
    for name, a, b in zip(("w", "m", "v", "db", "step"), got, want):
        assert a.tobytes() == b.tobytes(), name
    assert not np.array_equal(want[0], operands[2])   # the step did change the weights
    assert want[4][0] == (4 if rule == "adam" else 3)


def test_l2norm_loss_over_chunks_gives_the_whole_loss(core_lib):  # noqa: F811
    rng = np.random.default_rng(4)
    w = (rng.standard_normal(37) * 3).astype(np.float32)
    whole = np.array([0.25, 1.0], np.float32)
    _run(core_lib, "mt_run_l2norm_loss", "L2NORM_LOSS", [37], [0.03], [w, whole])
    metrics, total = np.array([0.25, 1.0], np.float32), np.full(2, np.nan, np.float32)
    bounds = _bounds(37, 4)
    for i, (start, stop) in enumerate(bounds):
        kind = "L2NORM_LOSS_TILE_NEXT" if i else "L2NORM_LOSS_TILE"
        _run(core_lib, "mt_run_l2norm_loss_tile", kind, [stop - start, int(i == len(bounds) - 1)],
             [0.03], [np.ascontiguousarray(w[start:stop]), metrics, total])
        if i < len(bounds) - 1:
            assert metrics.tobytes() == np.array([0.25, 1.0], np.float32).tobytes()
    assert metrics.tobytes() == whole.tobytes() and whole[0] != np.float32(0.25)
