"""FC_FWD_PACKED (the FC forward with x's sample pairs, and each task's
weight rows, packed into host-planned arena scratch) gives FC_FWD's bits:
for every shape edge (odd sample counts, one sample, K % 8 != 0, outputs
off the block width, K past the kept-weights limit), every GEMM set, every
scratch size from the minimum up and any thread count; a graph trained with
widen_fc_scratch's plan ends with the unwidened run's weights; and a scratch
smaller than its op says is refused, in a bundle or a plan."""
import sys
from pathlib import Path

import numpy as np
import pytest

from core_cy import CONSTANTS
from core_cy._core import BundleError, fc_packed_scratch_bytes, read_bundle, select_gemm, set_threads
from host_tools.bundle import layout
from host_tools.bundle.writer import encode_bundle
from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.conv_scratch import LINUX_CAP_BYTES
from host_tools.graph.fc_scratch import widen_fc_scratch
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from host_tools.session import Session
from kernel_lib import build, on_sets, ptr
from test_gemm_sets import SETS, SHAPES, available

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import bundle_samples as samples  # noqa: E402

REGIONS = CONSTANTS["FC_PACKED_REGIONS"]
# the kept-weights path: >= 2 blocks of 8 samples, K <= 512, with left-over
# pairs, rows and outputs
PACKED_SHAPES = [(16, 8, 5), (17, 9, 6), (24, 96, 23), (40, 512, 12), (37, 200, 64), (2, 513, 9)]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return build(tmp_path_factory.mktemp("fc_packed"))


