"""Fused update per chunk and tiled regularization (issue 11). Each fused tile
kind (FC_GRAD_SGD_TILE, FC_GRAD_ADAM_TILE, FC_GRAD_ACC_TILE) gives, chunk by
chunk, the bits of the unfused tile ops it replaces (gradient tile then the
chunk's step or accumulation), and the l2norm loss over chunks the untiled
loss's bits; whole trainings with tiled + fused layers (SGD, momentum, Adam,
micro-batched, weight decay and the l2norm regularizer) equal the untiled,
unfused ones bit for bit, also at the smallest RAM and through the board."""
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


@pytest.mark.parametrize("decays", [(0.01,), (0.02, 0.003)])
def test_a_fused_sgd_tile_applies_the_decay_terms_as_decay_grad_does(core_lib, decays):  # noqa: F811
    """FC_GRAD_SGD_TILE's f[2:4]: FC_GRAD_TILE, one DECAY_GRAD per term, SGD_APPLY."""
    x, dy, w, m, _ = _operands(9, 3, 10, 6)
    n, inputs, out = 3, 10, 6
    floats = [*HYPER["momentum"], *decays, 0.0][:4]
    want_w, want_m, got_w, got_m = w.copy(), m.copy(), w.copy(), m.copy()
    for o0, o1 in _bounds(out, 4):
        rows = o1 - o0
        ww, wm = (np.ascontiguousarray(a[o0:o1]) for a in (want_w, want_m))
        dw = np.zeros((rows, inputs), np.float32)
        _run(core_lib, "mt_run_fc_grad_tile", "FC_GRAD_TILE", [n, inputs, out, o0, rows], [],
             [x, dy, dw, None])
        for d in decays:
            _run(core_lib, "mt_run_decay_grad", "DECAY_GRAD", [rows * inputs], [d], [ww, dw])
        _run(core_lib, "mt_run_sgd_apply", "SGD_APPLY", [rows * inputs, 0], HYPER["momentum"],
             [ww, dw, wm])
        gw, gm = (np.ascontiguousarray(a[o0:o1]) for a in (got_w, got_m))
        _run(core_lib, "mt_run_fc_grad_sgd", "FC_GRAD_SGD_TILE", [n, inputs, out, o0, rows],
             floats, [x, dy, gw, gm, None, np.zeros(n + inputs, np.float32)])
        want_w[o0:o1], want_m[o0:o1], got_w[o0:o1], got_m[o0:o1] = ww, wm, gw, gm
    assert got_w.tobytes() == want_w.tobytes() and got_m.tobytes() == want_m.tobytes()
    plain = _chunked(core_lib, _fused_tile, "momentum", (x, dy, w, m, m), 4)[0]
    assert plain.tobytes() != got_w.tobytes()   # the terms did change the step


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


# ---- validation ----------------------------------------------------------------------------

def _validated(kind, tensors, sizes, params, floats=()):
    """An executor over one op of `kind` (tensors: ids into `sizes`, laid out in order)."""
    from core_cy import Executor
    from host_tools.bundle.layout import make_op
    record = make_op(OP_KINDS[kind], 1, tensors, params, list(floats))
    ops = np.zeros(1, record.dtype)
    ops[0] = record
    offsets = np.cumsum([0, *sizes[:-1]])
    table = np.array([(o, n) for o, n in zip(offsets, sizes)], np.uint32)
    metrics = len(sizes)   # two extra floats for the roles the executor checks
    table = np.vstack([table, [[sum(sizes), 8]]]).astype(np.uint32)
    return Executor(ops, table, sum(sizes) + 8, 0, 0, metrics, 0)


# X (2x3), dY (2x4), W chunk (2 rows x 3), MOM chunk, dB (4), S (2 + 3)
SGD_TILE_SIZES = [24, 32, 24, 24, 16, 20]


