"""In-place and view sharing must lower memory without changing a bit."""
import numpy as np
import pytest

from host_tools.data import digits, encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.model import Model
from host_tools.program import build_program
from host_tools.session import Session


def _cnn_spec():
    model = Model(loss="cross", batch_size=8, optimizer={"type": "sgd", "learning_rate": 0.05,
                                                         "momentum": 0.9})
    model.add("in", "input", input_shape="1:8:8")
    model.add("conv", "conv2d", filters=4, kernel_size=3, padding="same", activation="relu")
    model.add("bn", "batch_normalization", activation="tanh")
    model.add("pool", "pooling2d", pooling="max", pool_size=2)
    model.add("flat", "flatten")
    model.add("drop", "dropout", dropout_rate=0.25)
    model.add("fc", "fully_connected", unit=10, activation="softmax")
    return model.spec()


def _train(program, x, y, iterations=6):
    session = Session(program, seed=3)
    losses, _ = session.train(x, y, np.arange(len(x), dtype=np.int32), 0, iterations)
    return losses, session.weights()


def test_sharing_removes_views_and_keeps_results_bit_identical():
    graph = build_training_graph(_cnn_spec())
    data = digits()
    x, y = encode(data.x[:64], data.y[:64], graph)
    shared, separate = build_program(graph), build_program(graph, in_place=False)
    assert len(shared.graph.ops) < len(separate.graph.ops)  # flatten copies are gone
    assert shared.graph.alias
    loss_a, weights_a = _train(shared, x, y)
    loss_b, weights_b = _train(separate, x, y)
    np.testing.assert_array_equal(loss_a, loss_b)
    for key in weights_a:
        np.testing.assert_array_equal(weights_a[key], weights_b[key], err_msg=key)


@pytest.mark.parametrize("planner", ["no-reuse", "nntrainer", "greedy", "optimal"])
def test_every_planner_gives_bit_identical_training(planner):
    graph = build_training_graph(_cnn_spec())
    data = digits()
    x, y = encode(data.x[:64], data.y[:64], graph)
    reference_loss, reference = _train(build_program(graph, "no-reuse", in_place=False), x, y)
    loss, weights = _train(build_program(graph, planner), x, y)
    np.testing.assert_array_equal(loss, reference_loss)
    for key in reference:
        np.testing.assert_array_equal(weights[key], reference[key], err_msg=key)
