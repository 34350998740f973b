"""Whole models trained by the C executor against the same models in PyTorch.

Both start from the Session's initial weights and train the same consecutive
batches (--no-shuffle); every iteration's loss and every final weight must
agree to rtol 1e-5 (atol 1e-6). Models use the default ("best") memory
planner, so in-place reuse of arena bytes is checked too.

"conv 3x4" (NNTrainer's test-model name) is ambiguous: both readings are
tested, 3 filters of 4x4 and a 3x4 (non-square) kernel with 2 filters.
"""
import numpy as np
import pytest
import torch

from core_cy import CONSTANTS
from host_tools.graph.training_graph import build_training_graph
from host_tools.cli.common import label_kind_for
from host_tools.model.api import Model
from host_tools.model.load import load_model
from torch_reference import TorchTwin, microtrain_run, reference_training

FORWARD = CONSTANTS["PHASE_FORWARD"]
N_ITER = 6
RTOL, ATOL = 1e-5, 1e-6


def sgd(lr=0.1, momentum=0.0):
    return {"type": "sgd", "learning_rate": lr, "momentum": momentum}


def adam(lr=0.01):
    return {"type": "adam", "learning_rate": lr}


def data(shape, n=32, classes=2, seed=0):
    """Random inputs (n, *shape) with int labels in [0, classes)."""
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, *shape)).astype(np.float32)
    return x, g.integers(0, classes, n)


def assert_matches_torch(spec, x, y, n_iter=N_ITER, seed=0):
    """Trains both; checks every loss and every weight. Returns the microtrain run."""
    run = microtrain_run(spec, x, y, n_iter, seed)
    ref_losses, ref_weights = reference_training(run.graph, run.start, run.x_rows, run.y_bytes,
                                                 n_iter)
    np.testing.assert_allclose(run.losses, ref_losses, rtol=RTOL, atol=ATOL)
    final = run.session.weights()
    assert final.keys() == ref_weights.keys()
    for key, value in final.items():
        np.testing.assert_allclose(value, ref_weights[key], rtol=RTOL, atol=ATOL, err_msg=key)
    return run


def assert_trained(run, keys):
    """Guards against a vacuous pass: these weights must have moved."""
    final = run.session.weights()
    for key in keys:
        assert not np.array_equal(final[key], run.start[key]), key


# ------------------------------------------------------------------ MLPs

def test_fc_sigmoid_fc_softmax_ce_sgd():
    m = Model(loss="cross", batch_size=4, optimizer=sgd())
    m.add("in", "input", input_shape="1:1:10")
    m.add("fc1", "fully_connected", unit=8, activation="sigmoid")
    m.add("fc2", "fully_connected", unit=5, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((10,), classes=5))
    assert_trained(run, ["fc1:weight", "fc1:bias", "fc2:weight", "fc2:bias"])


def test_fc_relu_fc_sigmoid_mse():
    m = Model(loss="mse", batch_size=8, optimizer=sgd(0.5))
    m.add("in", "input", input_shape="1:1:7")
    m.add("fc1", "fully_connected", unit=12, activation="relu")
    m.add("fc2", "fully_connected", unit=3, activation="sigmoid")
    x, _ = data((7,), n=48)
    y = np.random.default_rng(1).uniform(0, 1, (48, 3)).astype(np.float32)
    run = assert_matches_torch(m.spec(), x, y)
    assert_trained(run, ["fc1:weight", "fc2:weight"])


def test_tanh_mlp_mse_with_class_labels():
    """Int labels with MSE train against one-hot rows."""
    m = Model(loss="mse", batch_size=6, optimizer=sgd(0.2))
    m.add("in", "input", input_shape="1:1:9")
    m.add("fc1", "fully_connected", unit=10, activation="tanh")
    m.add("fc2", "fully_connected", unit=4, activation="tanh")
    run = assert_matches_torch(m.spec(), *data((9,), n=36, classes=4))
    assert_trained(run, ["fc1:weight", "fc2:weight"])


def test_adam_mlp():
    m = Model(loss="cross", batch_size=8, optimizer=adam(0.01))
    m.add("in", "input", input_shape="1:1:12")
    m.add("fc1", "fully_connected", unit=16, activation="relu")
    m.add("fc2", "fully_connected", unit=16, activation="tanh")
    m.add("fc3", "fully_connected", unit=6, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((12,), n=48, classes=6), n_iter=8)
    assert_trained(run, ["fc1:weight", "fc3:bias"])


