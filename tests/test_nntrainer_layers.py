"""Layers and terms added for NNTrainer compatibility, through the whole
stack against torch autograd (forward, input derivative, weight gradient),
in the style of test_layers_golden.py."""
import numpy as np
import pytest
import torch

from host_tools.model.api import Model
from test_layers_golden import BATCH, check_layer, close, layer_spec, tensor_views
from torch_reference import TorchTwin, microtrain_run


@pytest.mark.parametrize("activation", ["leaky_relu", "swish", "gelu"])
@pytest.mark.parametrize("in_shape", [(10,), (2, 3, 5)])
def test_activation_reading_input(activation, in_shape):
    check_layer(layer_spec(in_shape, "activation", activation=activation), in_shape)


def test_activation_property_on_fc():
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape="1:1:6")
    m.add("pre", "fully_connected", unit=6)
    m.add("layer", "fully_connected", unit=4, activation="gelu")
    check_layer(m.spec(), (6,))


def binary_spec(kind, in_shape):
    """Both operands carry derivatives: two trainable branches from one input."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape=in_shape)
    m.add("a", "conv2d", filters=in_shape[0], kernel_size=1, input_layers="in")
    m.add("b", "conv2d", filters=in_shape[0], kernel_size=3, padding="same", input_layers="in")
    m.add("layer", kind, input_layers="a,b")
    return m.spec()


@pytest.mark.parametrize("kind", ["subtract", "multiply"])
def test_binary(kind):
    check_layer(binary_spec(kind, (2, 4, 5)), (2, 4, 5), inputs=("a", "b"))


def test_identity_passes_through():
    check_layer(layer_spec((3, 4), "identity"), (3, 4))


def regularized_spec(**props):
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.05})
    m.add("in", "input", input_shape="1:1:5")
    m.add("layer", "fully_connected", unit=3, **props)
    return m.spec()


@pytest.mark.parametrize("props,weight_c,bias_c,loss_c", [
    (dict(weight_regularizer="l2norm", weight_regularizer_constant=0.3), 0.3, 0.0, 0.3),
    (dict(weight_decay=0.9, bias_decay=0.2), 0.9, 0.2, 0.0),
])
def test_regularizer_and_decay(props, weight_c, bias_c, loss_c):
    """NNTrainer: loss += c/2 * ||W||_2, dW += c * W; decay: dW += d * W."""
    g = np.random.default_rng(3)
    x = g.standard_normal((BATCH, 5)).astype(np.float32)
    y = g.standard_normal((BATCH, 3)).astype(np.float32)
    run = microtrain_run(regularized_spec(**props), x, y, n_iter=1, inspect=True)
    twin = TorchTwin(run.graph)
    twin.load(run.start)
    loss = twin.loss(twin(torch.from_numpy(run.x_rows)), run.y_bytes)
    loss.backward()
    fc, w0 = twin.module("layer"), torch.from_numpy(run.start["layer:weight"])
    close(run.losses[0], loss.item() + loss_c * 0.5 * float(torch.linalg.norm(w0)))
    view = tensor_views(run)
    close(view["layer:weight/grad"], fc.weight.grad + weight_c * w0)
    close(view["layer:bias/grad"],
          fc.bias.grad + bias_c * torch.from_numpy(run.start["layer:bias"]))


@pytest.mark.parametrize("props", [dict(kernel_size=3), dict(kernel_size=4, stride=2,
                                                             padding="same"),
                                   dict(kernel_size=3, padding=1, filters=2)])
def test_conv1d_matches_torch_conv1d(props):
    """conv1d on c:1:w against nn.Conv1d: output, input derivative, weight gradient."""
    props = {"filters": 3, **props}
    spec = layer_spec((2, 1, 9), "conv1d", **props)
    run, twin = check_layer(spec, (2, 1, 9))
    weight = run.start["layer:weight"]
    assert weight.shape[2] == 1  # (filters, c, 1, k)
    x = torch.from_numpy(tensor_views(run)["pre:output"].copy()).reshape(BATCH, 2, 9)
    conv = torch.nn.Conv1d(2, props["filters"], props["kernel_size"], props.get("stride", 1))
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight[:, :, 0, :]))
        conv.bias.copy_(torch.from_numpy(run.start["layer:bias"]))
    pad = props.get("padding", 0)
    if pad == "same":  # total (out - 1) * s + k - w, the odd one after
        out = -(-9 // props["stride"])
        total = max((out - 1) * props["stride"] + props["kernel_size"] - 9, 0)
        x = torch.nn.functional.pad(x, (total // 2, total - total // 2))
    elif pad:
        x = torch.nn.functional.pad(x, (pad, pad))
    close(tensor_views(run)["layer:output"].reshape(BATCH, props["filters"], -1), conv(x))


def two_branch_spec(kind, in_shape, branch_filters=(2, 3), **props):
    """in -> conv a, conv b (different channel counts) -> LAYER(a, b)."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape=in_shape)
    for name, filters in zip("ab", branch_filters):
        m.add(name, "conv2d", filters=filters, kernel_size=1, input_layers="in")
    m.add("layer", kind, input_layers="a,b", **props)
    return m.spec()