@pytest.mark.parametrize("params, floats, ok", [
    ([2, 3, 4, 2, 2], [0.1, 0.9], True),     # rows 2..3 of 4
    ([2, 3, 4, 3, 2], [0.1, 0.9], False),    # rows past OUT
    ([2, 3, 4, -1, 2], [0.1, 0.9], False),   # a negative first row
    ([2, 3, 4, 0, 0], [0.1, 0.9], False),    # no rows
    ([2, 3, 4, 0, 3], [0.1, 0.9], False),    # a chunk bigger than its tensor
])
def test_validation_checks_the_fused_tiles_row_range(params, floats, ok):
    from core_cy import ExecutorError
    if ok:
        _validated("FC_GRAD_SGD_TILE", list(range(6)), SGD_TILE_SIZES, params, floats)
        return
    with pytest.raises(ExecutorError) as info:
        _validated("FC_GRAD_SGD_TILE", list(range(6)), SGD_TILE_SIZES, params, floats)
    assert "\n" not in str(info.value)


def test_validation_refuses_bad_last_flags_and_momentum_without_its_buffer():
    from core_cy import ExecutorError
    adam_sizes = [24, 32, 24, 24, 24, 4, 16, 20]
    _validated("FC_GRAD_ADAM_TILE", list(range(8)), adam_sizes, [2, 3, 4, 2, 2, 1], [0.01] * 4)
    bad = [("FC_GRAD_ADAM_TILE", list(range(8)), adam_sizes, [2, 3, 4, 2, 2, 2], [0.01] * 4),
           ("FC_GRAD_SGD_TILE", [0, 1, 2, -1, 4, 5], SGD_TILE_SIZES, [2, 3, 4, 2, 2], [0.1, 0.9]),
           ("L2NORM_LOSS_TILE", [0, 1, 2], [16, 8, 8], [4, 2], [0.1]),
           ("L2NORM_LOSS_TILE_NEXT", [0, 1, 2], [16, 8, 4], [4, 1], [0.1])]   # SUM too small
    for kind, tensors, sizes, params, floats in bad:
        with pytest.raises(ExecutorError):
            _validated(kind, tensors, sizes, params, floats)
    _validated("L2NORM_LOSS_TILE_NEXT", [0, 1, 2], [16, 8, 8], [4, 1], [0.1])


# ---- graphs and training -------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from host_tools.graph.tiling import tile_graph, tileable_layers  # noqa: E402
from host_tools.graph.tiling_fused import FUSED_TILE_KINDS, fuse_tiled_updates  # noqa: E402
from host_tools.graph.training_graph import build_training_graph  # noqa: E402
from host_tools.model.api import Model  # noqa: E402
from host_tools.model.load import load_model  # noqa: E402
from host_tools.planning.min_ram import find_min_ram  # noqa: E402
from host_tools.planning.techniques import apply_techniques  # noqa: E402
from host_tools.program import build_program  # noqa: E402
from small_models import ADAM, MOMENTUM, SGD, cnn, mlp  # noqa: E402
from test_min_ram import (assert_budgets_from_min_ram_fit, assert_same_training,  # noqa: E402
                          assert_within, random_model)


def regularized_mlp(optimizer, l2=0.01, decay=0.001):
    """An MLP whose weights carry the l2norm regularizer and weight decay (micro-batched:
    tests/test_micro_batch_decay.py)."""
    m = Model(loss="cross", batch_size=8, optimizer=optimizer)
    m.add("in", "input", input_shape="1:1:12")
    m.add("fc1", "fully_connected", unit=9, activation="relu", weight_regularizer="l2norm",
          weight_regularizer_constant=l2, weight_decay=decay, bias_decay=decay)
    m.add("fc2", "fully_connected", unit=4, activation="softmax", weight_regularizer="l2norm",
          weight_regularizer_constant=l2)
    return m.spec()


def tiled_and_fused(graph, chunks):
    """graph with every tileable layer in `chunks` tiles, their updates fused per chunk."""
    tiled = tile_graph(graph, {layer: chunks for layer in tileable_layers(graph)})
    return tiled, fuse_tiled_updates(tiled)


