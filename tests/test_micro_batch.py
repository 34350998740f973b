"""Micro-batch gradient accumulation against PyTorch doing the same: K
forward/backward passes of M samples, each loss divided by K, gradients
summed in .grad, one optimizer step per batch; batch-norm uses each
micro-batch's statistics and updates its running ones every pass. Every
iteration's loss and every final weight agree to rtol 1e-5."""
import numpy as np
import pytest
import torch

from host_tools.errors import UserError
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from torch_reference import TorchTwin, make_optimizer, microtrain_run

RTOL, ATOL = 1e-5, 1e-6
N_ITER = 5


def sgd(lr=0.1, momentum=0.0):
    return {"type": "sgd", "learning_rate": lr, "momentum": momentum}


def adam(lr=0.01):
    return {"type": "adam", "learning_rate": lr}


def data(shape, n=48, classes=3, seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal((n, *shape)).astype(np.float32), g.integers(0, classes, n)


def accumulated_reference(graph, weights, x_rows, y_bytes, n_iter, before_step=None):
    """PyTorch gradient accumulation over graph.micro_batches passes per step;
    before_step(twin), if given, runs once per iteration on the accumulated
    gradients just before the step and returns a term for the iteration's loss."""
    twin = TorchTwin(graph)
    twin.load(weights)
    twin.train()
    optimizer = make_optimizer(graph.spec, twin.parameters())
    passes, micro = graph.micro_batches, graph.batch
    losses = []
    for it in range(n_iter):
        optimizer.zero_grad()
        total = 0.0
        for k in range(passes):
            rows = (np.arange(micro) + (it * passes + k) * micro) % len(x_rows)
            loss = twin.loss(twin(torch.from_numpy(x_rows[rows])), y_bytes[rows]) / passes
            loss.backward()
            total += np.float32(loss.item())
        if before_step is not None:
            total += before_step(twin)
        optimizer.step()
        losses.append(total)
    return np.array(losses, np.float32), twin.weights()


def mlp(optimizer, loss="cross", micro=2):
    m = Model(loss=loss, batch_size=8, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="1:1:10")
    m.add("fc1", "fully_connected", unit=12, activation="tanh")
    m.add("fc2", "fully_connected", unit=3, activation="softmax" if loss == "cross" else "sigmoid")
    return m.spec()


def conv_bn(optimizer, micro=3):
    m = Model(loss="cross", batch_size=6, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="3:6:6")
    m.add("conv", "conv2d", filters=4, kernel_size=3, padding="same", disable_bias=True)
    m.add("bn", "batch_normalization", activation="relu")
    m.add("pool", "pooling2d", pooling="max", pool_size=2)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    return m.spec()


def residual(optimizer, micro=2):
    m = Model(loss="cross", batch_size=4, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="2:5:5")
    m.add("c1", "conv2d", filters=3, kernel_size=3, padding="same", activation="relu")
    m.add("c2", "conv2d", filters=3, kernel_size=3, padding="same")
    m.add("dw", "depthwise_conv2d", kernel_size=3, padding="same", input_layers="c1")
    m.add("sum", "addition", input_layers="c2,dw")
    m.add("gap", "pooling2d", pooling="global_average")
    m.add("fc", "fully_connected", unit=3, activation="softmax")
    return m.spec()


CASES = {
    "mlp sgd M=2": (lambda: mlp(sgd()), (10,)),
    "mlp sgd M=1": (lambda: mlp(sgd(), micro=1), (10,)),
    "mlp momentum M=4": (lambda: mlp(sgd(0.05, 0.9), micro=4), (10,)),
    "mlp adam M=2": (lambda: mlp(adam()), (10,)),
    "mlp mse M=2": (lambda: mlp(sgd(0.5), loss="mse"), (10,)),
    "conv bn maxpool M=3": (lambda: conv_bn(sgd(0.1)), (3, 6, 6)),
    "conv bn adam M=2": (lambda: conv_bn(adam(), micro=2), (3, 6, 6)),
    "residual depthwise M=2": (lambda: residual(sgd(0.05, 0.9)), (2, 5, 5)),
}


@pytest.mark.parametrize("case", CASES)
def test_accumulation_matches_torch(case):
    make_spec, shape = CASES[case]
    spec = make_spec()
    x, y = data(shape)
    if spec.loss == "mse":
        y = np.random.default_rng(1).uniform(0, 1, (len(x), 3)).astype(np.float32)
    run = microtrain_run(spec, x, y, N_ITER)
    assert run.graph.micro_batches == spec.batch_size // spec.micro_batch
    losses, weights = accumulated_reference(run.graph, run.start, run.x_rows, run.y_bytes, N_ITER)
    np.testing.assert_allclose(run.losses, losses, rtol=RTOL, atol=ATOL)
    final = run.session.weights()
    assert final.keys() == weights.keys()
    for key, value in final.items():
        np.testing.assert_allclose(value, weights[key], rtol=RTOL, atol=ATOL, err_msg=key)
        if key.endswith(":weight"):
            assert not np.array_equal(value, run.start[key]), key  # trained at all


def test_whole_batch_micro_batch_is_the_plain_graph():
    """micro_batch = batch_size builds exactly the graph without micro-batching."""
    plain, same = mlp(sgd(), micro=0), mlp(sgd(), micro=8)
    a, b = build_training_graph(plain), build_training_graph(same)
    assert a.micro_batches == b.micro_batches == 1
    assert [(op.kind, op.tensors, op.params) for op in a.ops] == \
        [(op.kind, op.tensors, op.params) for op in b.ops]


def test_activation_memory_scales_with_the_micro_batch():
    """Arena minus persistent bytes (weights, accumulators) shrinks with M."""
    def transient(micro):
        graph = build_training_graph(conv_bn(sgd(), micro=micro))
        persistent = sum(t.nbytes for t in graph.tensors if t.persistent)
        return build_program(graph).arena_bytes - persistent
    assert transient(1) * 4 < transient(6)


@pytest.mark.parametrize("micro", [3, 7, 16])
def test_micro_batch_must_divide_the_batch(micro):
    with pytest.raises(UserError, match="must divide batch_size"):
        build_training_graph(mlp(sgd(), micro=micro))
