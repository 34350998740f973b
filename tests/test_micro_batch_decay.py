"""Micro-batching with weight decay, bias decay and the l2norm regularizer, against
PyTorch's gradient accumulation: each pass's `(loss / K).backward()` sums the data
gradient, and once per iteration, just before the step, the regularizer (c * W) and
decay (d * W) terms join the accumulated gradient (as SGD(weight_decay=d) does) and
c / 2 * ||W||_2 joins the loss. Every swap / tiling / fused / recompute rewrite of such
a graph trains bit for bit as the plain micro-batched one, on the host and the board."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.errors import UserError
from host_tools.graph.fused_update import fuse_updates
from host_tools.graph.micro_batch import accumulate_gradients
from host_tools.graph.recompute import candidates, recompute
from host_tools.graph.tiling import tile_graph, tileable_layers
from host_tools.graph.tiling_fused import fuse_tiled_updates
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.planning.min_ram import find_min_ram
from host_tools.planning.techniques import apply_techniques
from host_tools.program import build_program
from small_models import ADAM, MOMENTUM, SGD
from test_micro_batch import accumulated_reference, data
from test_min_ram import assert_budgets_from_min_ram_fit, assert_same_training
from torch_reference import microtrain_run

RTOL, ATOL = 1e-5, 1e-6
N_ITER = 4
APPLY = 3
# large enough that adding a term once per pass instead of once per iteration shows
WEIGHT = dict(weight_regularizer="l2norm", weight_regularizer_constant=0.05, weight_decay=0.1,
              bias_decay=0.05)
L2_ONLY = dict(weight_regularizer="l2norm", weight_regularizer_constant=0.03)


def dense(optimizer, micro):
    m = Model(loss="cross", batch_size=8, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="1:1:10")
    m.add("fc1", "fully_connected", unit=12, activation="tanh", **WEIGHT)
    m.add("fc2", "fully_connected", unit=3, activation="softmax", **L2_ONLY)
    return m.spec()


def conv(optimizer, micro):
    m = Model(loss="cross", batch_size=4, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="2:6:6")
    m.add("conv", "conv2d", filters=8, kernel_size=3, padding="same", activation="relu", **WEIGHT)
    m.add("pool", "pooling2d", pooling="max", pool_size=2)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=3, activation="softmax", weight_decay=0.02, **L2_ONLY)
    return m.spec()


MODELS = {"dense": (dense, (10,), 8), "conv": (conv, (2, 6, 6), 4)}
OPTIMIZERS = {"sgd": SGD, "momentum": MOMENTUM, "adam": ADAM}


def regularization_terms(graph):
    """npz key -> (l2norm loss constant, the gradient term constants in NNTrainer's order:
    regularizer, then decay)."""
    terms = {}
    for node in graph.nodes:
        keys = graph.params.get(node.name, {})
        l2 = node.props.get("weight_regularizer_constant", 1.0) \
            if node.props.get("weight_regularizer") == "l2norm" else 0.0
        if "weight" in keys:
            terms[f"{node.name}:weight"] = (l2, [l2, node.props.get("weight_decay", 0.0)])
        if "bias" in keys:
            terms[f"{node.name}:bias"] = (0.0, [node.props.get("bias_decay", 0.0)])
    return terms


def once_per_iteration(graph):
    """before_step for accumulated_reference: the terms on the accumulated gradients."""
    terms = regularization_terms(graph)

    def before_step(twin):
        loss = np.float32(0.0)
        with torch.no_grad():
            for key, tensor in twin.parameter_tensors().items():
                l2, constants = terms[key]
                loss += np.float32(l2 / 2 * float(torch.linalg.norm(tensor)))
                for constant in constants:
                    tensor.grad += constant * tensor
        return loss
    return before_step


@pytest.mark.parametrize("micro", ["1", "2", "full"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_regularized_accumulation_matches_torch(model, optimizer, micro):
    make, shape, batch = MODELS[model]
    size = batch if micro == "full" else int(micro)
    spec = make(OPTIMIZERS[optimizer], size)
    x, y = data(shape)
    run = microtrain_run(spec, x, y, N_ITER)
    assert run.graph.micro_batches == batch // size
    losses, weights = accumulated_reference(run.graph, run.start, run.x_rows, run.y_bytes,
                                            N_ITER, once_per_iteration(run.graph))
    np.testing.assert_allclose(run.losses, losses, rtol=RTOL, atol=ATOL)
    final = run.session.weights()
    assert final.keys() == weights.keys()
    for key, value in final.items():
        np.testing.assert_allclose(value, weights[key], rtol=RTOL, atol=ATOL, err_msg=key)


def test_the_terms_act_on_the_accumulators_on_the_last_pass():
    graph = build_training_graph(dense(MOMENTUM, 2))
    decays = [op for op in graph.ops if op.kind == "DECAY_GRAD"]
    assert len(decays) == 4   # fc1: l2 + decay on W, decay on b; fc2: l2 on W
    for op in decays:
        assert op.phase == APPLY and graph.tensors[op.tensors[1]].name.endswith("/accumulated")
    l2norm = [op for op in graph.ops if op.kind == "L2NORM_LOSS"]
    assert len(l2norm) == 2 and all(op.phase == APPLY for op in l2norm)


def test_whole_batch_micro_batch_is_the_plain_regularized_graph():
    a, b = build_training_graph(dense(SGD, 0)), build_training_graph(dense(SGD, 8))
    assert [(op.kind, op.phase, op.tensors, op.params) for op in a.ops] == \
        [(op.kind, op.phase, op.tensors, op.params) for op in b.ops]


def test_a_decay_without_an_optimizer_step_is_a_one_line_error():
    graph = build_training_graph(dense(SGD, 8))
    graph.ops = [op for op in graph.ops if not (op.kind == "SGD_APPLY" and op.layer == "fc2")]
    with pytest.raises(UserError, match=r"\[fc2\].*without an optimizer step"):
        accumulate_gradients(graph, 2)


REWRITE_CASES = {"dense momentum": (dense, MOMENTUM), "dense sgd": (dense, SGD),
                 "conv adam": (conv, ADAM)}


@pytest.mark.parametrize("case", sorted(REWRITE_CASES))
def test_fused_tiled_and_recomputed_rewrites_train_bit_identically(case):
    make, optimizer = REWRITE_CASES[case]
    plain = build_training_graph(make(optimizer, 2))
    fused = build_training_graph(make(optimizer, 2))
    assert fuse_updates(fused)   # the decay sits on the accumulator: dW feeds its ADD only
    assert "FC_GRAD_ACC" in {op.kind for op in fused.ops}
    assert_same_training(plain, build_program(fused))
    tiled = tile_graph(plain, {layer: 3 for layer in tileable_layers(plain)})
    assert len(tiled.tiled_layers) == 2
    assert_same_training(plain, build_program(tiled))
    fuse_tiled_updates(tiled)
    kinds = [op.kind for op in tiled.ops]
    assert "FC_GRAD_ACC_TILE" in kinds and "L2NORM_LOSS_TILE" in kinds
    assert all(op.phase == APPLY for op in tiled.ops if op.kind.startswith(("DECAY", "L2NORM")))
    assert_same_training(plain, build_program(tiled))
    rewritten, ids = recompute(plain, candidates(plain))
    assert ids
    assert_same_training(plain, build_program(rewritten))


@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@pytest.mark.parametrize("case", sorted(REWRITE_CASES))
def test_min_ram_and_budgets_train_bit_identically(case, data):
    make, optimizer = REWRITE_CASES[case]
    plain = build_training_graph(make(optimizer, 1))
    graph = apply_techniques(build_training_graph(make(optimizer, 1)))
    assert graph.tiled_layers   # the regularized layers are tiled under the smallest RAM
    found = assert_budgets_from_min_ram_fit(data.draw, graph, plain)
    assert found.program.swap is not None
    assert found.min_ram_bytes <= find_min_ram(plain).min_ram_bytes
    assert_same_training(plain, found.program)


def board_model():
    """test_board_agent's model (Adam), micro-batched, its layers regularized."""
    from test_board_agent import MODEL
    model = MODEL.replace("epochs = 2\n", "micro_batch = 2\nepochs = 2\n")
    model = model.replace("activation = relu\n", "activation = relu\n" + "".join(
        f"{key} = {value}\n" for key, value in WEIGHT.items()))
    model = model.replace("activation = softmax\n", "activation = softmax\nweight_decay = 0.02\n")
    assert model.count("decay") == 3 and "micro_batch" in model
    return model


