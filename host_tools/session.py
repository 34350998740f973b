"""A training session on the host: one program, one arena, the C executor,
and, when the program swaps, a flash stand-in the swap schedule runs against."""
import tempfile

import numpy as np

from core_cy import OP_KINDS, Executor, FileStorage, RamStorage, SwapRuntime
from host_tools.graph.tensors import DTYPES
from host_tools.weights import initial_values, npz_params


class Session:
    """swap_file: where swapped tensors live (a file standing in for flash,
    read ahead on a background thread); None uses a temporary file, and
    "ram" a synchronous in-memory stand-in."""

    def __init__(self, program, seed=0, swap_file=None):
        self.program = program
        self.graph = program.graph
        self.executor = Executor(*program.executor_args())
        self.storage = self.swap_runtime = None
        if program.swap is not None:
            self._attach_swap(program.swap, swap_file)
        self.set_values(initial_values(self.graph, seed))

    def _attach_swap(self, schedule, swap_file):
        size = max(schedule.flash_bytes, 4)
        if swap_file == "ram":
            self.storage = RamStorage(size)
        else:
            if swap_file is None:
                self._swap_dir = tempfile.TemporaryDirectory(prefix="microtrain-swap-")
                swap_file = f"{self._swap_dir.name}/flash.bin"
            self.storage = FileStorage(swap_file, size)
        self.swap_runtime = SwapRuntime(schedule.events_array(), self.executor.arena,
                                        self.storage)
        self.executor.attach_swap(self.swap_runtime)

    def _home(self, tid):
        tid = self.graph.alias.get(tid, tid)
        if self.program.swap is not None and self.graph.tensors[tid].persistent:
            return self.program.swap.home(tid)
        return "arena", int(self.program.tensors[tid]["offset"])

    def view(self, tid):
        """The tensor's bytes in the arena, as a writable numpy array."""
        tensor = self.graph.tensors[tid]
        offset = int(self.program.tensors[tid]["offset"])
        raw = self.executor.arena[offset:offset + tensor.nbytes]
        return raw.view(DTYPES[tensor.dtype]).reshape(tensor.shape)

    def read(self, tid):
        """A copy of the tensor's value between iterations, wherever it rests."""
        tensor = self.graph.tensors[tid]
        place, offset = self._home(tid)
        if place == "arena":
            return self.view(tid).copy()
        raw = self.storage.read(offset, tensor.nbytes)
        return raw.view(DTYPES[tensor.dtype]).reshape(tensor.shape)

    def write(self, tid, array):
        tensor = self.graph.tensors[tid]
        value = np.ascontiguousarray(np.broadcast_to(array, tensor.shape), DTYPES[tensor.dtype])
        place, offset = self._home(tid)
        if place == "arena":
            self.view(tid)[...] = value
        else:
            self.storage.write(offset, value.view(np.uint8).reshape(-1))

    def set_values(self, values):
        for tid, array in values.items():
            self.write(tid, array)

    def weights(self):
        """npz key -> copy of every layer parameter (weights, BN statistics)."""
        return {key: self.read(t.id) for key, t in npz_params(self.graph).items()}

    def set_learning_rate(self, rate):
        """Rewrites every optimizer op's learning rate (f[0]) in the live op
        list: how a learning-rate schedule runs on the host."""
        ops = self.executor.ops
        for kind in ("SGD_APPLY", "ADAM_APPLY"):
            ops["f"][ops["kind"] == OP_KINDS[kind], 0] = rate

    def train(self, x, y, order, first_batch, n_iter):
        """Runs n_iter iterations in C; returns per-iteration loss and correct counts."""
        return self.executor.train(x, y, order, first_batch, n_iter)

    def predict(self, x, y):
        """Forward (eval mode) over all samples; returns the output rows."""
        batch, n = self.graph.batch, len(x)
        order = np.arange(n, dtype=np.int32)
        rows = []
        for index in range(-(-n // batch)):
            self.executor.load_batch(x, y, order, index)
            self.executor.run(train=False)
            if self.swap_runtime is not None:
                self.swap_runtime.finish()  # replay the skipped backward's events
            rows.append(self.view(self.graph.output).reshape(batch, -1).copy())
        return np.concatenate(rows)[:n]

    @property
    def swap_bytes(self):
        """(read, written) bytes moved to and from flash so far."""
        if self.swap_runtime is None:
            return 0, 0
        return self.swap_runtime.bytes_read, self.swap_runtime.bytes_written
