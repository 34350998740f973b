"""Every run replays the swap schedule from its start, also an EVAL run whose
op 0 is not a forward op (skipped): its reads must land again, not leave the
previous run's (here: clobbered) arena bytes in place."""
import numpy as np

from core_cy import OP_KINDS, Executor, RamStorage, SwapRuntime
from host_tools.bundle.layout import SWAP_EVENT_DTYPE, make_op

FORWARD, CALC_DERIV = 0, 2
RELU = 0
BEFORE, READ_START, READ_WAIT = 0, 0, 1
# tensor id: (arena offset, bytes)
METRICS, X, Y, SCRATCH_IN, SCRATCH_OUT = 0, 1, 2, 3, 4
TENSORS = [(0, 8), (16, 16), (32, 16), (48, 16), (64, 16)]


def _executor_reading_x_from_flash():
    ops = np.stack([
        make_op(OP_KINDS["ACT_FWD"], CALC_DERIV, [SCRATCH_IN, SCRATCH_OUT], [1, 4, RELU]),  # skipped by EVAL
        make_op(OP_KINDS["ACT_FWD"], FORWARD, [X, Y], [1, 4, RELU]),
    ])
    executor = Executor(ops, np.array(TENSORS, np.uint32), 80, X, X, METRICS, Y)
    x_offset, x_bytes = TENSORS[X]
    events = np.array([(1, BEFORE, READ_START, 0, x_offset, 0, x_bytes),
                       (1, BEFORE, READ_WAIT, 0, x_offset, 0, x_bytes)], SWAP_EVENT_DTYPE)
    storage = RamStorage(x_bytes)
    runtime = SwapRuntime(events, executor.arena, storage)
    executor.attach_swap(runtime)
    return executor, storage, runtime


def _arena_floats(executor, tid):
    offset, nbytes = TENSORS[tid]
    return executor.arena[offset:offset + nbytes].view(np.float32)


def test_eval_runs_replay_the_reads_when_op_0_is_skipped():
    executor, storage, runtime = _executor_reading_x_from_flash()
    for run, x in enumerate(([1.0, -2.0, 3.0, -4.0], [-1.0, 5.0, -6.0, 7.0], [0.5, 0.25, -8.0, 9.0])):
        storage.write(0, np.array(x, np.float32).tobytes())
        _arena_floats(executor, X)[:] = -99.0   # stale bytes the read must replace
        executor.run(train=False)
        assert _arena_floats(executor, Y).tolist() == np.maximum(x, 0).tolist(), run
        assert _arena_floats(executor, X).tolist() == x, run


def test_train_and_eval_runs_interleave_on_one_schedule():
    executor, storage, runtime = _executor_reading_x_from_flash()
    x = np.array([2.0, -3.0, 4.0, -5.0], np.float32)
    storage.write(0, x.tobytes())
    for train in (True, False, True, False):
        _arena_floats(executor, X)[:] = -99.0
        executor.run(train=train)
        assert _arena_floats(executor, Y).tolist() == np.maximum(x, 0).tolist(), train
    assert runtime.bytes_read == 4 * x.nbytes