def _packed(lib, x, w, b, size):
    n, inputs = x.shape
    y = np.full((n, w.shape[0]), np.nan, np.float32)
    scratch = np.full(-(-size // 4), np.nan, np.float32)   # stale bytes must never leak in
    lib.mt_fc_fwd_packed(ptr(x), ptr(w), ptr(b), ptr(y), n, inputs, w.shape[0], ptr(scratch), size)
    return y.tobytes()


@pytest.mark.parametrize("n, inputs, out", SHAPES + PACKED_SHAPES)
def test_packed_forward_is_fc_fwd_bit_for_bit_on_every_set(lib, n, inputs, out):
    g = np.random.default_rng(n * 1000 + inputs + out)
    x, w = g.standard_normal((n, inputs), np.float32), g.standard_normal((out, inputs), np.float32)
    b = g.standard_normal(out, np.float32)
    assert lib.mt_gemm_select(b"scalar")
    y = np.full((n, out), np.nan, np.float32)
    lib.mt_fc_fwd(ptr(x), ptr(w), ptr(b), ptr(y), n, inputs, out)
    sizes = {lib.mt_fc_packed_scratch_bytes(n, inputs, r) for r in (0, 1, REGIONS)}
    assert sizes == {fc_packed_scratch_bytes(n, inputs, r) for r in (0, 1, REGIONS)}
    checked = []
    for name in on_sets(lib, [s.encode() for s in SETS]):
        for size in sorted(sizes) + [max(sizes) + 4]:
            assert _packed(lib, x, w, b, size) == y.tobytes(), (name, size)
        checked.append(name.decode())
    assert checked == available(lib)


def _mlp(batch):
    model = Model(loss="cross", batch_size=batch,
                  optimizer={"type": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    model.add("in", "input", input_shape="1:1:600")
    model.add("fc0", "fully_connected", unit=400, activation="relu")
    model.add("fc1", "fully_connected", unit=256, activation="relu")
    model.add("out", "fully_connected", unit=10, activation="softmax")
    return model.spec()


def _trained(cap, threads=1, gemm=None, batch=37):
    """Kinds of the forward FC ops and weights after 3 iterations, the plan
    widened under `cap` bytes (None: not widened)."""
    spec = _mlp(batch)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2 * batch, 1, 1, 600)).astype(np.float32)
    y = rng.integers(0, 10, 2 * batch)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    if cap:
        widen_fc_scratch(graph, cap)
    kinds = [op.kind for op in graph.ops if op.kind.startswith("FC_FWD")]
    x_rows, y_bytes = encode(x, y, graph)
    set_threads(threads)
    select_gemm(gemm)
    try:
        session = Session(build_program(graph), seed=4)
        session.train(x_rows, y_bytes, np.arange(2 * batch, dtype=np.int32), 0, 3)
    finally:
        set_threads(1)
        select_gemm(None)
    return kinds, session.weights()


def test_a_widened_graph_trains_to_the_same_weights_on_any_threads_and_set():
    kinds, reference = _trained(None)
    assert kinds == ["FC_FWD"] * 3
    one_region = fc_packed_scratch_bytes(37, 400, 1)   # fc1 only, 4 tasks share 1 region
    runs = [(LINUX_CAP_BYTES, threads, None) for threads in (1, 2, 3, 4)]
    runs += [(LINUX_CAP_BYTES, 2, name) for name in SETS if name != "neon"]
    runs += [(one_region, 4, None)]
    for cap, threads, gemm in runs:
        try:
            kinds, got = _trained(cap, threads, gemm)
        except ValueError:   # a set this CPU lacks
            continue
        # the output layer's 10 outputs are not worth packing for
        assert kinds == (["FC_FWD_PACKED", "FC_FWD_PACKED", "FC_FWD"] if cap == LINUX_CAP_BYTES
                         else ["FC_FWD", "FC_FWD_PACKED", "FC_FWD"])
        for key in reference:
            assert got[key].tobytes() == reference[key].tobytes(), (cap, threads, gemm, key)


def test_the_scratch_stays_under_the_cap_and_small_batches_pack_nothing():
    graph = widen_fc_scratch(build_training_graph(_mlp(64)), cap_bytes=160 * 1024)
    fc0 = next(op for op in graph.ops if op.layer == "fc0" and op.kind.startswith("FC_FWD"))
    assert fc0.params[3] == fc_packed_scratch_bytes(64, 600, 0) <= 160 * 1024   # K > 512: no regions
    assert graph.tensors[fc0.tensors[-1]].nbytes >= fc0.params[3]
    graph = widen_fc_scratch(build_training_graph(_mlp(1)))
    assert not [op for op in graph.ops if op.kind == "FC_FWD_PACKED"]


def _packed_plan():
    graph = widen_fc_scratch(build_training_graph(_mlp(4)))
    return graph, next(op for op in graph.ops if op.kind == "FC_FWD_PACKED")


def test_a_plan_with_a_scratch_smaller_than_p3_is_refused():
    graph, op = _packed_plan()
    graph.tensors[op.tensors[-1]].shape = (op.params[3] // 4 - 1,)
    with pytest.raises(Exception, match="smaller"):
        Session(build_program(graph), seed=0)
    graph, op = _packed_plan()
    op.params[3] = fc_packed_scratch_bytes(*op.params[:2], 0) - 4
    with pytest.raises(Exception, match="op"):
        Session(build_program(graph), seed=0)


def _bundle(scratch_tensor, size):
    """The tiny linear bundle (tests/fuzz) with its forward as FC_FWD_PACKED."""
    content = samples.tiny_content()
    content.ops[0] = layout.make_op(4, samples.FORWARD, [samples.X, samples.W, samples.B, samples.Z,
                                                         scratch_tensor],
                                    [samples.N, samples.IN, samples.OUT, size])
    return encode_bundle(content)


def test_a_crafted_bundle_with_an_undersized_scratch_is_refused_in_one_line():
    need = fc_packed_scratch_bytes(samples.N, samples.IN, 0)
    small = samples.TENSORS[samples.DW][1]
    assert small < need
    for tensor, size, text in [(samples.DW, need, "tensor smaller than the op's parameters need"),
                               (samples.DW, small, "bad op"), (samples.DW, -4, "bad op")]:
        with pytest.raises(BundleError) as info:
            read_bundle(_bundle(tensor, size))
        message = str(info.value)
        assert text in message and "op 0 (kind 4" in message and "\n" not in message, message
