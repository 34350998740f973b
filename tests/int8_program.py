"""Hand-built integer programs for the tests: named tensors laid out one after
another (4-byte aligned) in one arena, ops built with make_op, run through the
C executor (core_cy.Executor: validation and op-table dispatch included).
g16 gradients are (exponent, int16 values) pairs on the Python side."""
import numpy as np

from core_cy import OP_KINDS, Executor
from host_tools.bundle.layout import make_op

FWD, GRAD, DERIV, APPLY = 0, 1, 2, 3


def g16_bytes(numel):
    return 4 + 2 * numel


class Program:
    def __init__(self):
        self.sizes = {}
        self.offsets = {}
        self.end = 0
        self.ops = []
        self.executor = None
        self.tensor("METRICS", 8)

    def tensor(self, name, nbytes):
        self.offsets[name] = self.end
        self.sizes[name] = nbytes
        self.end += (nbytes + 3) // 4 * 4
        return self

    def alias(self, name, other):
        """`name` shares `other`'s bytes (an in-place pair)."""
        self.offsets[name] = self.offsets[other]
        self.sizes[name] = self.sizes[other]
        return self

    def op(self, kind, phase, names, params, floats=()):
        ids = [-1 if n is None else self.id(n) for n in names]
        self.ops.append(make_op(OP_KINDS[kind], phase, ids, params, floats))
        return self

    def id(self, name):
        return list(self.offsets).index(name)

    def build(self):
        table = np.array([(self.offsets[n], self.sizes[n]) for n in self.offsets], np.uint32)
        metrics = self.id("METRICS")
        self.executor = Executor(np.stack(self.ops), table, self.end, metrics, metrics,
                                 metrics, metrics)
        return self

    def view(self, name, dtype, offset=0):
        start = self.offsets[name] + offset
        stop = self.offsets[name] + self.sizes[name]
        nbytes = (stop - start) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize
        return self.executor.arena[start:start + nbytes].view(dtype)

    def set(self, name, values):
        values = np.ascontiguousarray(values)
        self.view(name, values.dtype)[:values.size] = values.ravel()

    def get(self, name, dtype, shape=None):
        out = self.view(name, dtype).copy()
        return out if shape is None else out[:int(np.prod(shape))].reshape(shape)

    def set_g16(self, name, grad):
        exp, vals = grad
        self.view(name, np.int32)[0] = exp
        self.view(name, np.int16, 4)[:np.size(vals)] = np.ravel(vals)

    def get_g16(self, name, shape):
        exp = int(self.view(name, np.int32)[0])
        vals = self.view(name, np.int16, 4)[:int(np.prod(shape))].copy().reshape(shape)
        return exp, vals

    def run(self, train=True):
        self.executor.run(train)
        return self
