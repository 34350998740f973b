"""Every layer type through the whole stack (graph builder, planner, C
executor) against torch autograd: forward output, the derivative of the
layer's input and its parameter gradients after one training iteration.

Graphs are  input -> pre -> LAYER -> MSE  where `pre` (a 1x1 conv or an FC)
is trainable, so LAYER's input has a derivative tensor ('pre:output/deriv').
Sessions use inspect=True (no reuse, no in-place sharing): every tensor
keeps its bytes after the iteration.
"""
import numpy as np
import pytest
import torch

from core_cy import ExecutorError
from host_tools.graph.nodes import numel
from host_tools.graph.normalize import normalize
from host_tools.model.api import Model
from torch_reference import TORCH_NAMES, TorchTwin, microtrain_run

BATCH = 4


def layer_spec(in_shape, layer_type, **props):
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape=in_shape)
    if len(in_shape) == 3:
        m.add("pre", "conv2d", filters=in_shape[0], kernel_size=1)
    else:
        m.add("pre", "fully_connected", unit=in_shape[-1])
    m.add("layer", layer_type, **props)
    return m.spec()


def close(got, ref):
    """rtol 1e-5; atol 1e-6 relative to the reference's magnitude."""
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    atol = 1e-6 * max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=atol)


def random_data(spec_in_shape, out_features, seed):
    g = np.random.default_rng(seed)
    x = g.standard_normal((BATCH, *spec_in_shape)).astype(np.float32)
    y = g.standard_normal((BATCH, out_features)).astype(np.float32)
    return x, y


def output_features(spec):
    return numel(normalize(spec).nodes[-1].shape)


def check_layer(spec, in_shape, inputs=("pre",), seed=0):
    """Runs one iteration in C and in torch; compares output, input
    derivatives and every parameter gradient of 'layer'. Returns the run."""
    x, y = random_data(in_shape, output_features(spec), seed)
    run = microtrain_run(spec, x, y, n_iter=1, inspect=True)
    twin = TorchTwin(run.graph)
    twin.load(run.start)
    twin.train()
    loss = twin.loss(twin(torch.from_numpy(run.x_rows)), run.y_bytes)
    loss.backward()
    view = tensor_views(run)
    close(run.losses[0], loss.item())
    close(view["layer:output"], twin.outputs["layer"])
    for name in inputs:
        close(view[f"{name}:output/deriv"], twin.outputs[name].grad)
    for key in run.graph.params.get("layer", {}):
        if f"layer:{key}/grad" in view:
            close(view[f"layer:{key}/grad"], getattr(twin.module("layer"), TORCH_NAMES[key]).grad)
    return run, twin


def tensor_views(run):
    return {t.name: run.session.view(t.id) for t in run.graph.tensors}


def gradients_checked(run):
    return sorted(key for key in run.graph.params.get("layer", {})
                  if any(t.name == f"layer:{key}/grad" for t in run.graph.tensors))


# ------------------------------------------------------------------ fully connected

