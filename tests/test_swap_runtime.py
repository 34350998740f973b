"""Swap runtime: training under a RAM budget must give bit-identical losses and weights
to training without swap, and move exactly the bytes the schedule promises.

Two levels: whole models through the Session (C executor + SwapRuntime, file and RAM
storage), and the C runtime alone (ctypes) replaying random schedules against a fake
executor that checks every operand's bytes, so the file backend's background reads are
exercised with many reads in flight."""
import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.cli.common import label_kind_for
from host_tools.data import encode
from host_tools.graph.training_graph import build_training_graph
from host_tools.model.api import Model
from host_tools.program import build_program
from host_tools.session import Session
from host_tools.swap import SwapInfeasible, schedule_swap
from host_tools.swap.uses import starts_before_op0
from test_swap_schedule import training_like

N_ITER = 5
SRC = Path(__file__).resolve().parents[1] / "core_cy" / "src"
POSIX_PORT = SRC.parent / "ports" / "posix"


# ---------------------------------------------------------------- whole models

def mlp(layers=5, width=32, batch=16):
    m = Model(loss="cross", batch_size=batch, optimizer={"type": "adam", "learning_rate": 0.01})
    m.add("in", "input", input_shape=f"1:1:{width}")
    for i in range(layers):
        m.add(f"fc{i}", "fully_connected", unit=width, activation="relu")
    m.add("out", "fully_connected", unit=4, activation="softmax")
    return m.spec(), (width,), 4


def conv_bn():
    m = Model(loss="cross", batch_size=4, optimizer={"type": "sgd", "learning_rate": 0.1, "momentum": 0.9})
    m.add("in", "input", input_shape="2:8:8")
    m.add("c1", "conv2d", filters=4, kernel_size=3, padding="same")
    m.add("bn", "batch_normalization", activation="relu")
    m.add("p", "pooling2d", pooling="max", pool_size=2, stride=2)
    m.add("fl", "flatten")
    m.add("fc1", "fully_connected", unit=16, activation="sigmoid")
    m.add("drop", "dropout", dropout_rate=0.25)
    m.add("fc2", "fully_connected", unit=5, activation="softmax")
    return m.spec(), (2, 8, 8), 5


def partly_frozen():
    m = Model(loss="mse", batch_size=8, optimizer={"type": "sgd", "learning_rate": 0.2})
    m.add("in", "input", input_shape="1:1:24")
    m.add("fc1", "fully_connected", unit=24, activation="tanh", trainable=False)
    m.add("fc2", "fully_connected", unit=24, activation="sigmoid", trainable=False)
    m.add("fc3", "fully_connected", unit=24, activation="relu")
    m.add("fc4", "fully_connected", unit=3, activation="sigmoid")
    return m.spec(), (24,), None


def dataset(shape, classes, n=48, seed=0):
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, *shape)).astype(np.float32)
    y = g.integers(0, classes, n) if classes else g.uniform(0, 1, (n, 3)).astype(np.float32)
    return x, y


def train(graph, x_rows, y_bytes, ram_budget=None, swap_file=None):
    program = build_program(graph, ram_budget=ram_budget)
    session = Session(program, seed=3, swap_file=swap_file)
    order = np.arange(len(x_rows), dtype=np.int32)
    losses, correct = session.train(x_rows, y_bytes, order, 0, N_ITER)
    predictions = session.predict(x_rows[:8], y_bytes[:8])
    return program, session, losses, session.weights(), predictions


def budgeted(graph, x_rows, y_bytes, ram_budget, swap_file):
    """Trains within ram_budget, or within the budget SwapInfeasible reports."""
    try:
        return ram_budget, train(graph, x_rows, y_bytes, ram_budget, swap_file)
    except SwapInfeasible as error:
        assert error.min_budget > ram_budget
        return error.min_budget, train(graph, x_rows, y_bytes, error.min_budget, swap_file)


def same_bits(a, b):
    return np.array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