def test_sgd_momentum_mlp():
    m = Model(loss="cross", batch_size=5, optimizer=sgd(0.05, momentum=0.9))
    m.add("in", "input", input_shape="1:1:8")
    m.add("fc1", "fully_connected", unit=10, activation="sigmoid")
    m.add("fc2", "fully_connected", unit=3, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((8,), n=40, classes=3), n_iter=8)
    assert_trained(run, ["fc1:weight", "fc2:weight"])


def test_fc_without_bias():
    m = Model(loss="cross", batch_size=4, optimizer=sgd())
    m.add("in", "input", input_shape="1:1:6")
    m.add("fc1", "fully_connected", unit=7, activation="relu", disable_bias=True)
    m.add("fc2", "fully_connected", unit=3, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((6,), classes=3))
    assert "fc1:bias" not in run.session.weights()


# ------------------------------------------------------------------ losses with float targets

def test_sigmoid_ce_multilabel_dense_targets():
    """sigmoid + cross = BCEWithLogits over all elements, multi-hot float targets."""
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.3))
    m.add("in", "input", input_shape="1:1:8")
    m.add("fc1", "fully_connected", unit=10, activation="relu")
    m.add("fc2", "fully_connected", unit=5, activation="sigmoid")
    x, _ = data((8,))
    y = (np.random.default_rng(2).uniform(size=(32, 5)) < 0.4).astype(np.float32)
    run = assert_matches_torch(m.spec(), x, y)
    assert run.graph.loss == "cross_sigmoid"
    assert_trained(run, ["fc1:weight", "fc2:weight"])


def test_sigmoid_ce_fractional_targets():
    m = Model(loss="cross_sigmoid", batch_size=4, optimizer=sgd(0.3))
    m.add("in", "input", input_shape="1:1:5")
    m.add("fc1", "fully_connected", unit=3, activation="sigmoid")
    x, _ = data((5,))
    y = np.random.default_rng(3).uniform(size=(32, 3)).astype(np.float32)
    assert_matches_torch(m.spec(), x, y)


def test_softmax_ce_soft_targets():
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.3))
    m.add("in", "input", input_shape="1:1:8")
    m.add("fc1", "fully_connected", unit=9, activation="tanh")
    m.add("fc2", "fully_connected", unit=4, activation="softmax")
    x, _ = data((8,))
    logits = np.random.default_rng(4).standard_normal((32, 4))
    y = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    run = assert_matches_torch(m.spec(), x, y)
    assert run.graph.label_kind == CONSTANTS["LABEL_DENSE"]


# ------------------------------------------------------------------ CNNs

@pytest.mark.parametrize("filters,kernel,height", [(3, "4,4", 9), (2, "3,4", 8)])
def test_conv_sigmoid_avgpool_flatten_fc(filters, kernel, height):
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.2))
    m.add("in", "input", input_shape=(2, height, 11))  # conv output 6x8
    m.add("conv", "conv2d", filters=filters, kernel_size=kernel, activation="sigmoid")
    m.add("pool", "pooling2d", pooling="average", pool_size=2)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=4, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((2, height, 11), classes=4))
    assert run.session.weights()["conv:weight"].shape == (filters, 2, *map(int, kernel.split(",")))
    assert_trained(run, ["conv:weight", "conv:bias", "fc:weight"])


def conv_bn_model(optimizer, conv_bias=True):
    m = Model(loss="cross", batch_size=6, optimizer=optimizer)
    m.add("in", "input", input_shape="3:6:6")
    m.add("conv", "conv2d", filters=4, kernel_size=3, padding="same", disable_bias=not conv_bias)
    m.add("bn", "batch_normalization", activation="relu")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    return m.spec()


def test_conv_bn_relu_fc():
    run = assert_matches_torch(conv_bn_model(sgd(0.1)), *data((3, 6, 6), n=36, classes=3))
    assert_trained(run, ["conv:weight", "bn:gamma", "bn:beta", "fc:weight"])


def test_bn_running_statistics_match_torch():
    """running_mean / running_var (unbiased) after 6 iterations, as nn.BatchNorm2d.
    No conv bias: BN cancels it, so its gradient is rounding noise that Adam
    would scale up to full-size steps in both implementations alike."""
    x, y = data((3, 6, 6), n=36, classes=3, seed=5)
    x = x * 2.0 + 0.5  # statistics far from the (0, 1) start
    run = assert_matches_torch(conv_bn_model(adam(0.01), conv_bias=False), x, y)
    assert_trained(run, ["bn:running_mean", "bn:running_var"])


