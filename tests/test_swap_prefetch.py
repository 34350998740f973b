"""Long prefetch distances on the file backend: reads started far ahead hold
their ring slots, and training stays bit-identical."""
from pathlib import Path

import numpy as np
import pytest

from core_cy import FileStorage, RamStorage, SwapRuntime
from host_tools.cli.common import build_graph
from host_tools.data import encode
from host_tools.model.load import load_model
from host_tools.program import build_program
from host_tools.session import Session

ZOO = Path(__file__).resolve().parents[1] / "bench" / "zoo"


def _mobilenet(batch=2):
    spec = load_model(ZOO / "mobilenet.ini")
    spec.batch_size = batch
    return build_graph(spec)


def _data(graph, n=8):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *graph.tensors[graph.input].shape[1:])).astype(np.float32)
    return encode(x, rng.integers(0, 10, n), graph)


def _train(program, swap_file, x, y):
    session = Session(program, seed=2, swap_file=swap_file)
    losses, _ = session.train(x, y, np.arange(len(x), dtype=np.int32), 0, 4)
    return losses, session.weights()


@pytest.mark.parametrize("lookahead", [1, 16, 64])
def test_far_prefetch_on_the_file_backend_is_bit_identical(tmp_path, lookahead):
    graph = _mobilenet()
    x, y = _data(graph)
    base = build_program(graph)
    swapped = build_program(graph, ram_budget=base.arena_bytes // 2, lookahead=lookahead)
    ref_losses, ref_weights = _train(base, None, x, y)
    losses, weights = _train(swapped, str(tmp_path / "flash.bin"), x, y)
    np.testing.assert_array_equal(losses, ref_losses)
    for key in ref_weights:
        np.testing.assert_array_equal(weights[key], ref_weights[key], err_msg=key)


def test_a_schedule_needing_more_queue_slots_than_the_storage_has_is_refused(tmp_path):
    events = np.zeros(600, dtype=[("op", "<u4"), ("when", "u1"), ("action", "u1"), ("tag", "<u2"),
                                  ("arena_offset", "<u4"), ("flash_offset", "<u4"),
                                  ("nbytes", "<u4")])
    # 300 reads start before the first is waited for: a FIFO ring needs 300 slots
    events["action"][:300] = 0
    events["tag"][:300] = np.arange(300)
    events["action"][300:] = 1
    events["tag"][300:] = np.arange(300)
    events["op"][300:] = 1
    events["nbytes"] = 4
    arena = np.zeros(64, np.uint8)
    with pytest.raises(ValueError, match="keeps 300 reads queued"):
        SwapRuntime(events, arena, FileStorage(str(tmp_path / "f.bin"), 64))
    SwapRuntime(events, arena, RamStorage(64))  # a synchronous backend queues nothing
