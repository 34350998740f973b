"""A training session on the host: one program on core_cy's Runtime (the same
object the board trains with), plus what the host knows and the board does
not: tensor shapes and dtypes, npz keys, initial values."""
import numpy as np

from core_cy import OP_KINDS
from core_cy.runtime import FLASH, RAM_FLASH, Runtime
from host_tools.graph.tensors import DTYPES
from host_tools.graph.tiling import gathered, split_values
from host_tools.quantize.scales import channel_multipliers
from host_tools.weights import initial_values, npz_params


class Session:
    """swap_file: where swapped tensors live (a file standing in for flash,
    read ahead on a background thread); None uses a temporary file, and
    "ram" a synchronous in-memory stand-in."""

    def __init__(self, program, seed=0, swap_file=None):
        self.program = program
        self.graph = program.graph
        ops, table, arena_bytes, *roles = program.executor_args()
        schedule = program.swap
        self.runtime = Runtime(
            ops, table, arena_bytes, roles,
            swap_events=None if schedule is None else schedule.events_array(),
            flash_bytes=0 if schedule is None else schedule.flash_bytes,
            homes=_flash_homes(self.graph, schedule),
            flash=RAM_FLASH if swap_file == "ram" else swap_file)
        self.executor = self.runtime.executor
        self.set_values(initial_values(self.graph, seed))

    def view(self, tid):
        """The tensor's bytes in the arena, as a writable numpy array."""
        tensor = self.graph.tensors[tid]
        offset = int(self.program.tensors[tid]["offset"])
        raw = self.runtime.arena[offset:offset + tensor.nbytes]
        return raw.view(DTYPES[tensor.dtype]).reshape(tensor.shape)

    def read(self, tid):
        """A copy of the tensor's value between iterations, wherever it rests."""
        if tid in getattr(self.graph, "chunks", {}):   # a tiled weight: its chunks, in row order
            return gathered(self.graph, tid, self.read)
        tensor = self.graph.tensors[tid]
        raw = self.runtime.read(self.graph.alias.get(tid, tid))
        return raw.view(DTYPES[tensor.dtype]).reshape(tensor.shape)

    def write(self, tid, array):
        if tid in getattr(self.graph, "chunks", {}):
            self.set_values(split_values(self.graph, {tid: array}))
            return
        tensor = self.graph.tensors[tid]
        value = np.ascontiguousarray(np.broadcast_to(array, tensor.shape), DTYPES[tensor.dtype])
        self.runtime.write(self.graph.alias.get(tid, tid), value.view(np.uint8).reshape(-1))

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
        for kind in ("SGD_APPLY", "ADAM_APPLY", "FC_GRAD_SGD", "FC_GRAD_ADAM", "ADAM_APPLY_TILE",
                     "FC_GRAD_SGD_TILE", "FC_GRAD_ADAM_TILE"):
            ops["f"][ops["kind"] == OP_KINDS[kind], 0] = rate
        for tid, per_rate in self.graph.rate_factors.items():   # integer SGD: LR tensors
            self.write(tid, channel_multipliers(rate * per_rate, allow_negative_shift=True))

    def train(self, x, y, order, first_batch, n_iter):
        """Runs n_iter iterations in C; returns per-iteration loss and correct counts."""
        return self.runtime.train(x, y, order, first_batch, n_iter)

    def predict(self, x, y):
        """Forward (eval mode) over all samples; returns the output rows (int32
        Q30 probabilities for integer programs)."""
        rows = self.runtime.predict(x, y, self.graph.output, self.graph.batch)
        return rows.view(DTYPES[self.graph.tensors[self.graph.output].dtype])

    @property
    def swap_bytes(self):
        """(read, written) bytes moved to and from flash so far."""
        return self.runtime.swap_bytes


def _flash_homes(graph, schedule):
    """Persistent tensor id -> (FLASH, offset) for those the swap schedule keeps in flash."""
    if schedule is None:
        return {}
    homes = {}
    for tensor in graph.tensors:
        if tensor.persistent and graph.alias.get(tensor.id, tensor.id) == tensor.id:
            place, offset = schedule.home(tensor.id)
            if place == FLASH:
                homes[tensor.id] = (FLASH, offset)
    return homes

