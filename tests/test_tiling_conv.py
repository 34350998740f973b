"""Conv layers tiled by output channels (issue 11): each conv tile op gives the
untiled op's bits (forward, weight and bias gradient, input derivative resumed
tile after tile) for every scratch size and GEMM micro-kernel set; bad tile
params are refused; whole trainings with tiled convs equal the untiled ones
bit for bit, at the smallest RAM too, and through the board simulator."""
import ctypes

import numpy as np
import pytest

from core_cy import CONSTANTS, OP_KINDS
from host_tools.graph.tiling_conv import channel_bounds, tile_params
from kernel_lib import core_lib, ptr  # noqa: F401  (fixture)

MIN_BYTES = CONSTANTS["CONV_SCRATCH_BYTES"]
SIZES = (MIN_BYTES, 4096, 262144)
# n, c, hw, k, stride, pad, oc, chunks, bias: correlation order (c >= 4, <= 9
# taps, stride 1), scatter order (one input channel, 5x5 taps, stride 2), a
# tail of fewer than 4 filters, 1x1 direct
CASES = [(2, 4, 7, 3, 1, 1, 8, 2, True), (3, 1, 9, 3, 1, 1, 8, 2, False),
         (2, 3, 9, 3, 2, 1, 13, 3, True), (2, 6, 8, 5, 1, 2, 16, 4, True),
         (2, 8, 6, 3, 2, 0, 12, 3, False), (2, 16, 5, 1, 1, 0, 10, 2, True),
         (1, 5, 6, 3, 1, 0, 16, 2, True)]


class _Op(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint16), ("phase", ctypes.c_uint8), ("reserved", ctypes.c_uint8),
                ("t", ctypes.c_int32 * 8), ("p", ctypes.c_int32 * 16), ("f", ctypes.c_float * 4)]


class _Params:   # what tile_params reads of an Op
    def __init__(self, params):
        self.params = params


def _run(lib, kind, params, *arrays):
    op = _Op(kind=OP_KINDS[kind])
    op.p[:len(params)] = params
    fn = getattr(lib, "mt_run_" + kind.lower().replace("_next", ""))
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    fn(ctypes.addressof(op), (ctypes.c_void_p * len(arrays))(*(ptr(a) for a in arrays)), 0)


def _scratch(size):
    return np.full(size // 4, np.nan, np.float32)   # stale bytes must never leak in


def _conv_params(case, size):
    n, c, hw, k, stride, pad, oc, _, _ = case
    out = (hw + 2 * pad - k) // stride + 1
    return [n, c, hw, hw, oc, k, k, stride, stride, pad, pad, out, out, 1, size]


def _arrays(case):
    n, c, hw, k, stride, pad, oc, _, bias = case
    out = (hw + 2 * pad - k) // stride + 1
    rng = np.random.default_rng(sum(case))
    return (rng.standard_normal((n, c, hw, hw)).astype(np.float32),
            rng.standard_normal((oc, c, k, k)).astype(np.float32),
            rng.standard_normal(oc).astype(np.float32) if bias else None,
            rng.standard_normal((n, oc, out, out)).astype(np.float32))


def _untiled(lib, case, size):
    x, w, b, dy = _arrays(case)
    p = _conv_params(case, size)
    y, dw, dx = np.zeros(dy.shape, np.float32), np.zeros_like(w), np.zeros_like(x)
    db = None if b is None else np.zeros_like(b)
    _run(lib, "CONV_FWD", p, x, w, b, y, _scratch(size))
    _run(lib, "CONV_GRAD", p, x, dy, dw, db, _scratch(size))
    _run(lib, "CONV_DERIV", p, dy, w, dx, _scratch(size))
    return y, dw, db, dx


def _tiled(lib, case, size, restart=False):
    x, w, b, dy = _arrays(case)
    p = _conv_params(case, size)
    y, dw, dx = (np.full(a.shape, np.nan, np.float32) for a in (dy, w, x))
    db = None if b is None else np.full(b.shape, np.nan, np.float32)
    for i, (o0, o1) in enumerate(channel_bounds(case[6], case[7])):
        tp, rows = tile_params(_Params(p), o0, o1), np.ascontiguousarray(w[o0:o1])
        dw_rows = np.full(rows.shape, np.nan, np.float32)
        first = i == 0 or restart
        _run(lib, "CONV_FWD_TILE" if first else "CONV_FWD_TILE_NEXT", tp, x, rows, b, y,
             _scratch(size))
        _run(lib, "CONV_GRAD_TILE", tp, x, dy, dw_rows, db if i == 0 else None, _scratch(size))
        _run(lib, "CONV_DERIV_TILE" if first else "CONV_DERIV_TILE_NEXT", tp, dy, rows, dx,
             _scratch(size))
        dw[o0:o1] = dw_rows
    return y, dw, db, dx


def _variants(lib):  # noqa: F811
    lib.mt_gemm_select.argtypes = [ctypes.c_char_p]
    lib.mt_gemm_select.restype = ctypes.c_int
    found = [v for v in ("scalar", "sse", "avx2", "neon") if lib.mt_gemm_select(v.encode())]
    lib.mt_gemm_select(None)
    assert "scalar" in found
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}h{}k{}s{}p{}o{}t{}b{:d}".format(*c))
def test_conv_tiles_give_the_untiled_ops_bits(core_lib, case):  # noqa: F811
    assert len(channel_bounds(case[6], case[7])) >= 2
    try:
        for variant in _variants(core_lib):
            assert core_lib.mt_gemm_select(variant.encode())
            want = _untiled(core_lib, case, MIN_BYTES)   # the reference: minimum scratch
            for size in SIZES:
                got = _tiled(core_lib, case, size)
                for name, a, b in zip(("y", "dw", "db", "dx"), want, got):
                    assert (a is None) == (b is None)
                    assert a is None or a.tobytes() == b.tobytes(), (variant, size, name)
    finally:
        core_lib.mt_gemm_select(None)


