"""One program running on the C core: executor, arena, swap store and tensor homes.

The host's `microtrain train` (host_tools/session.py) and the CPython board
(board/trainer.py) both train through this object, so they load a program the
same way and get the same bits. Everything it knows comes in as plain tables:
op records, the (offset, nbytes) tensor table, the swap events and each
persistent tensor's home between iterations ("arena" or "flash", offset).
Building one runs every check loading does (program validation, swap events
against the arena, the storage and its request queue), so a program that
builds is a program that can run.
"""
import tempfile

import numpy as np

from core_cy._core import Executor, FileStorage, RamStorage, SwapRuntime

ARENA, FLASH = "arena", "flash"
RAM_FLASH = "ram"    # flash= value: a synchronous in-memory stand-in for flash


class Runtime:
    """flash: where swapped tensors live when the program swaps: a file path,
    RAM_FLASH, or None for a temporary file removed with this object."""

    def __init__(self, ops, tensors, arena_bytes, roles, swap_events=None, flash_bytes=0,
                 homes=None, flash=None):
        self.tensors = np.ascontiguousarray(tensors, dtype=np.uint32).reshape(-1, 2)
        self.executor = Executor(ops, self.tensors, arena_bytes, *roles)
        self.homes = dict(homes or {})
        self.storage = self.swap = self._temp_dir = None
        if swap_events is not None and len(swap_events):
            self.storage = self._open_flash(flash, max(flash_bytes, 4))
            try:
                self.swap = SwapRuntime(swap_events, self.executor.arena, self.storage)
            except Exception:
                self.close()
                raise
            self.executor.attach_swap(self.swap)

    def _open_flash(self, flash, size):
        if flash == RAM_FLASH:
            return RamStorage(size)
        if flash is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="microtrain-swap-")
            flash = self._temp_dir.name + "/flash.bin"
        return FileStorage(flash, size)

    @property
    def arena(self):
        return self.executor.arena

    # ---- tensor values between iterations ----------------------------------

    def home(self, tid):
        """(ARENA | FLASH, byte offset, nbytes) of the tensor's value between iterations."""
        offset, nbytes = (int(v) for v in self.tensors[tid])
        place, home_offset = self.homes.get(tid, (ARENA, offset))
        if place == FLASH and self.storage is None:
            place, home_offset = ARENA, offset   # a program without swap keeps all in the arena
        return place, home_offset, nbytes

    def read(self, tid):
        """A copy of the tensor's bytes (uint8 array), wherever it rests."""
        place, offset, nbytes = self.home(tid)
        if place == FLASH:
            return self.storage.read(offset, nbytes)
        return self.arena[offset:offset + nbytes].copy()

    def write(self, tid, data):
        """Store bytes-like `data` as the tensor's value; its length must match."""
        place, offset, nbytes = self.home(tid)
        raw = np.frombuffer(data, dtype=np.uint8)
        if len(raw) != nbytes:
            raise ValueError("tensor %d holds %d bytes, got %d" % (tid, nbytes, len(raw)))
        if place == FLASH:
            self.storage.write(offset, raw)
        else:
            self.arena[offset:offset + nbytes] = raw

    # ---- running ------------------------------------------------------------

    def train(self, x, y, order, first_batch, n_iter):
        """n_iter iterations in C -> (per-iteration losses, per-iteration correct counts)."""
        return self.executor.train(x, y, order, first_batch, n_iter)

    def forward(self, x, y, order, batch_index):
        """One batch forward in eval mode; the output stays in the arena."""
        self.executor.load_batch(x, y, order, batch_index)
        self.executor.run(train=False)
        if self.swap is not None:
            self.swap.finish()  # replay the skipped backward's events

    def predict(self, x, y, output, batch):
        """Forward (eval mode) over every sample in order -> the output tensor's
        rows as float32 (n, k); a partial last batch is run whole and cut."""
        n = len(x)
        order = np.arange(n, dtype=np.int32)
        offset, nbytes = (int(v) for v in self.tensors[output])
        rows = []
        for index in range(-(-n // batch)):
            self.forward(x, y, order, index)
            rows.append(self.arena[offset:offset + nbytes].view(np.float32).reshape(batch, -1).copy())
        return np.concatenate(rows)[:n]

    @property
    def swap_bytes(self):
        """(read, written) bytes moved between arena and flash so far."""
        if self.swap is None:
            return 0, 0
        return self.swap.bytes_read, self.swap.bytes_written

    def close(self):
        if self.storage is not None and hasattr(self.storage, "close"):
            self.storage.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None
