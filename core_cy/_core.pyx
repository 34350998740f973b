# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin Cython layer over the C executor: the arena, the op list and the
training loop live in C; Python only hands over buffers."""
from libc.stdint cimport uint8_t, int32_t, uint32_t, uint16_t, uint64_t
from libc.string cimport memset

import numpy as np

cdef extern from "src/mt_program.h":
    ctypedef struct mt_op:
        pass
    ctypedef struct mt_tensor:
        uint32_t offset
        uint32_t nbytes
    int MT_MODE_TRAIN
    int MT_MODE_EVAL

cdef extern from "src/mt_exec.h":
    ctypedef struct mt_program:
        const mt_op *ops
        uint32_t n_ops
        const mt_tensor *tensors
        uint32_t n_tensors
        uint32_t arena_bytes
        int32_t input
        int32_t labels
        int32_t metrics
        int32_t output
        uint32_t micro_batches
    ctypedef struct mt_hooks:
        pass
    ctypedef struct mt_dataset:
        const float *x
        const uint8_t *y
        uint32_t n_samples
        uint32_t x_numel
        uint32_t y_bytes
    int mt_program_validate(const mt_program *prog) nogil
    int mt_op_validate(const mt_program *prog, const mt_op *op) nogil
    int mt_run(const mt_program *prog, uint8_t *arena, int mode, const mt_hooks *hooks) nogil
    int mt_load_batch(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                      const int32_t *order, uint32_t n_order, uint32_t batch_index) nogil
    int mt_train_loop(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                      const int32_t *order, uint32_t n_order, uint32_t first_batch,
                      uint32_t n_iter, float *loss_out, float *correct_out,
                      const mt_hooks *hooks) nogil


cdef extern from "src/mt_program.h":
    enum:
        MT_PHASE_FORWARD
        MT_PHASE_CALC_GRAD
        MT_PHASE_CALC_DERIV
        MT_PHASE_APPLY
        MT_ACT_RELU
        MT_ACT_SIGMOID
        MT_ACT_TANH
        MT_ACT_SOFTMAX
        MT_ACT_LEAKY_RELU
        MT_ACT_SWISH
        MT_ACT_GELU
        MT_LABEL_INDEX
        MT_LABEL_DENSE
        MT_NO_TENSOR

cdef extern from "src/mt_kernels.h":
    enum:
        MT_CONV_SCRATCH_BYTES
    uint64_t mt_fc_packed_scratch_bytes(int n, int inputs, int regions)

cdef extern from "src/mt_gemm.h":
    enum:
        MT_GEMM_KEPT_REGIONS

include "ops.pxi"

CONSTANTS = {
    "PHASE_FORWARD": MT_PHASE_FORWARD,
    "PHASE_CALC_GRAD": MT_PHASE_CALC_GRAD,
    "PHASE_CALC_DERIV": MT_PHASE_CALC_DERIV,
    "PHASE_APPLY": MT_PHASE_APPLY,
    "ACT_RELU": MT_ACT_RELU,
    "ACT_SIGMOID": MT_ACT_SIGMOID,
    "ACT_TANH": MT_ACT_TANH,
    "ACT_SOFTMAX": MT_ACT_SOFTMAX,
    "ACT_LEAKY_RELU": MT_ACT_LEAKY_RELU,
    "ACT_SWISH": MT_ACT_SWISH,
    "ACT_GELU": MT_ACT_GELU,
    "LABEL_INDEX": MT_LABEL_INDEX,
    "LABEL_DENSE": MT_LABEL_DENSE,
    "NO_TENSOR": MT_NO_TENSOR,
    "CONV_SCRATCH_BYTES": MT_CONV_SCRATCH_BYTES,
    "FC_PACKED_REGIONS": MT_GEMM_KEPT_REGIONS,
}


def fc_packed_scratch_bytes(int n, int inputs, int regions):
    """Scratch bytes FC_FWD_PACKED uses for n samples of `inputs` with up to
    `regions` regions of kept weights (mt_fc_packed_scratch_bytes)."""
    return mt_fc_packed_scratch_bytes(n, inputs, regions)
include "swap.pxi"

OP_RECORD_BYTES = sizeof(mt_op)


class ExecutorError(RuntimeError):
    """A C status code, with the text a user can act on."""

    def __init__(self, status, where=""):
        self.status = status
        text = mt_status_str(<mt_status>status).decode()
        super().__init__(("%s: %s" % (where, text)) if where else text)


cdef class Executor:
    """One program bound to one arena. The arena is a numpy uint8 array that
    Python may view (to load weights, read outputs) between iterations."""
    cdef mt_program prog
    cdef readonly object ops, tensors, arena
    cdef const mt_hooks *hooks
    cdef object hooks_owner

    def __init__(self, ops, tensors, uint32_t arena_bytes, int32_t input,
                 int32_t labels, int32_t metrics, int32_t output, uint32_t micro_batches=1):
        ops = np.ascontiguousarray(ops)
        if ops.dtype.itemsize != sizeof(mt_op):
            raise ValueError("op records are %d bytes, the C executor expects %d"
                             % (ops.dtype.itemsize, sizeof(mt_op)))
        self.ops = ops
        self.tensors = np.ascontiguousarray(tensors, dtype=np.uint32).reshape(-1, 2)
        self.arena = np.zeros(arena_bytes + 16, dtype=np.uint8)[:arena_bytes] if arena_bytes else np.zeros(0, np.uint8)
        cdef const uint8_t[::1] op_bytes = self.ops.view(np.uint8).reshape(-1)
        cdef const uint32_t[:, ::1] tensor_words = self.tensors
        self.prog.ops = <const mt_op *>&op_bytes[0] if len(self.ops) else NULL
        self.prog.n_ops = len(self.ops)
        self.prog.tensors = <const mt_tensor *>&tensor_words[0, 0] if len(self.tensors) else NULL
        self.prog.n_tensors = len(self.tensors)
        self.prog.arena_bytes = arena_bytes
        self.prog.input = input
        self.prog.labels = labels
        self.prog.metrics = metrics
        self.prog.output = output
        self.prog.micro_batches = micro_batches
        self.hooks = NULL
        self.hooks_owner = None
        cdef int status = mt_program_validate(&self.prog)
        if status != 0:
            raise ExecutorError(status, "invalid program (%s)" % self._first_bad_op())

    def _first_bad_op(self):
        cdef const mt_op *op
        for i in range(self.prog.n_ops):
            op = &self.prog.ops[i]
            if mt_op_validate(&self.prog, op) != 0:
                return "op %d" % i
        return "input/labels/metrics/output tensor ids"

    def attach_swap(self, SwapRuntime swap):
        """Replays `swap`'s schedule around every op from now on."""
        if swap.arena is not self.arena:
            raise ValueError("the swap runtime must address this executor's arena")
        _check_events(swap.events, self.prog.n_ops, self.prog.arena_bytes, swap.storage)
        self.hooks = swap.c_hooks()
        self.hooks_owner = swap

    def detach_swap(self):
        self.hooks = NULL
        self.hooks_owner = None

    cdef uint8_t *arena_ptr(self):
        cdef uint8_t[::1] view = self.arena
        return &view[0]

    def run(self, bint train=True):
        """One iteration over the batch already in the arena."""
        cdef int mode = MT_MODE_TRAIN if train else MT_MODE_EVAL
        cdef int status
        cdef uint8_t *arena = self.arena_ptr()
        with nogil:
            status = mt_run(&self.prog, arena, mode, self.hooks)
        if status != 0:
            raise ExecutorError(status, "run")

    def load_batch(self, x, y, order, uint32_t batch_index):
        """Copies batch `batch_index` of `order` from (x, y) into the arena."""
        cdef mt_dataset data
        cdef const float[:, ::1] xs = x
        cdef const uint8_t[:, ::1] ys = y
        cdef const int32_t[::1] idx = order
        _fill_dataset(&data, xs, ys)
        cdef int status = mt_load_batch(&self.prog, self.arena_ptr(), &data, &idx[0],
                                        idx.shape[0], batch_index)
        if status != 0:
            raise ExecutorError(status, "load batch")

    def train(self, x, y, order, uint32_t first_batch, uint32_t n_iter):
        """Trains n_iter iterations in C; returns per-iteration (loss, correct)."""
        cdef const float[:, ::1] xs = x
        cdef const uint8_t[:, ::1] ys = y
        cdef const int32_t[::1] idx = order
        losses = np.zeros(max(n_iter, 1), dtype=np.float32)
        corrects = np.zeros(max(n_iter, 1), dtype=np.float32)
        cdef float[::1] loss_view = losses
        cdef float[::1] correct_view = corrects
        cdef mt_dataset data
        _fill_dataset(&data, xs, ys)
        cdef uint8_t *arena = self.arena_ptr()
        cdef int status
        with nogil:
            status = mt_train_loop(&self.prog, arena, &data, &idx[0], idx.shape[0],
                                   first_batch, n_iter, &loss_view[0], &correct_view[0],
                                   self.hooks)
        if status != 0:
            raise ExecutorError(status, "train")
        return losses[:n_iter], corrects[:n_iter]


cdef void _fill_dataset(mt_dataset *data, const float[:, ::1] xs, const uint8_t[:, ::1] ys):
    if xs.shape[0] != ys.shape[0]:
        raise ValueError("x has %d samples, y has %d" % (xs.shape[0], ys.shape[0]))
    data.x = &xs[0, 0]
    data.y = &ys[0, 0]
    data.n_samples = xs.shape[0]
    data.x_numel = xs.shape[1]
    data.y_bytes = ys.shape[1]


include "bundle.pxi"
include "threads.pxi"
