"""Conv layers tiled by output channels (issue 11): each conv tile op gives the
untiled op's bits (forward, weight and bias gradient, input derivative resumed
tile after tile) for every scratch size and GEMM micro-kernel set; bad tile
params are refused; whole trainings with tiled convs equal the untiled ones
bit for bit, at the smallest RAM too, and through the board simulator."""
import ctypes

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core_cy import CONSTANTS, OP_KINDS
from host_tools.graph.tiling import TILE_KINDS, tile_graph, tileable_layers
from host_tools.graph.tiling_conv import channel_bounds, tile_params
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.model.load import load_model
from host_tools.planning.min_ram import find_min_ram
from host_tools.planning.techniques import apply_techniques
from host_tools.program import build_program
from kernel_lib import core_lib, ptr  # noqa: F401  (fixture)
from small_models import ADAM, MOMENTUM, SGD
from test_min_ram import assert_budgets_from_min_ram_fit, assert_same_training, assert_within

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


# ---- graphs and training -------------------------------------------------------------------

def conv_net(optimizer, micro=0, stride=2, bias=True):
    """Two tileable convs (8 filters from 2 channels: the correlation order
    from 8 on; 13 filters, a tail of 1, at `stride`) and an FC layer."""
    m = Model(loss="cross", batch_size=4, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="2:8:8")
    m.add("c1", "conv2d", filters=8, kernel_size=3, padding="same", activation="relu",
          disable_bias=not bias)
    m.add("c2", "conv2d", filters=13, kernel_size=3, stride=stride, padding="same",
          activation="relu")
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=5, activation="softmax")
    return m.spec()


NETS = {"sgd": lambda: conv_net(SGD), "momentum micro 2": lambda: conv_net(MOMENTUM, micro=2),
        "adam no bias": lambda: conv_net(ADAM, bias=False),
        "adam stride 1 micro 1": lambda: conv_net(ADAM, micro=1, stride=1)}


@pytest.mark.parametrize("chunks", [2, 3, 99])
@pytest.mark.parametrize("case", sorted(NETS))
def test_tiled_conv_training_is_bit_identical(case, chunks):
    plain = build_training_graph(NETS[case]())
    convs = {layer: chunks for layer in ("c1", "c2")}
    assert set(convs) <= set(tileable_layers(plain))
    tiled = tile_graph(plain, convs)
    assert all(not set(tiled.chunks) & set(op.tensors) for op in tiled.ops)   # chunks only
    assert {"CONV_FWD_TILE_NEXT", "CONV_GRAD_TILE", "CONV_DERIV_TILE_NEXT"} <= \
        {op.kind for op in tiled.ops}
    assert tiled.tiled_layers == {"c1": 2, "c2": min(chunks, 3)}
    assert_same_training(plain, build_program(tiled))


def test_each_conv_tile_has_its_own_scratch():
    tiled = tile_graph(build_training_graph(conv_net(SGD)), {"c2": 3})
    for kind in ("CONV_FWD", "CONV_GRAD", "CONV_DERIV"):
        scratch = [op.tensors[-1] for op in tiled.ops if op.kind.startswith(kind + "_TILE")]
        assert len(scratch) == len(set(scratch)) == 3, kind


def test_convs_that_would_break_the_derivative_blocks_are_not_tiled():
    """Depthwise, or fewer than 8 filters (no two chunks of 4): left whole."""
    m = Model(loss="cross", batch_size=2, optimizer=SGD)
    m.add("in", "input", input_shape="8:6:6")
    m.add("depthwise", "depthwise_conv2d", kernel_size=3, padding="same")
    m.add("small", "conv2d", filters=7, kernel_size=3, padding="same")
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    assert set(tileable_layers(build_training_graph(m.spec()))) == {"fc"}