def test_derivative_tiles_differ_when_each_restarts_from_zero(core_lib):  # noqa: F811
    """The continuation is what makes dX whole: restarting loses earlier tiles."""
    case = CASES[0]
    assert _tiled(core_lib, case, MIN_BYTES, restart=True)[3].tobytes() != \
        _untiled(core_lib, case, MIN_BYTES)[3].tobytes()


# ---- validation ---------------------------------------------------------------------------

def _validate(kind, o0, rows, w_filters=None):
    """Runs mt_validate on one conv tile op over exactly-sized tensors."""
    from core_cy import Executor
    from host_tools.bundle.layout import make_op
    n, c, hw, k, oc = 1, 2, 5, 3, 13
    params = [n, c, hw, hw, oc, k, k, 1, 1, 1, 1, hw, hw, o0, 0, rows]
    sizes = {"x": n * c * hw * hw * 4, "w": (w_filters or max(rows, 1)) * c * k * k * 4,
             "b": oc * 4, "y": n * oc * hw * hw * 4, "s": MIN_BYTES}
    names = ["x", "w", "b", "y", "s"] if kind.startswith("CONV_FWD") else ["y", "w", "x", "s"]
    tensors, offset = [], 0
    for name in names:
        tensors.append((offset, sizes[name]))
        offset += -(-sizes[name] // 16) * 16
    op = make_op(OP_KINDS[kind], 0, list(range(len(names))), params)
    return Executor(np.stack([op]), np.array(tensors, np.uint32), offset, 0, 0, 0, 0)


@pytest.mark.parametrize("kind", ["CONV_FWD_TILE", "CONV_DERIV_TILE_NEXT"])
@pytest.mark.parametrize("o0, rows, why", [(2, 4, "not on the 4-channel grid"),
                                           (0, 3, "fewer than 4 channels"),
                                           (4, 6, "not a multiple of 4 and not the last"),
                                           (12, 4, "past the last channel"),
                                           (-4, 4, "negative"), (0, 0, "empty")])
def test_bad_tile_params_are_refused_with_one_line(kind, o0, rows, why):
    """(The same op with good params passes: the next test.)"""
    from core_cy import ExecutorError
    with pytest.raises(ExecutorError) as info:
        _validate(kind, o0, rows)
    message = str(info.value)
    assert info.value.status == 1 and "(op 0): bad op" in message and "\n" not in message, why


@pytest.mark.parametrize("o0, rows", [(0, 4), (4, 4), (8, 5), (0, 13)])
def test_good_tile_params_pass_and_the_weight_slot_holds_rows_filters(o0, rows):
    from core_cy import ExecutorError
    _validate("CONV_FWD_TILE", o0, rows)
    with pytest.raises(ExecutorError) as info:   # a chunk one filter short is refused
        _validate("CONV_FWD_TILE", o0, rows, w_filters=rows - 1)
    assert "(op 0): tensor smaller" in str(info.value)
