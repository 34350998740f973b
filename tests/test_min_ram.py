"""plan --min-ram: the smallest budget is met (simulated residency never above
it), every budget between it and the arena schedules, and training there is
bit-identical to the same micro-batching without a budget."""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.cli import main
from host_tools.graph.training_graph import build_training_graph
from host_tools.graph.uses import tensor_uses
from host_tools.model.api import Model
from host_tools.planning.min_ram import find_min_ram
from host_tools.program import build_program
from host_tools.session import Session
from host_tools.swap import simulate

N_ITER = 3


def random_model(draw):
    """A small random DAG: conv/fc stacks, optional batch-norm, an optional skip sum,
    an optional hidden dense layer."""
    batch = draw(st.sampled_from([2, 4]))
    micro = draw(st.sampled_from([1, batch // 2, batch]))
    optimizer = draw(st.sampled_from([{"type": "sgd", "learning_rate": 0.1},
                                      {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
                                      {"type": "adam", "learning_rate": 0.01}]))
    m = Model(loss="cross", batch_size=batch, optimizer=optimizer, micro_batch=micro)
    m.add("in", "input", input_shape="2:5:5")
    m.add("c1", "conv2d", filters=draw(st.integers(1, 4)), kernel_size=3, padding="same",
          activation="relu")
    last = "c1"
    if draw(st.booleans()):
        m.add("bn", "batch_normalization")
        last = "bn"
    if draw(st.booleans()):
        width = draw(st.integers(1, 4))  # the two branches of the sum share a shape
        m.add("c2", "conv2d", filters=width, kernel_size=3, padding="same")
        m.add("c3", "conv2d", filters=width, kernel_size=1, input_layers=last)
        m.add("sum", "addition", input_layers="c2,c3")
        last = "sum"
    m.add("flat", "flatten", input_layers=last)
    if draw(st.booleans()):   # a hidden dense layer: two FC layers for tiling to split
        m.add("hidden", "fully_connected", unit=draw(st.integers(2, 6)), activation="relu")
    m.add("fc", "fully_connected", unit=draw(st.integers(2, 4)), activation="softmax")
    return m.spec()


def trained(program, x, y, swap_file=None):
    session = Session(program, seed=0, swap_file=swap_file)
    order = np.arange(len(x), dtype=np.int32)
    losses, corrects = session.train(x, y, order, 0, N_ITER)
    return losses, corrects, session.weights()


def assert_same_training(graph, budget_program, swap_file="ram"):
    g = np.random.default_rng(0)
    n = graph.samples_per_iteration * N_ITER
    classes = graph.tensors[graph.output].shape[-1]
    x = g.standard_normal((n, graph.tensors[graph.input].numel // graph.batch)).astype(np.float32)
    y = g.integers(0, classes, n).astype(np.int32).view(np.uint8).reshape(n, 4)
    plain = trained(build_program(graph), x, y)
    swapped = trained(budget_program, x, y, swap_file)
    np.testing.assert_array_equal(plain[0], swapped[0])
    np.testing.assert_array_equal(plain[1], swapped[1])
    for key, value in plain[2].items():
        np.testing.assert_array_equal(value, swapped[2][key], err_msg=key)


def assert_within(program, budget):
    graph = program.graph
    assert program.arena_bytes <= budget
    if program.swap is not None:
        assert program.swap.peak_ram_bytes <= budget
        simulate(program.swap, tensor_uses(graph), len(graph.ops))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_budget_from_min_ram_up_fits_and_trains_bit_identically(data):
    graph = build_training_graph(random_model(data.draw))
    assert_budgets_from_min_ram_fit(data.draw, graph, graph)


def assert_budgets_from_min_ram_fit(draw, graph, reference):
    """min_ram's program and one drawn budget from min_ram up to the arena stay within
    their budgets and train `graph` bit-identically to `reference` unconstrained.
    Returns min_ram's finding."""
    found = find_min_ram(graph)
    assert_within(found.program, found.min_ram_bytes)
    arena = build_program(graph).arena_bytes
    budget = draw(st.integers(found.min_ram_bytes, max(found.min_ram_bytes, arena)))
    program = build_program(graph, ram_budget=budget)
    assert_within(program, budget)
    assert_same_training(reference, program)
    return found


def test_min_ram_of_micro_batched_cnn_trains_bit_identically_on_the_file_backend():
    m = Model(loss="cross", batch_size=8, micro_batch=2,
              optimizer={"type": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    m.add("in", "input", input_shape="1:8:8")
    m.add("conv", "conv2d", filters=8, kernel_size=3, padding="same", activation="relu")
    m.add("pool", "pooling2d", pooling="max", pool_size=2)
    m.add("flat", "flatten")
    m.add("fc", "fully_connected", unit=10, activation="softmax")
    graph = build_training_graph(m.spec())
    found = find_min_ram(graph)
    assert found.program.swap is not None and found.min_ram_bytes < found.program.unswapped_arena_bytes
    assert found.operand_floor <= found.min_ram_bytes
    assert_within(found.program, found.min_ram_bytes)
    assert_same_training(graph, found.program, swap_file=None)


def test_smaller_micro_batch_needs_less_ram():
    def min_ram(micro):
        m = Model(loss="cross", batch_size=8, micro_batch=micro,
                  optimizer={"type": "sgd", "learning_rate": 0.1})
        m.add("in", "input", input_shape="1:12:12")
        m.add("conv", "conv2d", filters=8, kernel_size=3, padding="same", activation="relu")
        m.add("flat", "flatten")
        m.add("fc", "fully_connected", unit=4, activation="softmax")
        return find_min_ram(build_training_graph(m.spec())).min_ram_bytes
    assert min_ram(1) < min_ram(4) < min_ram(8)


def test_plan_min_ram_json(capsys):
    assert main(["plan", "examples/digits_cnn.ini", "--min-ram", "--micro-batch", "8",
                 "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["micro_batch"] == 8 and figures["micro_batches_per_iteration"] == 4
    assert figures["operand_floor_bytes"] <= figures["peak_ram_bytes"] <= figures["min_ram_bytes"]
    assert figures["min_ram_bytes"] < figures["unswapped_arena_bytes"]
    assert figures["swapped_tensors"]


def test_plan_min_ram_with_a_budget_is_a_one_line_error(capsys):
    assert main(["plan", "examples/digits_cnn.ini", "--min-ram", "--ram-budget", "64K"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
