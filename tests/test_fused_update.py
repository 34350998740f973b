"""Fused weight-gradient update (issue 11): FC weight gradients made one row at
a time and consumed at once (SGD with and without momentum, Adam, and the
micro-batch accumulator) train bit for bit as the unfused ops do, and no whole
dW tensor is left in the program."""
import json

import numpy as np
import pytest

from host_tools.cli import main
from host_tools.data import encode
from host_tools.graph.fused_update import FUSED_KINDS, fuse_updates
from host_tools.graph.training_graph import build_training_graph
from host_tools.program import build_program
from host_tools.session import Session
from small_models import ADAM, MOMENTUM, SGD, cnn, mlp

N_ITER = 6


CASES = {
    "sgd": lambda: mlp(SGD), "momentum": lambda: mlp(MOMENTUM), "adam": lambda: mlp(ADAM),
    "sgd micro 2": lambda: mlp(SGD, micro=2), "adam micro 1": lambda: mlp(ADAM, micro=1),
    "momentum batch 1": lambda: mlp(MOMENTUM, batch=1),
    "cnn adam": lambda: cnn(ADAM), "cnn momentum micro 2": lambda: cnn(MOMENTUM, micro=2),
}


def train(graph, x, y):
    session = Session(build_program(graph), seed=3)
    rows, labels = encode(x, y, graph)
    order = np.arange(len(rows), dtype=np.int32)
    losses, correct = session.train(rows, labels, order, 0, N_ITER)
    return losses, correct, session.weights()


def data(spec, n=48):
    rng = np.random.default_rng(0)
    shape = spec.layers[0].props["input_shape"]
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, 4, n)


@pytest.mark.parametrize("case", CASES)
def test_fused_training_is_bit_identical(case):
    x, y = data(CASES[case]())
    plain = build_training_graph(CASES[case]())
    fused = build_training_graph(CASES[case]())
    layers = fuse_updates(fused)
    assert layers and all(op.kind != "FC_GRAD" for op in fused.ops)
    gradients = {t.id for t in fused.tensors if t.name in {f"{n}:weight/grad" for n in layers}}
    assert len(gradients) == len(layers)
    assert not gradients & {tid for op in fused.ops for tid in op.tensors}  # no whole dW left
    expected, got = train(plain, x, y), train(fused, x, y)
    assert expected[0].tobytes() == got[0].tobytes() and expected[1].tobytes() == got[1].tobytes()
    assert expected[2].keys() == got[2].keys()
    for key in expected[2]:
        assert expected[2][key].tobytes() == got[2][key].tobytes(), key


def test_a_gradient_with_another_consumer_is_left_alone():
    """weight_decay adds c * W into dW first: that layer keeps its whole dW."""
    graph = build_training_graph(mlp(SGD, decay=0.01))
    assert fuse_updates(graph) == ["fc2"]
    assert [op.kind for op in graph.ops].count("FC_GRAD") == 1


def test_fusion_lowers_the_bound_when_weights_dominate():
    spec = mlp(SGD, batch=1)
    plain, fused = build_training_graph(spec), build_training_graph(mlp(SGD, batch=1))
    fuse_updates(fused)
    assert build_program(fused).arena_bytes < build_program(plain).arena_bytes


def test_the_fused_kinds_are_in_the_c_op_table():
    from core_cy import OP_KINDS
    assert [OP_KINDS[k] for k in FUSED_KINDS] == [200, 201, 202]


def plan_json(tmp_path, *extra):
    ini = tmp_path / "m.ini"
    ini.write_text("[Model]\nloss = cross\nbatch_size = 4\n[Optimizer]\ntype = sgd\n"
                   "learning_rate = 0.1\n[in]\ntype = input\ninput_shape = 1:1:20\n"
                   "[fc]\ntype = fully_connected\nunit = 30\nactivation = softmax\n")
    out = tmp_path / "plan.json"
    import contextlib
    with open(out, "w") as handle, contextlib.redirect_stdout(handle):
        assert main(["plan", str(ini), "--json", *extra]) == 0
    return json.loads(out.read_text())


def test_plan_fuses_under_a_budget_unless_told_not_to(tmp_path):
    # tiling (on by default) would split the layer first; fusing is what is checked here
    fused = plan_json(tmp_path, "--min-ram", "--no-tiling")
    plain = plan_json(tmp_path, "--min-ram", "--no-fused-update", "--no-tiling")
    unbudgeted = plan_json(tmp_path)
    assert fused["fused_updates"] == ["fc"] and plain["fused_updates"] == []
    assert fused["min_ram_bytes"] < plain["min_ram_bytes"]   # kept because it lowers min RAM
    assert unbudgeted["ops"] == plain["ops"]   # no budget: the graph is untouched