def test_board_trains_a_regularized_micro_batched_bundle_at_min_ram_as_the_host(tmp_path,
                                                                                 monkeypatch):
    from core_cy import OP_KINDS, read_bundle
    from host_tools.cli import main
    from test_board_agent import SEED, assert_board_trains_as_host
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "tiny.ini").write_text(board_model())
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((96, 1, 1, 12)).astype(np.float32), rng.integers(0, 4, 96)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    common = ["--seed", str(SEED), "--epochs", "2"]
    bundle = tmp_path / "reg.mtb"
    assert main(["plan", str(tmp_path / "tiny.ini"), "-o", str(bundle), "--min-ram",
                 *common]) == 0
    ops = read_bundle(bundle.read_bytes()).ops
    decays = ops[ops["kind"] == OP_KINDS["DECAY_GRAD"]]
    assert len(decays) and set(decays["phase"].tolist()) == {APPLY}
    assert main(["train", str(tmp_path / "tiny.ini"), "--data", str(tmp_path / "data.npz"),
                 "--quiet", "--dump-weights", str(tmp_path / "host.npz"), *common]) == 0
    assert_board_trains_as_host(tmp_path, bundle.read_bytes(), x, y, tmp_path / "host.npz")



def test_eval_between_iterations_at_min_ram_is_bit_identical():
    """The l2norm loss ops sit among the forward ops in the APPLY phase, which EVAL skips:
    the swap schedule still replays whole, so predictions and the training after them
    equal the plain graph's."""
    from host_tools.data import encode
    from host_tools.session import Session
    plain = build_training_graph(dense(MOMENTUM, 1))
    found = find_min_ram(apply_techniques(build_training_graph(dense(MOMENTUM, 1))))
    x_rows, y_bytes = encode(*data((10,), n=16), plain)
    order = np.arange(len(x_rows), dtype=np.int32)
    results = []
    for program, swap_file in ((build_program(plain), None), (found.program, "ram")):
        session = Session(program, seed=0, swap_file=swap_file)
        session.train(x_rows, y_bytes, order, 0, 2)
        predicted = session.predict(x_rows, y_bytes)
        losses, _ = session.train(x_rows, y_bytes, order, 2, 1)
        results.append((predicted, losses, session.weights()))
    (p0, l0, w0), (p1, l1, w1) = results
    assert found.program.swap is not None
    np.testing.assert_array_equal(p0, p1)
    np.testing.assert_array_equal(l0, l1)
    for key, value in w0.items():
        np.testing.assert_array_equal(value, w1[key], err_msg=key)


def test_firmware_trains_a_regularized_micro_batched_cnn_as_the_host(tmp_path, monkeypatch):
    """The digits CNN with the l2norm regularizer on conv2 and decay on the output layer,
    micro-batched under the Cortex-M4F's RAM, on the firmware in QEMU."""
    from host_tools.data import digits
    from test_firmware_qemu import CNN
    from test_micro_batch_bundle import assert_firmware_trains_as_host
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = CNN.read_text().replace("filters = 32\n", "filters = 32\nweight_regularizer = l2norm\n"
                                   "weight_regularizer_constant = 0.01\n")
    text = text.replace("unit = 10\n", "unit = 10\nweight_decay = 0.01\nbias_decay = 0.01\n")
    assert text.count("decay") == 2 and "l2norm" in text
    model, work = tmp_path / "cnn.ini", tmp_path / "work"
    model.write_text(text)
    work.mkdir()
    clean = digits()
    np.savez(work / "data.npz", x=clean.x[:64], y=clean.y[:64])
    assert_firmware_trains_as_host(model, work, tmp_path, 4)