FUSED_CASES = {
    "sgd": lambda: mlp(SGD), "momentum": lambda: mlp(MOMENTUM), "adam": lambda: mlp(ADAM),
    "sgd micro 2": lambda: mlp(SGD, micro=2), "adam micro 1": lambda: mlp(ADAM, micro=1),
    "momentum micro 4": lambda: mlp(MOMENTUM, micro=4),
    "cnn adam": lambda: cnn(ADAM, classes=5), "cnn momentum micro 2": lambda: cnn(MOMENTUM, micro=2),
}


@pytest.mark.parametrize("chunks", [2, 99])
@pytest.mark.parametrize("case", sorted(FUSED_CASES))
def test_fused_tiled_training_is_bit_identical(case, chunks):
    plain = build_training_graph(FUSED_CASES[case]())
    graph, fused = tiled_and_fused(plain, chunks)
    assert sorted(fused) == sorted(graph.tiled_layers)
    kinds = [op.kind for op in graph.ops]
    assert "FC_GRAD_TILE" not in kinds and set(kinds) & set(FUSED_TILE_KINDS)
    grads = {t.id for t in graph.tensors for layer in graph.tiled_layers
             if t.name.startswith(f"{layer}:weight/grad[")}
    assert grads
    assert not grads & {t for op in graph.ops for t in op.tensors}   # no dW chunk is stored
    assert_same_training(plain, build_program(graph))


REGULARIZED = {"sgd": SGD, "momentum": MOMENTUM, "adam": ADAM}


@pytest.mark.parametrize("chunks", [2, 3])
@pytest.mark.parametrize("optimizer", sorted(REGULARIZED))
def test_regularized_layers_tile_bit_identically(optimizer, chunks):
    plain = build_training_graph(regularized_mlp(REGULARIZED[optimizer]))
    assert sorted(tileable_layers(plain)) == ["fc1", "fc2"]
    graph = tile_graph(plain, {"fc1": chunks, "fc2": chunks})
    kinds = [op.kind for op in graph.ops]
    assert kinds.count("L2NORM_LOSS_TILE") == 2 and "L2NORM_LOSS" not in kinds
    assert kinds.count("DECAY_GRAD") == 3 * chunks + 1   # l2 + decay per fc1 chunk, l2 per fc2
    families = set(graph.chunks)                          # chunk, and fc1's bias decay
    assert all(not families & set(op.tensors) for op in graph.ops)
    assert_same_training(plain, build_program(graph))
    fused = fuse_tiled_updates(graph)   # SGD absorbs the decay terms; Adam has no room
    kinds = [op.kind for op in graph.ops]
    if optimizer == "adam":
        assert not fused and kinds.count("DECAY_GRAD") == 3 * chunks + 1
    else:
        assert sorted(fused) == ["fc1", "fc2"] and kinds.count("DECAY_GRAD") == 1   # the bias's
        assert "FC_GRAD_TILE" not in kinds
    assert_same_training(plain, build_program(graph))


def test_the_chunked_l2norm_loss_is_in_the_reported_loss():
    """The regularizer's loss term does reach the metrics (the test above compares it)."""
    graphs = [build_training_graph(regularized_mlp(SGD, l2=l2)) for l2 in (0.0, 5.0)]
    tiled = [tile_graph(g, {"fc1": 3, "fc2": 2}) for g in graphs]
    from test_min_ram import trained
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 12)).astype(np.float32)
    y = rng.integers(0, 4, 8).astype(np.int32).view(np.uint8).reshape(8, 4)
    losses = [trained(build_program(t), x, y)[0][0] for t in tiled]
    assert losses[1] > losses[0] + 1.0


def digits_cnn(micro=1):
    spec = load_model("bench/zoo/digits_small.ini")
    spec.micro_batch = micro
    return build_training_graph(spec)


def test_digits_cnn_at_min_ram_with_fused_tiles_trains_bit_identically():
    plain = digits_cnn()
    graph, fused = tiled_and_fused(plain, 5)
    assert fused == ["output"]
    found = find_min_ram(graph)
    assert found.program.swap is not None
    assert_within(found.program, found.min_ram_bytes)
    assert_same_training(plain, found.program, swap_file=None)