@pytest.mark.parametrize("in_shape", [(12,), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_fully_connected(in_shape, bias):
    spec = layer_spec(in_shape, "fully_connected", unit=5, disable_bias=not bias)
    run, _ = check_layer(spec, in_shape)
    assert gradients_checked(run) == (["bias", "weight"] if bias else ["weight"])


# ------------------------------------------------------------------ conv2d

CONV_CASES = {
    "k3_valid": dict(kernel_size=3),
    "k3_stride2_pad1": dict(kernel_size=3, stride=2, padding=1),
    "k3_same": dict(kernel_size=3, padding="same"),
    "k4_stride2_same_asymmetric": dict(kernel_size=4, stride=2, padding="same"),
    "k2_same_even_kernel": dict(kernel_size=2, padding="same"),
    "k3x2_stride2x1_pad1x0": dict(kernel_size="3,2", stride="2,1", padding="1,0"),
    "k1": dict(kernel_size=1),
    "no_bias": dict(kernel_size=3, padding=1, disable_bias=True),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d(case):
    in_shape = (3, 7, 8)
    run, _ = check_layer(layer_spec(in_shape, "conv2d", filters=4, **CONV_CASES[case]), in_shape)
    assert "weight" in gradients_checked(run)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_conv2d(multiplier):
    in_shape = (3, 6, 7)
    spec = layer_spec(in_shape, "depthwise_conv2d", kernel_size=3, padding="same",
                      depth_multiplier=multiplier)
    run, twin = check_layer(spec, in_shape)
    assert twin.module("layer").groups == 3


def test_conv2d_output_shape_matches_same_padding():
    """'same' at stride 1 keeps H x W even for an even kernel (pad after)."""
    in_shape = (2, 5, 6)
    run, _ = check_layer(layer_spec(in_shape, "conv2d", filters=3, kernel_size=4,
                                    padding="same"), in_shape)
    assert tensor_views(run)["layer:output"].shape == (BATCH, 3, 5, 6)


# ------------------------------------------------------------------ pooling

POOL_CASES = {
    "max_k2": dict(pooling="max", pool_size=2),
    "max_k3_stride2_pad1": dict(pooling="max", pool_size=3, stride=2, padding=1),
    "max_k3_stride1_same": dict(pooling="max", pool_size=3, stride=1, padding="same"),
    "max_k2_stride1": dict(pooling="max", pool_size=2, stride=1),
    "average_k2": dict(pooling="average", pool_size=2),
    "average_k3_stride1_pad1": dict(pooling="average", pool_size=3, stride=1, padding=1),
    "average_k2_stride2_same": dict(pooling="average", pool_size=2, stride=2, padding="same"),
    "global_average": dict(pooling="global_average"),
}


@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling2d(case):
    in_shape = (3, 6, 8)
    check_layer(layer_spec(in_shape, "pooling2d", **POOL_CASES[case]), in_shape)




@pytest.mark.parametrize("layer_type,props", [
    ("pooling2d", dict(pooling="max", pool_size=2, stride=2)),    # W 7 -> 3, last column unused
    ("conv2d", dict(filters=2, kernel_size=3, stride=2)),       # W 8 -> 3, last column unused
])
def test_floor_mode_windows(layer_type, props):
    in_shape = (2, 6, 7) if layer_type == "pooling2d" else (2, 7, 8)
    check_layer(layer_spec(in_shape, layer_type, **props), in_shape)


# ------------------------------------------------------------------ activations

@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("in_shape", [(10,), (2, 3, 5)])
def test_activation(activation, in_shape):
    """softmax on c:h:w runs over the last axis (W), as NNTrainer."""
    check_layer(layer_spec(in_shape, "activation", activation=activation), in_shape)


# ------------------------------------------------------------------ batch normalization

@pytest.mark.parametrize("in_shape", [(3, 4, 5), (6,)])
@pytest.mark.parametrize("momentum,epsilon", [(0.1, 1e-5), (0.3, 1e-3)])
def test_batch_normalization(in_shape, momentum, epsilon):
    spec = layer_spec(in_shape, "batch_normalization", momentum=momentum, epsilon=epsilon)
    run, twin = check_layer(spec, in_shape)
    assert gradients_checked(run) == ["beta", "gamma"]
    bn, weights = twin.module("layer"), run.session.weights()
    close(weights["layer:running_mean"], bn.running_mean)
    close(weights["layer:running_var"], bn.running_var)  # unbiased, as PyTorch


# ------------------------------------------------------------------ addition

@pytest.mark.parametrize("n_inputs", [2, 3])
def test_addition(n_inputs):
    """Each branch's derivative must equal the sum's derivative."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape=(2, 3, 4))
    branches = [f"b{index}" for index in range(n_inputs)]
    for branch in branches:
        m.add(branch, "conv2d", filters=2, kernel_size=3, padding="same", input_layers="in")
    m.add("layer", "addition", input_layers=branches)
    check_layer(m.spec(), (2, 3, 4), inputs=branches)


def test_addition_with_skip_fan_out():
    """pre feeds the addition directly and through a conv: its derivative is
    the sum of both edges (the multiout gather)."""
    m = Model(loss="mse", batch_size=BATCH, optimizer={"type": "sgd", "learning_rate": 0.01})
    m.add("in", "input", input_shape=(2, 4, 4))
    m.add("pre", "conv2d", filters=2, kernel_size=1)
    m.add("branch", "conv2d", filters=2, kernel_size=3, padding="same")
    m.add("layer", "addition", input_layers="branch,pre")
    check_layer(m.spec(), (2, 4, 4), inputs=("pre", "branch"))


# ------------------------------------------------------------------ shape-only layers

@pytest.mark.parametrize("layer_type,props", [
    ("flatten", {}),
    ("reshape", dict(target_shape="4:3:2")),
    ("reshape", dict(target_shape="24")),
    ("dropout", dict(dropout_rate=0.0)),
])
def test_shape_only_layers(layer_type, props):
    in_shape = (2, 3, 4)
    run, _ = check_layer(layer_spec(in_shape, layer_type, **props), in_shape)
    np.testing.assert_array_equal(tensor_views(run)["layer:output"].reshape(BATCH, -1),
                                  tensor_views(run)["pre:output"].reshape(BATCH, -1))