def test_bn_on_features_after_fc():
    m = Model(loss="mse", batch_size=8, optimizer=sgd(0.1, momentum=0.5))
    m.add("in", "input", input_shape="1:1:6")
    m.add("fc1", "fully_connected", unit=5)
    m.add("bn", "batch_normalization", activation="tanh", momentum=0.3, epsilon=1e-3)
    m.add("fc2", "fully_connected", unit=2)
    x, _ = data((6,), n=48)
    y = np.random.default_rng(6).standard_normal((48, 2)).astype(np.float32)
    run = assert_matches_torch(m.spec(), x, y)
    assert_trained(run, ["bn:gamma", "bn:running_var"])


def test_maxpool_with_padding():
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.1))
    m.add("in", "input", input_shape="2:7:7")
    m.add("conv", "conv2d", filters=3, kernel_size=2, activation="relu")
    m.add("pool", "pooling2d", pooling="max", pool_size=3, stride=2, padding=1)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((2, 7, 7), classes=3))
    assert_trained(run, ["conv:weight"])


def test_global_average_pooling():
    m = Model(loss="cross", batch_size=4, optimizer=adam(0.02))
    m.add("in", "input", input_shape="2:6:5")
    m.add("conv", "conv2d", filters=6, kernel_size=3, stride=2, padding="same",
          activation="tanh")
    m.add("gap", "pooling2d", pooling="global_average")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((2, 6, 5), classes=3))
    assert_trained(run, ["conv:weight"])


def test_residual_block_with_addition():
    """c0's output fans out into a conv branch and the skip; both are added back."""
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.05, momentum=0.9))
    m.add("in", "input", input_shape="2:6:6")
    m.add("c0", "conv2d", filters=4, kernel_size=3, padding="same", activation="relu")
    m.add("c1", "conv2d", filters=4, kernel_size=3, padding="same", activation="relu")
    m.add("c2", "conv2d", filters=4, kernel_size=3, padding="same")
    m.add("add", "addition", input_layers="c2,c0", activation="relu")
    m.add("pool", "pooling2d", pooling="max", pool_size=2)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((2, 6, 6), classes=3))
    fan_out = [op for op in run.graph.ops if op.layer.endswith("/multiout")]
    assert len(fan_out) == 1  # the two branch derivatives are gathered once
    assert_trained(run, ["c0:weight", "c1:weight", "c2:weight"])


def test_depthwise_conv():
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.1))
    m.add("in", "input", input_shape="3:6:6")
    m.add("dw", "depthwise_conv2d", kernel_size=3, depth_multiplier=2, activation="relu")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    run = assert_matches_torch(m.spec(), *data((3, 6, 6), classes=3))
    assert_trained(run, ["dw:weight"])


# ------------------------------------------------------------------ frozen layers

def frozen_stack(frozen):
    m = Model(loss="cross", batch_size=4, optimizer=sgd(0.2, momentum=0.5))
    m.add("in", "input", input_shape="1:1:8")
    for index, unit in enumerate((10, 9, 7), start=1):
        m.add(f"fc{index}", "fully_connected", unit=unit, activation="sigmoid",
              trainable=f"fc{index}" not in frozen)
    m.add("out", "fully_connected", unit=4, activation="softmax")
    return m.spec()


def backward_ops(graph, layers):
    return [op for op in graph.ops if op.phase != FORWARD and op.layer.split("/")[0] in layers]


def assert_frozen(run, layers):
    final = run.session.weights()
    for key, value in final.items():
        if key.split(":")[0] in layers:
            assert np.array_equal(value, run.start[key]), key  # bit-identical
    assert not [t.name for t in run.graph.tensors
                if t.kind in ("gradient", "optimizer") and t.name.split(":")[0] in layers]


def test_frozen_prefix_has_no_backward():
    frozen = {"fc1", "fc2"}
    run = assert_matches_torch(frozen_stack(frozen), *data((8,), classes=4))
    assert_frozen(run, frozen)
    assert backward_ops(run.graph, frozen) == []
    # backward stops at the first trainable layer: it needs no input derivative
    assert [op.kind for op in backward_ops(run.graph, {"fc3"})
            if op.layer == "fc3"] == ["FC_GRAD", "SGD_APPLY", "SGD_APPLY"]
    assert_trained(run, ["fc3:weight", "out:weight"])


def test_frozen_middle_layer_passes_derivative_only():
    frozen = {"fc2"}
    run = assert_matches_torch(frozen_stack(frozen), *data((8,), classes=4))
    assert_frozen(run, frozen)
    kinds = [op.kind for op in backward_ops(run.graph, frozen)]
    assert kinds == ["ACT_DERIV", "FC_DERIV"]
    assert_trained(run, ["fc1:weight", "fc3:weight"])


# ------------------------------------------------------------------ dropout