@pytest.mark.parametrize("model", [mlp, conv_bn, partly_frozen])
@pytest.mark.parametrize("swap_file", [None, "ram"])
def test_training_under_budget_is_bit_identical(model, swap_file):
    spec, shape, classes = model()
    x, y = dataset(shape, classes)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    x_rows, y_bytes = encode(x, y, graph)
    plain, _, losses, weights, predictions = train(graph, x_rows, y_bytes)
    assert plain.swap is None
    for fraction in (1.0, 0.5, 0.3):
        budget, (program, session, got_losses, got_weights, got_predictions) = budgeted(
            graph, x_rows, y_bytes, int(plain.arena_bytes * fraction), swap_file)
        assert program.arena_bytes <= budget
        assert same_bits(got_losses, losses), fraction
        assert same_bits(got_predictions, predictions), fraction
        assert got_weights.keys() == weights.keys()
        for key in weights:
            assert same_bits(got_weights[key], weights[key]), (fraction, key)
        schedule = program.swap
        if schedule is None:
            assert fraction == 1.0
            continue
        # predict() ran the schedule once per batch of its 8 rows (EVAL mode + finish()).
        runs = N_ITER + -(-8 // graph.batch)
        assert session.swap_bytes == (schedule.read_bytes_per_iteration * runs,
                                      schedule.write_bytes_per_iteration * runs)


def test_mlp_fits_in_30_percent():
    """The deep MLP actually swaps at 30 % (no fallback to a larger budget)."""
    spec, shape, classes = mlp()
    x, y = dataset(shape, classes)
    graph = build_training_graph(spec, label_kind_for(spec, y))
    arena = build_program(graph).arena_bytes
    program = build_program(graph, ram_budget=int(arena * 0.3))
    assert program.arena_bytes <= arena * 0.3 and program.swap.read_bytes_per_iteration > 0


# ---------------------------------------------------------------- C runtime alone

class Event(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint32), ("when", ctypes.c_uint8), ("action", ctypes.c_uint8),
                ("tag", ctypes.c_uint16), ("arena_offset", ctypes.c_uint32),
                ("flash_offset", ctypes.c_uint32), ("nbytes", ctypes.c_uint32)]


class Storage(ctypes.Structure):
    _fields_ = [("read_start", ctypes.c_void_p), ("read_wait", ctypes.c_void_p),
                ("write", ctypes.c_void_p), ("ctx", ctypes.c_void_p)]


class Runtime(ctypes.Structure):
    _fields_ = [("events", ctypes.c_void_p), ("n_events", ctypes.c_uint32), ("next", ctypes.c_uint32),
                ("arena", ctypes.c_void_p), ("storage", ctypes.c_void_p),
                ("bytes_read", ctypes.c_uint64), ("bytes_written", ctypes.c_uint64)]


@pytest.fixture(scope="module")
def swap_lib(tmp_path_factory):
    out = tmp_path_factory.mktemp("swaplib") / "libmtswap.so"
    sources = [str(SRC / "mt_swap.c"), str(SRC / "mt_storage_ram.c"), str(POSIX_PORT / "mt_storage_file.c")]
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2",
                    "-ffp-contract=off", "-shared", "-fPIC", "-pthread", "-I", str(SRC), "-I", str(POSIX_PORT),
                    "-o", str(out), *sources], check=True)
    lib = ctypes.CDLL(str(out))
    lib.mt_swap_before_op.argtypes = lib.mt_swap_after_op.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.mt_swap_iteration_start.argtypes = [ctypes.c_void_p]
    lib.mt_swap_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p]
    lib.mt_storage_ram_interface.restype = lib.mt_storage_file_interface.restype = Storage
    lib.mt_storage_ram_interface.argtypes = lib.mt_storage_file_interface.argtypes = [ctypes.c_void_p]
    lib.mt_storage_ram_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
    lib.mt_storage_file_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]
    lib.mt_storage_file_close.argtypes = [ctypes.c_void_p]
    return lib


class FakeExecutor:
    """Runs a use pattern on real bytes: every write stores fresh random bytes, every
    read checks the operand holds the last bytes written to it."""

    def __init__(self, uses, n_ops, schedule, seed):
        self.uses, self.n_ops, self.schedule = uses, n_ops, schedule
        self.rng = np.random.default_rng(seed)
        self.arena = np.zeros(max(schedule.plan.arena_bytes, 1), np.uint8)
        self.expected = {}

    def span(self, tid):
        offset = self.schedule.plan.offsets[tid]
        return self.arena[offset:offset + self.uses[tid].size]

    def fresh(self, tid):
        self.expected[tid] = self.rng.integers(0, 256, self.uses[tid].size, dtype=np.uint8)
        return self.expected[tid]

    def initial_flash(self, flash_bytes):
        """Persistent values at home: in the arena, or in the returned flash image."""
        flash = np.zeros(max(flash_bytes, 1), np.uint8)
        for tid, use in self.uses.items():
            if use.persistent:
                place, offset = self.schedule.home(tid)
                target = self.span(tid) if place == "arena" else flash[offset:offset + use.size]
                target[:] = self.fresh(tid)
        return flash

    def iteration(self, before, after):
        for tid, use in self.uses.items():
            if starts_before_op0(use):
                self.span(tid)[:] = self.fresh(tid)
        for op in range(self.n_ops):
            assert before(op) == 0
            for tid, use in self.uses.items():
                if op in use.reads:
                    assert np.array_equal(self.span(tid), self.expected[tid]), (op, tid)
            for tid, use in self.uses.items():
                if op in use.writes:
                    self.span(tid)[:] = self.fresh(tid)
            assert after(op) == 0


