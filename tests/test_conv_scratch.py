"""The conv scratch size (host-planned, p[14] of the conv ops) changes no bit:
forward, weight gradient and input derivative sum every output element in
the same order whether the kernel runs the minimum 1344-byte tiles (Cortex-M)
or whole-plane / cross-sample GEMMs (Linux boards), on every GEMM micro-kernel
set this machine has. The reference is the minimum scratch; the kernels at
the minimum are checked against PyTorch by test_kernels_golden.py."""
import ctypes

import numpy as np
import pytest

from core_cy import CONSTANTS
from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.conv_scratch import MIN_BYTES, widen_conv_scratch
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from host_tools.session import Session
from kernel_lib import ConvShape, build, on_sets, ptr

P, U32 = ctypes.c_void_p, ctypes.c_uint32
SIZES = (MIN_BYTES, 1400, 2048, 4096, 9000, 40000, 262144, 1 << 21)
# n, c, hw, k, stride, pad, oc, groups: 1x1 direct, strided, grouped, > 9 taps,
# planes smaller than a tile, several samples per gradient chunk
CASES = [(2, 3, 9, 3, 1, 1, 8, 1), (2, 5, 11, 2, 2, 0, 6, 1), (3, 8, 7, 3, 1, 0, 5, 1),
         (2, 1, 12, 3, 1, 1, 4, 1), (2, 16, 6, 1, 1, 0, 7, 1), (4, 6, 14, 5, 1, 0, 16, 1),
         (3, 8, 8, 3, 1, 1, 16, 2), (2, 16, 7, 3, 1, 1, 32, 1), (2, 4, 6, 3, 1, 1, 8, 4),
         (5, 16, 4, 3, 1, 1, 32, 1), (3, 8, 5, 3, 1, 1, 8, 8)]


@pytest.fixture(scope="module")
def sized(tmp_path_factory):
    lib = build(tmp_path_factory.mktemp("conv_scratch"))
    lib.mt_conv_fwd_sized.argtypes = [P] * 6 + [U32]
    lib.mt_conv_grad_sized.argtypes = [P] * 6 + [U32]
    lib.mt_conv_deriv_sized.argtypes = [P] * 5 + [U32]
    return lib


def _run(lib, shape, arrays, size):
    x, w, b, dy = arrays
    scratch = np.full(size // 4, np.nan, np.float32)   # stale bytes must never leak in
    y = np.zeros(dy.shape, np.float32)
    dw, db, dx = np.zeros_like(w), np.zeros_like(b), np.zeros_like(x)
    lib.mt_conv_fwd_sized(ptr(shape), ptr(x), ptr(w), ptr(b), ptr(y), ptr(scratch), size)
    lib.mt_conv_grad_sized(ptr(shape), ptr(x), ptr(dy), ptr(dw), ptr(db), ptr(scratch), size)
    lib.mt_conv_deriv_sized(ptr(shape), ptr(dy), ptr(w), ptr(dx), ptr(scratch), size)
    return [a.view(np.uint32).copy() for a in (y, dw, db, dx)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "n{}c{}h{}k{}s{}p{}o{}g{}".format(*c))
def test_every_scratch_size_and_micro_kernel_set_gives_the_same_bits(sized, case):
    n, c, hw, k, stride, pad, oc, groups = case
    out = (hw + 2 * pad - k) // stride + 1
    shape = ConvShape(n, c, hw, hw, oc, k, k, stride, stride, pad, pad, out, out, groups)
    rng = np.random.default_rng(sum(case))
    arrays = (rng.standard_normal((n, c, hw, hw)).astype(np.float32),
              rng.standard_normal((oc, c // groups, k, k)).astype(np.float32),
              rng.standard_normal(oc).astype(np.float32),
              rng.standard_normal((n, oc, out, out)).astype(np.float32))
    assert sized.mt_gemm_select(b"scalar") == 1
    reference = _run(sized, shape, arrays, MIN_BYTES)
    for variant in on_sets(sized, (b"scalar", b"sse", b"avx2", b"neon")):
        for size in SIZES:
            for name, want, got in zip(("y", "dw", "db", "dx"), reference,
                                       _run(sized, shape, arrays, size)):
                assert np.array_equal(want, got), (variant, size, name)


def _lenet_like(batch):
    m = Model(loss="cross", batch_size=batch,
              optimizer={"type": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    m.add("in", "input", input_shape="1:12:12")
    m.add("c1", "conv2d", filters=6, kernel_size=3, activation="relu")
    m.add("c2", "conv2d", filters=16, kernel_size=3, activation="relu")
    m.add("p", "pooling2d", pooling="max", pool_size=2, stride=2)
    m.add("f", "flatten")
    m.add("out", "fully_connected", unit=10, activation="softmax")
    return m.spec()


def _trained(widen, cap=None):
    spec = _lenet_like(8)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    if widen:
        widen_conv_scratch(graph, cap)
    sizes = sorted({op.params[14] if len(op.params) > 14 else 0
                    for op in graph.ops if op.kind.startswith("CONV")})
    x_rows, y_bytes = encode(x, y, graph)
    session = Session(build_program(graph), seed=1)
    session.train(x_rows, y_bytes, np.arange(32, dtype=np.int32), 0, 3)
    return sizes, session.weights()


def test_a_widened_graph_trains_to_the_same_weights():
    small_sizes, small = _trained(False)
    assert small_sizes == [0]
    for cap in (4096, 262144):
        sizes, wide = _trained(True, cap)
        assert all(MIN_BYTES < size <= cap for size in sizes), sizes
        assert cap in sizes or cap > max(sizes), sizes   # capped, or every op at its full size
        for key in small:
            assert wide[key].tobytes() == small[key].tobytes(), (cap, key)


def test_the_builder_default_is_the_minimum_scratch():
    graph = build_training_graph(_lenet_like(32))
    scratch = [graph.tensors[op.tensors[-1]].nbytes for op in graph.ops
               if op.kind.startswith("CONV")]
    assert scratch and set(scratch) == {CONSTANTS["CONV_SCRATCH_BYTES"]}


@pytest.mark.parametrize("bad", [4, MIN_BYTES - 4, MIN_BYTES + 2, -8])
def test_a_bad_scratch_size_is_rejected(bad):
    graph = build_training_graph(_lenet_like(2))
    widen_conv_scratch(graph)
    conv = next(op for op in graph.ops if op.kind == "CONV_FWD")
    conv.params[14] = bad
    with pytest.raises(Exception, match="op"):
        Session(build_program(graph), seed=0)


def test_a_scratch_tensor_smaller_than_p14_is_rejected():
    graph = build_training_graph(_lenet_like(2))
    widen_conv_scratch(graph)
    conv = next(op for op in graph.ops if op.kind == "CONV_FWD")
    graph.tensors[conv.tensors[-1]].shape = (conv.params[14] // 4 - 1,)
    with pytest.raises(Exception, match="smaller|size"):
        Session(build_program(graph), seed=0)

