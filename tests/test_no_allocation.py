"""The C core never allocates: no allocator calls in the sources, and a
training run's Python-side memory does not grow with its iteration count."""
import re
import tracemalloc
from pathlib import Path

import numpy as np

from host_tools.data import digits, encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.load import load_model
from host_tools.program import build_program
from host_tools.session import Session

ROOT = Path(__file__).resolve().parents[1]
ALLOCATORS = re.compile(r"\b(malloc|calloc|realloc|free|alloca)\s*\(")


def test_c_core_has_no_allocator_calls():
    offenders = [path.name for path in (ROOT / "core_cy" / "src").glob("*.[ch]")
                 if ALLOCATORS.search(path.read_text())]
    assert offenders == []


def _peak_bytes(session, x, y, n_iter):
    order = np.arange(len(x), dtype=np.int32)
    session.train(x, y, order, 0, 1)
    tracemalloc.start()
    session.train(x, y, order, 0, n_iter)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_training_memory_does_not_grow_with_iterations():
    graph = build_training_graph(load_model(ROOT / "examples" / "digits_mlp.ini"))
    data = digits()
    x, y = encode(data.x, data.y, graph)
    session = Session(build_program(graph), seed=0)
    short, long = _peak_bytes(session, x, y, 2), _peak_bytes(session, x, y, 400)
    # only the two per-iteration result arrays (loss, correct: 4 bytes each) may grow
    assert long - short <= 8 * 400 + 1024
