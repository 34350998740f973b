"""Weights of a 784-input MLP after a few training iterations on n kernel
threads, for the tests that check they do not depend on n."""
import numpy as np

from core_cy._core import set_threads, thread_count
from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from host_tools.session import Session


def mlp_weights(threads, hidden, batch, optimizer, samples, data_seed, session_seed):
    """784 -> hidden... (relu) -> 10 (softmax), trained 3 iterations over
    `samples` random samples on `threads` threads."""
    model = Model(loss="cross", batch_size=batch, optimizer=optimizer)
    model.add("in", "input", input_shape="1:1:784")
    for i, units in enumerate(hidden):
        model.add(f"fc{i}", "fully_connected", unit=units, activation="relu")
    model.add("out", "fully_connected", unit=10, activation="softmax")
    spec = model.spec()
    rng = np.random.default_rng(data_seed)
    x = rng.standard_normal((samples, 1, 1, 784)).astype(np.float32)
    y = rng.integers(0, 10, samples)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    x_rows, y_bytes = encode(x, y, graph)
    set_threads(threads)
    assert thread_count() == threads
    session = Session(build_program(graph), seed=session_seed)
    session.train(x_rows, y_bytes, np.arange(samples, dtype=np.int32), 0, 3)
    return session.weights()
