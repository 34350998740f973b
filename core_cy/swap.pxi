# Swap runtime for Python: replays a host_tools.swap schedule around every op
# of the C executor, against a flash stand-in (a file, or a RAM buffer).
# Included by _core.pyx after its mt_program / mt_exec declarations (mt_hooks).
# Python only checks and hands over buffers; the C runtime does the copying.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

import numpy as np

cdef extern from "src/mt_swap.h":
    ctypedef struct mt_swap_event:
        uint32_t op
        uint8_t when
        uint8_t action
        uint16_t tag
        uint32_t arena_offset
        uint32_t flash_offset
        uint32_t nbytes
    ctypedef struct mt_storage:
        int (*read_start)(void *ctx, uint32_t flash_offset, uint8_t *dst, uint32_t nbytes, uint16_t tag) nogil
        int (*read_wait)(void *ctx, uint16_t tag) nogil
        int (*write)(void *ctx, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes) nogil
        void *ctx
    enum:
        MT_SWAP_BEFORE_OP
        MT_SWAP_AFTER_OP
        MT_SWAP_READ_START
        MT_SWAP_READ_WAIT
        MT_SWAP_WRITE
        MT_SWAP_MAX_READS_QUEUED
    ctypedef enum mt_swap_problem:
        MT_SWAP_PROBLEM_QUEUE
    ctypedef struct mt_swap_limits:
        uint32_t n_ops
        uint32_t arena_bytes
        uint32_t storage_bytes
        uint32_t max_reads_queued
    ctypedef struct mt_swap_fault:
        mt_swap_problem problem
        uint32_t event
        uint32_t reads_queued
    int mt_swap_check(const mt_swap_event *events, uint32_t n_events,
                      const mt_swap_limits *limits, mt_swap_fault *fault) nogil
    const char *mt_swap_problem_str(mt_swap_problem problem) nogil
    ctypedef struct mt_swap_runtime:
        uint32_t next
        uint64_t bytes_read
        uint64_t bytes_written
    void mt_swap_init(mt_swap_runtime *rt, const mt_swap_event *events, uint32_t n_events,
                      uint8_t *arena, const mt_storage *storage) nogil
    mt_hooks mt_swap_hooks(mt_swap_runtime *rt) nogil
    int mt_swap_finish(mt_swap_runtime *rt) nogil

cdef extern from "src/mt_storage_ram.h":
    ctypedef struct mt_storage_ram:
        pass
    void mt_storage_ram_init(mt_storage_ram *ram, uint8_t *bytes, uint32_t size) nogil
    mt_storage mt_storage_ram_interface(mt_storage_ram *ram) nogil

cdef extern from "ports/posix/mt_storage_file.h":
    ctypedef struct mt_storage_file:
        pass
    enum:
        MT_FILE_QUEUE_CAP
    int mt_storage_file_open(mt_storage_file *f, const char *path, uint32_t size) nogil
    void mt_storage_file_close(mt_storage_file *f) nogil
    int mt_storage_file_drain(mt_storage_file *f) nogil
    mt_storage mt_storage_file_interface(mt_storage_file *f) nogil

# Tag used by the host's own synchronous reads between iterations (never in a schedule
# that also has a read in flight then: the runtime has none left at iteration end).
cdef uint16_t HOST_TAG = 0xFFFF

SWAP_EVENT_BYTES = sizeof(mt_swap_event)


cdef class _Storage:
    """A flash stand-in behind the C mt_storage interface."""
    cdef mt_storage iface
    cdef readonly uint32_t size
    cdef readonly uint32_t max_reads_in_flight

    def write(self, uint32_t offset, data):
        """Synchronous host write, e.g. initial weights at their flash home."""
        cdef const uint8_t[::1] src = np.ascontiguousarray(np.frombuffer(data, dtype=np.uint8))
        if offset + <uint64_t>src.shape[0] > self.size:
            raise ValueError("write of %d bytes at %d overruns %d-byte storage" % (src.shape[0], offset, self.size))
        if src.shape[0] and self.iface.write(self.iface.ctx, offset, &src[0], src.shape[0]) != 0:
            raise IOError("storage write failed")

    def read(self, uint32_t offset, uint32_t nbytes):
        """Synchronous host read (between iterations), e.g. final weights."""
        if offset + <uint64_t>nbytes > self.size:
            raise ValueError("read of %d bytes at %d overruns %d-byte storage" % (nbytes, offset, self.size))
        out = np.zeros(nbytes, dtype=np.uint8)
        cdef uint8_t[::1] dst = out
        if nbytes and (self.iface.read_start(self.iface.ctx, offset, &dst[0], nbytes, HOST_TAG) != 0
                       or self.iface.read_wait(self.iface.ctx, HOST_TAG) != 0):
            raise IOError("storage read failed")
        return out


cdef class RamStorage(_Storage):
    """Synchronous, deterministic flash stand-in over a numpy buffer (`data`)."""
    cdef mt_storage_ram ram
    cdef readonly object data

    def __cinit__(self, uint32_t nbytes):
        self.data = np.zeros(max(nbytes, 1), dtype=np.uint8)
        cdef uint8_t[::1] view = self.data
        mt_storage_ram_init(&self.ram, &view[0], nbytes)
        self.iface = mt_storage_ram_interface(&self.ram)
        self.size = nbytes
        self.max_reads_in_flight = 1 << 16


