"""A training session on the host: one program, one arena, the C executor."""
import numpy as np

from core_cy import Executor
from host_tools.graph.tensors import DTYPES
from host_tools.weights import initial_value, npz_params


class Session:
    def __init__(self, program, seed=0):
        self.program = program
        self.graph = program.graph
        self.executor = Executor(*program.executor_args())
        self.rng = np.random.default_rng(seed)
        for tensor in self.graph.tensors:
            if tensor.persistent:
                self.view(tensor.id)[...] = initial_value(tensor, self.rng)

    def view(self, tid):
        """The tensor's bytes in the arena, as a writable numpy array."""
        tensor = self.graph.tensors[tid]
        offset = int(self.program.tensors[tid]["offset"])
        raw = self.executor.arena[offset:offset + tensor.nbytes]
        return raw.view(DTYPES[tensor.dtype]).reshape(tensor.shape)

    def set_values(self, values):
        for tid, array in values.items():
            self.view(tid)[...] = array

    def weights(self):
        """npz key -> copy of every layer parameter (weights, BN statistics)."""
        return {key: self.view(t.id).copy() for key, t in npz_params(self.graph).items()}

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
            rows.append(self.view(self.graph.output).reshape(batch, -1).copy())
        return np.concatenate(rows)[:n]