def test_the_techniques_never_pick_a_fused_graph_with_a_higher_min_ram():
    plain = digits_cnn()
    tiled = find_min_ram(apply_techniques(digits_cnn(), fused=False, recompute=False))
    both = find_min_ram(apply_techniques(plain, recompute=False))
    assert both.min_ram_bytes <= tiled.min_ram_bytes


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_regularized_mlp_at_min_ram_trains_bit_identically(optimizer):
    plain = build_training_graph(regularized_mlp(REGULARIZED[optimizer]))
    untiled = find_min_ram(plain).min_ram_bytes
    graph = apply_techniques(plain, recompute=False)
    assert graph.tiled_layers   # tiling now reaches the regularized layers
    found = find_min_ram(graph)
    assert found.min_ram_bytes < untiled
    assert_within(found.program, found.min_ram_bytes)
    assert_same_training(plain, found.program)
    forced, _ = tiled_and_fused(plain, 3)   # fc2's update fused per chunk under swap too
    found = find_min_ram(forced)
    assert_within(found.program, found.min_ram_bytes)
    assert_same_training(plain, found.program)


def _regularize(spec, draw):
    """The drawn model (micro-batched or not) with weight decay and the l2norm regularizer
    on its dense layers."""
    for layer in spec.layers:
        if layer.props.get("type", getattr(layer, "type", "")) == "fully_connected" or \
                "unit" in layer.props:
            layer.props["weight_decay"] = draw(st.sampled_from([0.0, 0.01]))
            layer.props["weight_regularizer"] = draw(st.sampled_from(["none", "l2norm"]))
            layer.props["weight_regularizer_constant"] = 0.02
    return spec


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_budget_from_min_ram_up_trains_random_fused_tiled_models_bit_identically(data):
    spec = random_model(data.draw)
    if data.draw(st.booleans()):
        spec = _regularize(spec, data.draw)
    plain = build_training_graph(spec)
    layers = tileable_layers(plain)
    assert layers   # regularized or not, every dense layer tiles
    counts = {layer: data.draw(st.integers(1, rows)) for layer, (_, rows) in layers.items()}
    graph = tile_graph(plain, counts)
    fuse_tiled_updates(graph)
    assert_budgets_from_min_ram_fit(data.draw, graph, plain)


# ---- a bundle on the board -----------------------------------------------------------------

def test_board_trains_a_fused_tiled_bundle_at_min_ram_as_the_host_does_untiled(tmp_path,
                                                                               monkeypatch):
    from core_cy import read_bundle
    from host_tools.bundle import write_bundle
    from host_tools.bundle.from_program import bundle_content
    from host_tools.cli import main
    from host_tools.cli.common import build_graph
    from test_board_agent import MODEL, SEED, assert_board_trains_as_host
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "tiny.ini").write_text(MODEL)   # Adam: the fused Adam tiles
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((96, 1, 1, 12)).astype(np.float32), rng.integers(0, 4, 96)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    graph, fused = tiled_and_fused(build_graph(load_model(tmp_path / "tiny.ini")), 4)
    assert sorted(fused) == ["hidden", "output"]
    found = find_min_ram(graph)
    bundle = tmp_path / "fused.mtb"
    write_bundle(bundle, bundle_content(found.program, seed=SEED, epochs=2))
    kinds = set(read_bundle(bundle.read_bytes()).ops["kind"].tolist())
    assert OP_KINDS["FC_GRAD_ADAM_TILE"] in kinds and OP_KINDS["FC_GRAD_TILE"] not in kinds
    assert main(["train", str(tmp_path / "tiny.ini"), "--data", str(tmp_path / "data.npz"),
                 "--quiet", "--seed", str(SEED), "--epochs", "2",
                 "--dump-weights", str(tmp_path / "host.npz")]) == 0
    assert_board_trains_as_host(tmp_path, bundle.read_bytes(), x, y, tmp_path / "host.npz")