def lenet_like(micro):
    m = Model(loss="cross", batch_size=8, micro_batch=micro,
              optimizer={"type": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    m.add("in", "input", input_shape="1:16:16")
    m.add("conv1", "conv2d", filters=8, kernel_size=5, activation="relu")
    m.add("pool1", "pooling2d", pooling="max", pool_size=2)
    m.add("conv2", "conv2d", filters=16, kernel_size=5, activation="relu")
    m.add("flat", "flatten")
    m.add("fc1", "fully_connected", unit=24, activation="relu")
    m.add("fc2", "fully_connected", unit=10, activation="softmax")
    return build_training_graph(m.spec())


def digits_cnn(micro=1):
    spec = load_model("bench/zoo/digits_small.ini")
    spec.micro_batch = micro
    return build_training_graph(spec)


@pytest.mark.parametrize("model", [lenet_like, digits_cnn])
def test_min_ram_with_tiled_convs_trains_as_the_same_micro_batching(model):
    plain = model(1)
    tiled = tile_graph(plain, {layer: 99 for layer, (w, _) in tileable_layers(plain).items()
                               if len(plain.tensors[w].shape) == 4})
    assert any(k.startswith("CONV_") for k in {op.kind for op in tiled.ops} & TILE_KINDS)
    found = find_min_ram(tiled)
    assert_within(found.program, found.min_ram_bytes)
    assert_same_training(plain, found.program, swap_file=None)   # the file backend


def random_conv_model(draw):
    """A random small CNN whose convs tiling can split: 8 to 13 filters, stride
    1 or 2, 1 or 3 input channels, optional batch-norm and skip sum."""
    batch = draw(st.sampled_from([2, 4]))
    micro = draw(st.sampled_from([1, batch // 2, batch]))
    optimizer = draw(st.sampled_from([SGD, MOMENTUM, ADAM]))
    m = Model(loss="cross", batch_size=batch, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape=f"{draw(st.sampled_from([1, 3]))}:6:6")
    m.add("c1", "conv2d", filters=draw(st.integers(8, 13)), kernel_size=3, padding="same",
          stride=draw(st.sampled_from([1, 2])), activation="relu",
          disable_bias=draw(st.booleans()))
    last = "c1"
    if draw(st.booleans()):
        m.add("bn", "batch_normalization")
        last = "bn"
    if draw(st.booleans()):
        width = draw(st.integers(8, 12))   # the two branches of the sum share a shape
        m.add("c2", "conv2d", filters=width, kernel_size=3, padding="same")
        m.add("c3", "conv2d", filters=width, kernel_size=1, input_layers=last)
        m.add("sum", "addition", input_layers="c2,c3")
        last = "sum"
    m.add("flat", "flatten", input_layers=last)
    m.add("fc", "fully_connected", unit=draw(st.integers(2, 4)), activation="softmax")
    return m.spec()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_budget_from_the_tiled_conv_min_ram_up_fits_and_trains_bit_identically(data):
    plain = build_training_graph(random_conv_model(data.draw))
    layers = tileable_layers(plain)
    assert "c1" in layers
    counts = {layer: data.draw(st.integers(1, rows)) for layer, (_, rows) in layers.items()}
    assert_budgets_from_min_ram_fit(data.draw, tile_graph(plain, counts), plain)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_budget_below_the_untiled_min_ram_tiles_convs_and_trains_bit_identically(data):
    plain = build_training_graph(random_conv_model(data.draw))
    smallest = find_min_ram(plain).min_ram_bytes
    tiled_min = find_min_ram(apply_techniques(plain, recompute=False, fused=False)).min_ram_bytes
    budget = data.draw(st.integers(tiled_min, smallest))
    graph = apply_techniques(plain, budget, recompute=False, fused=False)
    program = build_program(graph, ram_budget=budget)
    assert_within(program, budget)
    assert_same_training(plain, program)


# ---- a tiled conv bundle on the board ------------------------------------------------------

BOARD_MODEL = """
[Model]
type = NeuralNetwork
loss = cross
batch_size = 8
epochs = 2

[Optimizer]
type = sgd
learning_rate = 0.05
momentum = 0.9

[input]
type = input
input_shape = 4:4:4

[first]
type = conv2d
filters = 8
kernel_size = 1
activation = relu

[conv]
type = conv2d
filters = 16
kernel_size = 3
padding = same
activation = relu

[flatten]
type = flatten

[output]
type = fully_connected
unit = 4
activation = softmax
"""
BOARD_BUDGET = "9000"   # below the untiled min RAM at micro-batch 2 (checked below)


def test_board_trains_a_tiled_conv_bundle_as_the_host_does_untiled(tmp_path, monkeypatch):
    from core_cy import read_bundle
    from host_tools.cli import main
    from test_board_agent import SEED, assert_board_trains_as_host
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "conv.ini").write_text(BOARD_MODEL)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((96, 4, 4, 4)).astype(np.float32), rng.integers(0, 4, 96)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    spec = load_model(str(tmp_path / "conv.ini"))
    spec.micro_batch = 2
    assert find_min_ram(build_training_graph(spec)).min_ram_bytes > int(BOARD_BUDGET)
    common = ["--seed", str(SEED), "--epochs", "2", "--micro-batch", "2"]
    bundle = tmp_path / "tiled.mtb"
    assert main(["plan", str(tmp_path / "conv.ini"), "-o", str(bundle), "--ram-budget",
                 BOARD_BUDGET, *common]) == 0
    kinds = set(read_bundle(bundle.read_bytes()).ops["kind"].tolist())
    assert {OP_KINDS[k] for k in ("CONV_FWD_TILE", "CONV_GRAD_TILE", "CONV_DERIV_TILE_NEXT")} <= kinds
    assert main(["train", str(tmp_path / "conv.ini"), "--data", str(tmp_path / "data.npz"),
                 "--quiet", "--dump-weights", str(tmp_path / "host.npz"), *common]) == 0
    assert_board_trains_as_host(tmp_path, bundle.read_bytes(), x, y, tmp_path / "host.npz")


@pytest.mark.parametrize("channels", [8, 9, 13, 16, 64, 120])
def test_channel_bounds_cover_the_filters_on_the_derivatives_4_channel_grid(channels):
    for chunks in range(1, channels + 2):
        bounds = channel_bounds(channels, chunks)
        assert bounds[0][0] == 0 and bounds[-1][1] == channels and len(bounds) <= chunks
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert all(o0 % 4 == 0 and o1 - o0 >= 4 for o0, o1 in bounds)
        assert all((o1 - o0) % 4 == 0 for o0, o1 in bounds[:-1])
    assert len(channel_bounds(channels, 2)) == 2   # two chunks whenever there are 8 filters


# ---- invisible to users --------------------------------------------------------------------

def test_bundle_names_each_conv_weight_whole_with_its_filter_chunks():
    from host_tools.bundle.from_program import model_description
    tiled = tile_graph(build_training_graph(conv_net(ADAM)), {"c2": 3})
    params = model_description(build_program(tiled))["params"]
    entry = params["c2:weight"]
    assert entry["shape"] == [13, 8, 3, 3] and len(entry["chunks"]) == 3
    assert [tiled.tensors[c].shape for c in entry["chunks"]] == \
        [(4, 8, 3, 3), (4, 8, 3, 3), (5, 8, 3, 3)]
    assert "chunks" not in params["c1:weight"] and "chunks" not in params["c2:bias"]


def test_weight_files_load_and_dump_the_original_conv_parameters(tmp_path, capsys):
    from host_tools.cli import main
    ini = tmp_path / "conv.ini"
    ini.write_text(BOARD_MODEL)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.standard_normal((32, 4, 4, 4)).astype(np.float32),
             y=rng.integers(0, 4, 32))
    start = {"first:weight": rng.standard_normal((8, 4, 1, 1)),
             "conv:weight": rng.standard_normal((16, 8, 3, 3)) * 0.2}
    np.savez(tmp_path / "start.npz", **{k: v.astype(np.float32) for k, v in start.items()})
    common = ["train", str(ini), "--data", str(tmp_path / "data.npz"), "--iterations", "2",
              "--micro-batch", "2", "--quiet", "--init-weights", str(tmp_path / "start.npz"),
              "--swap-file", "ram"]
    budget = ["--ram-budget", BOARD_BUDGET, "--no-recompute", "--no-fused-update"]
    assert main(["plan", str(ini), "--micro-batch", "2", *budget]) == 0
    assert "tiled: first in 2 chunks, conv in " in capsys.readouterr().out   # as train plans
    assert main([*common, "--dump-weights", str(tmp_path / "plain.npz")]) == 0
    assert main([*common, *budget, "--dump-weights", str(tmp_path / "tiled.npz")]) == 0
    with np.load(tmp_path / "plain.npz") as plain, np.load(tmp_path / "tiled.npz") as tiled:
        assert sorted(plain.files) == sorted(tiled.files)
        for key in plain.files:
            assert plain[key].shape == tiled[key].shape
            assert plain[key].tobytes() == tiled[key].tobytes(), key