def test_concat_channels():
    check_layer(two_branch_spec("concat", (2, 3, 4), axis=1), (2, 3, 4), inputs=("a", "b"))


@pytest.mark.parametrize("axis", [2, 3])
def test_concat_height_width(axis):
    check_layer(two_branch_spec("concat", (2, 3, 4), (2, 2), axis=axis), (2, 3, 4),
                inputs=("a", "b"))


def test_concat_features():
    """Two FC branches of 1:1:F concatenated on width (features)."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape="1:1:6")
    m.add("a", "fully_connected", unit=3, input_layers="in")
    m.add("b", "fully_connected", unit=5, input_layers="in")
    m.add("layer", "concat", input_layers="a,b", axis=3)
    run, _ = check_layer(m.spec(), (6,), inputs=("a", "b"))
    assert run.graph.nodes[-1].shape == (8,)


@pytest.mark.parametrize("direction", ["1:3:2", "2:1:3", "3:2:1", "2:3:1", "3:1:2"])
def test_permute(direction):
    run, _ = check_layer(layer_spec((2, 3, 4), "permute", direction=direction), (2, 3, 4))
    shape = (2, 3, 4)
    assert run.graph.nodes[-1].shape == tuple(shape[int(a) - 1] for a in direction.split(":"))


@pytest.mark.parametrize("kernel_size", [2, "2,3"])
def test_upsample2d_nearest(kernel_size):
    check_layer(layer_spec((2, 3, 4), "upsample2d", kernel_size=kernel_size), (2, 3, 4))


def test_concat_with_the_input_needs_one_derivative():
    """The input branch has no derivative: CONCAT_DERIV leaves that slot empty."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape="2:3:4")
    m.add("a", "conv2d", filters=3, kernel_size=1, input_layers="in")
    m.add("layer", "concat", input_layers="in,a", axis=1)
    run, _ = check_layer(m.spec(), (2, 3, 4), inputs=("a",))
    deriv = [op for op in run.graph.ops if op.kind == "CONCAT_DERIV"]
    assert len(deriv) == 1 and deriv[0].tensors[1] == -1


@pytest.mark.parametrize("in_shape,axis", [((2, 3, 4), "3"), ((2, 3, 4), "2,3"),
                                           ((2, 3, 4), "1,2,3"), ((6,), "3")])
def test_layer_normalization(in_shape, axis):
    spec = layer_spec(in_shape, "layer_normalization", axis=axis, epsilon=1e-5)
    run, _ = check_layer(spec, in_shape)
    assert sorted(run.graph.params["layer"]) == ["beta", "gamma"]


def test_layer_normalization_non_trailing_axes_refused():
    from host_tools.errors import UserError
    from host_tools.graph.training_graph import build_training_graph
    with pytest.raises(UserError, match="only trailing axes"):
        build_training_graph(layer_spec((2, 3, 4), "layer_normalization", axis="1,3"))


@pytest.mark.parametrize("axis,number", [(1, None), (2, 3), (3, 2)])
def test_split_outputs_recombined(axis, number):
    """split -> two of its outputs into multiply: each output's share of the
    input derivative (zero elsewhere) is gathered like a multiout."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape="2:3:4")
    m.add("pre", "conv2d", filters=2, kernel_size=1)
    props = {"split_dimension": axis, **({"split_number": number} if number else {})}
    m.add("sp", "split", **props)
    m.add("layer", "multiply", input_layers="sp(0), sp(1)")
    run, _ = check_layer(m.spec(), (2, 3, 4))
    assert [op.kind for op in run.graph.ops].count("SLICE") == 2