def dropout_model(rate):
    m = Model(loss="cross", batch_size=8, optimizer=sgd(0.2))
    m.add("in", "input", input_shape="1:1:16")
    m.add("fc1", "fully_connected", unit=64, activation="relu")
    m.add("drop", "dropout", dropout_rate=rate)
    m.add("fc2", "fully_connected", unit=4, activation="softmax")
    return m.spec()


def test_dropout_rate_zero_is_identity():
    run = assert_matches_torch(dropout_model(0.0), *data((16,), classes=4))
    assert_trained(run, ["fc1:weight", "fc2:weight"])


def named(graph, name):
    return next(t.id for t in graph.tensors if t.name == name)


def test_dropout_train_mask_and_gradient_match_torch():
    """Train mode: y = x * mask with mask in {0, 1/(1-p)}; one iteration with
    torch applying the same mask gives the same loss and weights."""
    rate = 0.5
    x, y = data((16,), classes=4)
    run = microtrain_run(dropout_model(rate), x, y, n_iter=1, inspect=True)
    view = lambda name: run.session.view(named(run.graph, name))  # noqa: E731
    mask, x_in, y_out = view("drop:mask"), view("fc1/activation:output"), view("drop:output")
    assert set(np.unique(mask)) == {0.0, 1.0 / (1.0 - rate)}
    assert 0.35 < (mask == 0).mean() < 0.65
    np.testing.assert_array_equal(y_out, x_in * mask)
    np.testing.assert_array_equal(view("fc1/activation:output/deriv"),
                                  view("drop:output/deriv") * mask)
    twin = TorchTwin(run.graph)
    twin.load(run.start)
    twin.masks["drop"] = torch.from_numpy(mask.copy())
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.2)
    loss = twin.loss(twin(torch.from_numpy(run.x_rows[:8])), run.y_bytes[:8])
    loss.backward()
    optimizer.step()
    np.testing.assert_allclose(run.losses[0], loss.item(), rtol=RTOL, atol=ATOL)
    for key, value in twin.weights().items():
        np.testing.assert_allclose(run.session.weights()[key], value, rtol=RTOL, atol=ATOL)


def test_dropout_eval_mode_is_identity():
    x, y = data((16,), classes=4)
    run = microtrain_run(dropout_model(0.5), x, y, n_iter=3, inspect=True)
    probabilities = run.session.predict(run.x_rows, run.y_bytes)
    np.testing.assert_array_equal(run.session.view(named(run.graph, "drop:output")),
                                  run.session.view(named(run.graph, "fc1/activation:output")))
    twin = TorchTwin(run.graph)
    twin.load(run.session.weights())
    twin.eval()
    with torch.no_grad():
        expected = torch.softmax(twin(torch.from_numpy(run.x_rows)), dim=1).numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ INI == API

INI_TEXT = """
[Model]
loss = cross
batch_size = 4
[Optimizer]
type = adam
learning_rate = 0.003
[in]
type = input
input_shape = 2:6:6
[c0]
type = conv2d
filters = 4
kernel_size = 3
padding = same
activation = relu
[c1]
type = conv2d
filters = 4
kernel_size = 3,3
padding = same
[add]
type = addition
input_layers = c1, c0
[bn]
type = batch_normalization
activation = relu
[pool]
type = pooling2d
pooling = max
pool_size = 2
[fc]
type = fully_connected
unit = 3
activation = softmax
"""


def api_twin_of_ini():
    m = Model(loss="cross", batch_size=4, optimizer={"type": "adam", "learning_rate": 0.003})
    m.add("in", "input", input_shape=(2, 6, 6))
    m.add("c0", "conv2d", filters=4, kernel_size=3, padding="same", activation="relu")
    m.add("c1", "conv2d", filters=4, kernel_size=(3, 3), padding="same")
    m.add("add", "addition", input_layers=["c1", "c0"])
    m.add("bn", "batch_normalization", activation="relu")
    m.add("pool", "pooling2d", pooling="max", pool_size=2)
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    return m.spec()


def test_ini_and_api_give_identical_graphs(tmp_path):
    path = tmp_path / "model.ini"
    path.write_text(INI_TEXT)
    ini_spec, api_spec = load_model(path), api_twin_of_ini()
    y = np.zeros(4, np.int64)
    from_ini = build_training_graph(ini_spec, label_kind_for(ini_spec, y))
    from_api = build_training_graph(api_spec, label_kind_for(api_spec, y))
    assert len(from_ini.ops) > 20
    assert from_ini.ops == from_api.ops
    assert from_ini.tensors == from_api.tensors
    assert (from_ini.input, from_ini.labels, from_ini.output) == \
        (from_api.input, from_api.labels, from_api.output)
    assert from_ini.params == from_api.params
