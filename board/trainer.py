"""The CPython board's training engine: a bundle's program on the C executor.

Everything the board knows about a model comes from the bundle: the op and
tensor tables, the INIT records (initial values and each persistent tensor's
home: an arena offset, or a flash offset when the bundle swaps) and the swap
events. A MicroPython board would supply a module with the same names
(inspect_bundle, BundleError, Trainer) backed by its native core.
"""

import struct

import numpy as np

from core_cy import BundleError, Executor, FileStorage, SwapRuntime, read_bundle  # noqa: F401
from core_cy._core import KERNEL_ABI_VERSION

KERNEL_VERSION = "abi%d" % KERNEL_ABI_VERSION   # INFO.kernel_version
WHERE_FLASH = 1


def inspect_bundle(data):
    """Validate a bundle with the C reader -> BundleView; BundleError says why not."""
    return read_bundle(data)


class Trainer:
    """One loaded bundle: executor, arena, optional flash, current data set."""

    def __init__(self, view, flash_path):
        self.view = view
        table = np.stack([view.tensors["offset"], view.tensors["nbytes"]], axis=1)
        self.executor = Executor(view.ops, table, view.arena_bytes, view.input, view.labels,
                                 view.metrics, view.output)
        self.storage = self.swap = None
        if view.swap_events is not None and len(view.swap_events):
            self.storage = FileStorage(flash_path, max(view.flash_bytes, 4))
            self.swap = SwapRuntime(view.swap_events, self.executor.arena, self.storage)
            self.executor.attach_swap(self.swap)
        self.homes = {r.tensor: (r.where, r.offset, len(r.data)) for r in view.init}
        self.x = self.y = None
        self._order_key, self._order = None, None
        self.reset()

    # ---- state -------------------------------------------------------------

    def reset(self):
        """Every persistent tensor back to the bundle's initial value."""
        for record in self.view.init:
            self.write_tensor(record.tensor, record.data)

    @property
    def persistent_ids(self):
        return sorted(self.homes)

    def read_tensor(self, tid):
        where, offset, nbytes = self._home(tid)
        if where == WHERE_FLASH:
            return self.storage.read(offset, nbytes).tobytes()
        return self.executor.arena[offset:offset + nbytes].tobytes()

    def write_tensor(self, tid, data):
        where, offset, nbytes = self._home(tid)
        if len(data) != nbytes:
            raise ValueError("tensor %d holds %d bytes, got %d" % (tid, nbytes, len(data)))
        raw = np.frombuffer(data, dtype=np.uint8)
        if where == WHERE_FLASH:
            self.storage.write(offset, raw)
        else:
            self.executor.arena[offset:offset + nbytes] = raw

    def _home(self, tid):
        home = self.homes.get(tid)
        if home is None:  # not persistent: its place in the arena
            offset, nbytes = (int(v) for v in self.view.tensors[tid])
            return 0, offset, nbytes
        return home

    def weights_blob(self):
        """MODL params in sorted key order: u32 tensor id | u32 nbytes | bytes, each."""
        out = bytearray()
        for key in sorted(self.view.model.get("params", {})):
            tid = int(self.view.model["params"][key]["tensor"])
            data = self.read_tensor(tid)
            out += struct.pack("<II", tid, len(data)) + data
        return bytes(out)

    # ---- data and training ---------------------------------------------------

    def use_bundle_data(self):
        """The bundle's DATA section -> n_samples, or 0 if it has none."""
        data = self.view.dataset
        if data is None:
            return 0
        self.x = np.ascontiguousarray(data.x, dtype=np.float32)
        labels = np.ascontiguousarray(data.y)
        self.y = labels.view(np.uint8).reshape(len(self.x), self.view.y_bytes)
        return len(self.x)

    def use_samples(self, n, x_bytes, y_bytes):
        """Decoded samples blob (board/samples.py) -> the data trained on."""
        self.x = np.frombuffer(x_bytes, dtype="<f4").reshape(n, self.view.x_numel)
        self.y = np.frombuffer(y_bytes, dtype=np.uint8).reshape(n, self.view.y_bytes)

    def train(self, order, first_batch, n_iter):
        """n_iter iterations of `order` from batch first_batch -> (loss sum, correct sum)."""
        if self._order_key is not order:  # convert each epoch's list once
            self._order = np.array(order, dtype=np.int32)
            self._order_key = order
        losses, corrects = self.executor.train(self.x, self.y, self._order, first_batch, n_iter)
        return float(losses.sum(dtype=np.float64)), float(corrects.sum(dtype=np.float64))

    def swap_bytes(self):
        """(read, written) bytes moved between arena and flash so far."""
        if self.swap is None:
            return 0, 0
        return self.swap.bytes_read, self.swap.bytes_written

    def close(self):
        if self.storage is not None:
            self.storage.close()
