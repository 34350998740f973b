"""A model made of the NNTrainer-compatibility layers (concat, multiply,
subtract, permute, upsample2d, layer_normalization, gelu / swish /
leaky_relu, conv1d, l2norm regularizer, weight decay) trains bit-identically
under RAM budgets that force swapping: the new ops' read / write roles in
the C op table are what the swap schedule relies on."""
import pytest

from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from test_swap_runtime import budgeted, dataset, same_bits, train


def nntrainer_mix():
    m = Model(loss="mse", batch_size=4, optimizer={"type": "adam", "learning_rate": 0.01})
    m.add("in", "input", input_shape="2:1:12")
    m.add("c1", "conv1d", filters=4, kernel_size=3, padding="same", activation="gelu",
          weight_regularizer="l2norm", weight_regularizer_constant=0.01)
    m.add("up", "upsample2d", kernel_size="2,1")
    m.add("a", "conv2d", filters=3, kernel_size=1, activation="swish", input_layers="up",
          weight_decay=0.1)
    m.add("b", "conv2d", filters=3, kernel_size=1, activation="leaky_relu", input_layers="up")
    m.add("mul", "multiply", input_layers="a,b")
    m.add("sub", "subtract", input_layers="a,mul")
    m.add("cat", "concat", input_layers="mul,sub", axis=1)
    m.add("perm", "permute", direction="1:3:2")
    m.add("ln", "layer_normalization", axis="2,3")
    m.add("flat", "flatten")
    m.add("out", "fully_connected", unit=3, activation="sigmoid")
    return m.spec()


@pytest.mark.parametrize("swap_file", [None, "ram"])
def test_nntrainer_layers_train_identically_under_budget(swap_file):
    spec = nntrainer_mix()
    x, y = dataset((2, 1, 12), 0)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    x_rows, y_bytes = encode(x, y, graph)
    plain, _, losses, weights, predictions = train(graph, x_rows, y_bytes)
    for fraction in (0.5, 0.3):
        _, (program, _, got_losses, got_weights, got_predictions) = budgeted(
            graph, x_rows, y_bytes, int(plain.arena_bytes * fraction), swap_file)
        assert program.swap is not None
        assert same_bits(got_losses, losses) and same_bits(got_predictions, predictions)
        for key in weights:
            assert same_bits(got_weights[key], weights[key]), (fraction, key)