def replay(lib, uses, n_ops, schedule, backend, tmp_path, seed=0):
    fake = FakeExecutor({use.id: use for use in uses}, n_ops, schedule, seed)
    flash = fake.initial_flash(schedule.flash_bytes)
    events = (Event * max(len(schedule.events), 1))(*[
        Event(e.op, e.when, e.action, e.tag, e.arena_offset, e.flash_offset, e.nbytes) for e in schedule.events])
    if backend == "ram":
        state = ctypes.create_string_buffer(64)
        lib.mt_storage_ram_init(state, flash.ctypes.data, flash.size)
        storage = lib.mt_storage_ram_interface(state)
    else:
        path = tmp_path / f"flash{seed}.bin"
        path.write_bytes(flash.tobytes())
        state = (ctypes.c_uint64 * 8192)()   # far larger than mt_storage_file
        assert lib.mt_storage_file_open(state, str(path).encode(), flash.size) == 0
        storage = lib.mt_storage_file_interface(state)
    runtime = Runtime()
    lib.mt_swap_init(ctypes.byref(runtime), events, len(schedule.events), fake.arena.ctypes.data,
                     ctypes.byref(storage))
    try:
        for iteration in range(3):
            assert lib.mt_swap_iteration_start(ctypes.byref(runtime)) == 0
            fake.iteration(lambda op: lib.mt_swap_before_op(ctypes.byref(runtime), op),
                           lambda op: lib.mt_swap_after_op(ctypes.byref(runtime), op))
            assert (runtime.bytes_read, runtime.bytes_written) == (
                schedule.read_bytes_per_iteration * (iteration + 1),
                schedule.write_bytes_per_iteration * (iteration + 1))
    finally:
        if backend == "file":
            lib.mt_storage_file_close(state)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(training_like(), st.sampled_from([0.5, 0.3]), st.sampled_from([1, 4, 16]),
       st.sampled_from(["ram", "file"]))
def test_c_runtime_replays_schedules(swap_lib, tmp_path, pattern, fraction, lookahead, backend):
    uses, n_ops = pattern
    full = schedule_swap(uses, n_ops, 1 << 40).peak_ram_bytes
    try:
        schedule = schedule_swap(uses, n_ops, int(full * fraction), lookahead=lookahead)
    except SwapInfeasible as error:
        schedule = schedule_swap(uses, n_ops, error.min_budget, lookahead=lookahead)
    replay(swap_lib, uses, n_ops, schedule, backend, tmp_path)


def _file_queue_cap():
    from core_cy._core import BUNDLE_CONSTANTS  # MT_FILE_QUEUE_CAP is the portable minimum
    return BUNDLE_CONSTANTS["SWAP_MAX_READS_QUEUED"]


def test_file_backend_reports_io_errors(swap_lib, tmp_path):
    cap = _file_queue_cap()
    state = (ctypes.c_uint64 * 8192)()
    path = tmp_path / "small.bin"
    assert swap_lib.mt_storage_file_open(state, str(path).encode(), 64) == 0
    try:
        storage = swap_lib.mt_storage_file_interface(state)
        read_start = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                                      ctypes.c_uint32, ctypes.c_uint16)(storage.read_start)
        read_wait = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint16)(storage.read_wait)
        dst = ctypes.create_string_buffer(128)
        assert read_start(storage.ctx, 32, dst, 64, 1) != 0       # beyond the storage size
        assert read_wait(storage.ctx, 7) != 0                      # no such read in flight
        for tag in range(cap):                                     # fill the ring
            assert read_start(storage.ctx, 0, dst, 4, tag) == 0
        assert read_start(storage.ctx, 0, dst, 4, cap + 1) != 0    # full: refused, not blocked
        for tag in reversed(range(cap)):                           # waits in any order
            assert read_wait(storage.ctx, tag) == 0
        assert read_start(storage.ctx, 0, dst, 4, 5) == 0
        assert read_wait(storage.ctx, 5) == 0
    finally:
        swap_lib.mt_storage_file_close(state)
