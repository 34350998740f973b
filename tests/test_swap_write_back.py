"""Asynchronous write-back in the file swap backend (issue 11): a write returns
once its bytes are copied out of the caller's buffer, the I/O thread writes
them later, and every operation takes effect in submission order: a read sees
every earlier write and none of the later ones, whatever is still in flight."""
import ctypes

import numpy as np
import pytest

from test_swap_runtime import swap_lib  # noqa: F401  (the C backend built with -Werror)

READ_START = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                              ctypes.c_uint32, ctypes.c_uint16)
READ_WAIT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint16)
WRITE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                         ctypes.c_uint32)
STAGING_BYTES = 4 << 20   # MT_FILE_STAGING_BYTES


class FileBackend:
    def __init__(self, lib, path, size):
        self.lib, self.state = lib, (ctypes.c_uint64 * 8192)()
        assert lib.mt_storage_file_open(self.state, str(path).encode(), size) == 0
        storage = lib.mt_storage_file_interface(self.state)
        self.ctx = storage.ctx
        self.read_start = READ_START(storage.read_start)
        self.read_wait = READ_WAIT(storage.read_wait)
        self.write_fn = WRITE(storage.write)

    def write(self, offset, data):
        buf = np.ascontiguousarray(data, np.uint8)
        assert self.write_fn(self.ctx, offset, buf.ctypes.data, buf.size) == 0
        return buf

    def read(self, offset, nbytes, tag=0):
        out = np.zeros(nbytes, np.uint8)
        assert self.read_start(self.ctx, offset, out.ctypes.data, nbytes, tag) == 0
        assert self.read_wait(self.ctx, tag) == 0
        return out

    def drain(self):
        self.lib.mt_storage_file_drain.argtypes = [ctypes.c_void_p]
        return self.lib.mt_storage_file_drain(self.state)

    def close(self):
        self.lib.mt_storage_file_close(self.state)


@pytest.fixture
def backend(swap_lib, tmp_path):  # noqa: F811
    opened = []

    def open_backend(size):
        opened.append(FileBackend(swap_lib, tmp_path / "flash.bin", size))
        return opened[-1]

    yield open_backend
    for b in opened:
        b.close()


def test_the_callers_bytes_are_free_as_soon_as_write_returns(backend):
    b = backend(4096)
    source = b.write(100, np.arange(256, dtype=np.uint8))
    source[:] = 7                      # the schedule reuses the arena bytes at once
    assert np.array_equal(b.read(100, 256), np.arange(256, dtype=np.uint8))


def test_later_writes_win_and_reads_see_only_earlier_writes(backend):
    b = backend(4096)
    b.write(0, np.full(64, 1, np.uint8))
    b.write(32, np.full(64, 2, np.uint8))
    early = np.zeros(96, np.uint8)
    assert b.read_start(b.ctx, 0, early.ctypes.data, 96, 9) == 0
    b.write(0, np.full(96, 3, np.uint8))      # queued after the read: not seen by it
    assert b.read_wait(b.ctx, 9) == 0
    assert early.tolist() == [1] * 32 + [2] * 64
    assert b.read(0, 96).tolist() == [3] * 96


def test_drain_and_close_put_every_write_in_the_file(backend, tmp_path):
    b = backend(8192)
    rng = np.random.default_rng(0)
    image = np.zeros(8192, np.uint8)
    for _ in range(600):                       # more than the 256-entry write ring
        offset, n = int(rng.integers(0, 8000)), int(rng.integers(1, 192))
        n = min(n, 8192 - offset)
        data = rng.integers(0, 256, n, dtype=np.uint8)
        b.write(offset, data)
        image[offset:offset + n] = data
    assert b.drain() == 0
    assert (tmp_path / "flash.bin").read_bytes() == image.tobytes()


def test_a_write_bigger_than_the_staging_buffer_keeps_the_order(backend):
    size = STAGING_BYTES + (1 << 20)
    b = backend(size)
    b.write(0, np.full(1024, 5, np.uint8))     # staged, maybe still queued
    big = np.random.default_rng(1).integers(0, 256, STAGING_BYTES + 4096, dtype=np.uint8)
    b.write(512, big)                          # in place, after the staged one lands
    got = b.read(0, 512 + big.size)
    assert got[:512].tolist() == [5] * 512 and np.array_equal(got[512:], big)


def test_random_interleavings_match_a_sequential_model(backend):
    """Reads started and waited at random points against a model applying every
    operation at submission: each read must return the model at its start."""
    size = 1 << 14
    b = backend(size)
    rng = np.random.default_rng(2)
    model = np.zeros(size, np.uint8)
    pending = {}   # tag -> (buffer, expected)
    for step in range(3000):
        offset = int(rng.integers(0, size - 512))
        n = int(rng.integers(1, 512))
        if rng.random() < 0.5:
            data = rng.integers(0, 256, n, dtype=np.uint8)
            b.write(offset, data)
            model[offset:offset + n] = data
        elif len(pending) < 32:
            tag = next(t for t in range(64) if t not in pending)
            out = np.zeros(n, np.uint8)
            assert b.read_start(b.ctx, offset, out.ctypes.data, n, tag) == 0
            pending[tag] = (out, model[offset:offset + n].copy())
        if pending and rng.random() < 0.3:
            tag = list(pending)[int(rng.integers(0, len(pending)))]
            assert b.read_wait(b.ctx, tag) == 0
            out, expected = pending.pop(tag)
            assert np.array_equal(out, expected), step
    for tag, (out, expected) in pending.items():
        assert b.read_wait(b.ctx, tag) == 0
        assert np.array_equal(out, expected)
