"""The C op table drives validation and dispatch: unknown kinds are refused by
both, a written tensor may not overlap one the op reads (except a declared
in-place pair, exactly), and index tensors cannot make a kernel write out of
bounds."""
import ctypes

import numpy as np
import pytest

from core_cy import OP_KINDS, Executor, ExecutorError
from core_cy._core import OP_TABLE, STATUS_TEXT
from host_tools.bundle.layout import make_op
from host_tools.graph.in_place import IN_PLACE_SLOTS
from kernel_lib import core_lib  # noqa: F401  (fixture)

FWD, DERIV = 0, 2
MT_ERR_BAD_OP, MT_ERR_ALIAS = 1, 5


def _ops(*records):
    return np.stack(records)


def _executor(ops, tensors, arena_bytes, input=0, labels=0, metrics=0, output=0):
    return Executor(ops, np.array(tensors, np.uint32), arena_bytes, input, labels, metrics, output)


def test_kinds_come_from_the_c_table():
    assert OP_KINDS["FC_FWD"] == 1 and OP_KINDS["ADAM_APPLY"] == 81
    # 27 + 17 NNTrainer + 21 integer + 3 fused + 4 integer (fused, QMAXPOOL_DERIV_X) + 6 tiled ops
    # + 5 conv tiles + 5 tiled fused / l2norm ops + the packed FC forward
    assert len(OP_KINDS) == len(set(OP_KINDS.values())) == 89
    assert OP_TABLE["FC_FWD_PACKED"]["roles"] == ("r", "r", "r", "w", "w")
    assert OP_TABLE["ACT_FWD"]["roles"] == ("r", "w")
    assert OP_TABLE["ADD"]["optional"] == (3, 4, 5, 6, 7)


def test_host_in_place_pairs_are_declared_in_the_table():
    for kind, (read_slot, write_slot) in IN_PLACE_SLOTS.items():
        assert OP_TABLE[kind]["in_place"] == (write_slot, read_slot), kind


def test_status_text_comes_from_c(core_lib):  # noqa: F811
    assert STATUS_TEXT[MT_ERR_ALIAS] == core_lib.mt_status_str(MT_ERR_ALIAS).decode()
    assert core_lib.mt_status_str(99) == b"unknown status"


def test_unknown_kind_is_refused_by_validation():
    ops = _ops(make_op(999, FWD, [0, 1], [4]))
    with pytest.raises(ExecutorError) as info:
        _executor(ops, [(0, 16), (16, 16)], 32)
    assert info.value.status == MT_ERR_BAD_OP


class _Program(ctypes.Structure):
    _fields_ = [("ops", ctypes.c_void_p), ("n_ops", ctypes.c_uint32),
                ("tensors", ctypes.c_void_p), ("n_tensors", ctypes.c_uint32),
                ("arena_bytes", ctypes.c_uint32), ("input", ctypes.c_int32),
                ("labels", ctypes.c_int32), ("metrics", ctypes.c_int32),
                ("output", ctypes.c_int32)]


def test_unknown_kind_is_refused_by_the_executor(core_lib):  # noqa: F811
    """mt_run itself, on a program nobody validated: an error, never a kernel."""
    ops = _ops(make_op(OP_KINDS["COPY"], FWD, [0, 1], [4]), make_op(999, FWD, [0, 1], [4]))
    tensors = np.array([(0, 16), (16, 16), (32, 8)], np.uint32)
    arena = np.zeros(40, np.uint8)
    arena[:16] = 7
    prog = _Program(ops.ctypes.data, len(ops), tensors.ctypes.data, 3, 40, 0, 1, 2, 1)
    status = core_lib.mt_run(ctypes.addressof(prog), arena.ctypes.data, 0, None)
    assert status == MT_ERR_BAD_OP
    assert arena[16:32].tolist() == [7] * 16  # the copy before it ran


def _fc_then_relu(relu_in, relu_out):
    """FC_FWD X(1,4) W(4,4) -> Y, then ACT_FWD relu over (relu_in, relu_out) tensor ids."""
    return _ops(make_op(OP_KINDS["FC_FWD"], FWD, [0, 1, -1, 2], [1, 4, 4]),
                make_op(OP_KINDS["ACT_FWD"], FWD, [relu_in, relu_out], [1, 4, 0]))


def test_write_overlapping_a_read_is_refused():
    # FC's Y starts 8 bytes into X
    with pytest.raises(ExecutorError) as info:
        _executor(_fc_then_relu(2, 2), [(0, 16), (32, 64), (8, 16)], 96, metrics=1)
    assert info.value.status == MT_ERR_ALIAS


def test_in_place_pair_may_alias_exactly_but_not_partly():
    tensors = [(0, 16), (16, 64), (80, 16), (80, 16), (84, 16)]
    _executor(_fc_then_relu(2, 3), tensors, 112, metrics=1)  # relu Y == X: in place
    with pytest.raises(ExecutorError) as info:
        _executor(_fc_then_relu(2, 4), tensors, 112, metrics=1)  # relu Y shifted by 4 bytes
    assert info.value.status == MT_ERR_ALIAS


def test_unused_params_must_be_zero():
    ops = _fc_then_relu(2, 3)
    ops[0]["p"][5] = 1
    with pytest.raises(ExecutorError) as info:
        _executor(ops, [(0, 16), (16, 64), (80, 16), (96, 16)], 112, metrics=1)
    assert info.value.status == MT_ERR_BAD_OP


def test_maxpool_deriv_with_a_float_index_tensor_stays_in_bounds():
    """IDX is an FC output (floats whose bits are huge or negative int32s):
    the program validates and runs; the derivative skips every such index."""
    x, w, idx, dy, dx = range(5)  # tensor 5 guards the bytes after dX
    ops = _ops(make_op(OP_KINDS["FC_FWD"], FWD, [x, w, -1, idx], [1, 4, 4]),
               make_op(OP_KINDS["MAXPOOL_DERIV"], DERIV, [dy, idx, dx],
                       [1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2]))
    tensors = [(0, 16), (16, 64), (80, 16), (96, 16), (112, 64), (176, 64)]
    ex = _executor(ops, tensors, 240, input=x, metrics=dy, output=dx)
    view = ex.arena.view(np.float32)
    view[0:4] = [1.0, -1.0, 3.0, 1e6]
    scales = np.array([1e9, -1e9, -7.0, 1e30], np.float32)
    view[4:20] = (np.eye(4, dtype=np.float32) * scales[:, None]).ravel()
    view[24:28] = 5.0
    ex.run(train=True)
    assert np.all(view[28:44] == 0.0)   # every index was outside the 4x4 plane
    assert np.all(view[44:60] == 0.0)   # nothing written past dX