cdef class FileStorage(_Storage):
    """A POSIX file; reads and write-backs run on a background thread, in submission order."""
    cdef mt_storage_file file
    cdef bint is_open
    cdef readonly object path

    def __cinit__(self, path, uint32_t size):
        self.is_open = False
        self.path = str(path)
        encoded = self.path.encode()
        if mt_storage_file_open(&self.file, encoded, size) != 0:
            raise OSError("cannot open swap file %r" % self.path)
        self.is_open = True
        self.iface = mt_storage_file_interface(&self.file)
        self.size = size
        self.max_reads_in_flight = MT_FILE_QUEUE_CAP

    cdef int c_drain(self) noexcept:
        return mt_storage_file_drain(&self.file) if self.is_open else 0

    def drain(self):
        """Wait for reads left in flight (after an aborted iteration)."""
        if self.c_drain() != 0:
            raise IOError("a swap read failed")

    def close(self):
        if self.is_open:
            with nogil:
                mt_storage_file_close(&self.file)
            self.is_open = False

    def __dealloc__(self):
        if self.is_open:
            mt_storage_file_close(&self.file)


def _require_event_records(events):
    if events.dtype.itemsize != sizeof(mt_swap_event) or events.dtype.names != (
            "op", "when", "action", "tag", "arena_offset", "flash_offset", "nbytes"):
        raise ValueError("events must be a schedule's events_array() (%d-byte mt_swap_event records)"
                         % sizeof(mt_swap_event))


def swap_reads_queued(events):
    """Reads the schedule keeps queued at most, counted by mt_swap_check as the bundle
    reader counts them (so the host can respect MT_SWAP_MAX_READS_QUEUED)."""
    events = np.ascontiguousarray(events)
    _require_event_records(events)
    if len(events) == 0:
        return 0
    cdef const uint8_t[::1] event_bytes = events.view(np.uint8).reshape(-1)
    cdef mt_swap_limits limits
    limits.n_ops = limits.arena_bytes = limits.storage_bytes = limits.max_reads_queued = 0xFFFFFFFF
    cdef mt_swap_fault fault
    if mt_swap_check(<const mt_swap_event *>&event_bytes[0], len(events), &limits, &fault) != 0:
        raise ValueError("swap event %d: %s" % (fault.event, mt_swap_problem_str(fault.problem).decode()))
    return fault.reads_queued


def _check_events(events, uint32_t n_ops, size_t arena_bytes, _Storage storage):
    """The C core's schedule check (mt_swap_check, as the bundle reader uses it)."""
    _require_event_records(events)
    if len(events) == 0:
        return
    cdef const uint8_t[::1] event_bytes = events.view(np.uint8).reshape(-1)
    cdef mt_swap_limits limits
    limits.n_ops, limits.arena_bytes = n_ops, arena_bytes
    limits.storage_bytes, limits.max_reads_queued = storage.size, storage.max_reads_in_flight
    cdef mt_swap_fault fault
    if mt_swap_check(<const mt_swap_event *>&event_bytes[0], len(events), &limits, &fault) == 0:
        return
    if fault.problem == MT_SWAP_PROBLEM_QUEUE:
        raise ValueError("the schedule keeps %d reads queued, the storage allows %d"
                         % (fault.reads_queued, storage.max_reads_in_flight))
    raise ValueError("swap event %d: %s" % (fault.event, mt_swap_problem_str(fault.problem).decode()))


cdef class SwapRuntime:
    """Replays swap events around each op; hand c_hooks() to the executor.
    Holds references to the events, arena and storage so they outlive it."""
    cdef mt_swap_runtime rt
    cdef mt_hooks hooks
    cdef readonly object events, arena, storage

    def __init__(self, events, arena, _Storage storage):
        events = np.ascontiguousarray(events)
        if not (isinstance(arena, np.ndarray) and arena.dtype == np.uint8 and arena.ndim == 1
                and arena.flags.c_contiguous and arena.flags.writeable):
            raise ValueError("arena must be a writable contiguous 1-D numpy uint8 array")
        _check_events(events, 0xFFFFFFFF, arena.shape[0], storage)  # op count: see attach_swap
        self.events, self.arena, self.storage = events, arena, storage
        cdef const uint8_t[::1] event_bytes = events.view(np.uint8).reshape(-1)
        cdef uint8_t[::1] arena_view = arena
        mt_swap_init(&self.rt,
                     <const mt_swap_event *>&event_bytes[0] if len(events) else NULL,
                     len(events), &arena_view[0] if arena.shape[0] else NULL,
                     &storage.iface)
        self.hooks = mt_swap_hooks(&self.rt)

    cdef const mt_hooks *c_hooks(self):
        return &self.hooks

    def __dealloc__(self):
        # Reads still in flight (an aborted run) must land before the arena can go.
        if isinstance(self.storage, FileStorage):
            (<FileStorage>self.storage).c_drain()

    def drain(self):
        """After a failed run: wait for reads left in flight, so the next run starts clean."""
        if isinstance(self.storage, FileStorage):
            self.storage.drain()

    def finish(self):
        """Replay the events left after a run that stopped early (EVAL skips backward ops)."""
        if mt_swap_finish(&self.rt) != 0:
            raise IOError("swap storage failed")

    @property
    def bytes_read(self):
        return self.rt.bytes_read

    @property
    def bytes_written(self):
        return self.rt.bytes_written
