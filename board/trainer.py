"""The CPython board's training engine: a bundle's program on core_cy's Runtime.

Everything the board knows about a model comes from the bundle: the op and
tensor tables, the INIT records (initial values and each persistent tensor's
home: an arena offset, or a flash offset when the bundle swaps) and the swap
events. The Runtime is the one the host trains with (host_tools/session.py),
so board and host weights agree bit for bit. A MicroPython board would supply
a module with the same names (inspect_bundle, BundleError, Trainer) backed by
its native core.
"""


import numpy as np

from core_cy import BundleError, read_bundle  # noqa: F401
from core_cy._core import BUNDLE_CONSTANTS, KERNEL_ABI_VERSION
from core_cy.accuracy import accuracy
from core_cy.runtime import ARENA, FLASH, Runtime
from board.weights_blob import weights_blob

KERNEL_VERSION = "abi%d" % KERNEL_ABI_VERSION   # INFO.kernel_version
WHERE_FLASH = BUNDLE_CONSTANTS["WHERE_FLASH"]        # INIT record: the tensor's home is flash
TRAIN_SHUFFLE = BUNDLE_CONSTANTS["TRAIN_SHUFFLE"]    # TRAN flag: reshuffle every epoch


def inspect_bundle(data):
    """Validate a bundle with the C reader -> BundleView; BundleError says why not."""
    return read_bundle(data)


class Trainer:
    """One loaded bundle: its Runtime (executor, arena, optional flash) and data set.
    Building one runs every check loading does; ValueError / OSError /
    RuntimeError say why the bundle cannot run here."""

    def __init__(self, view, flash_path):
        self.view = view
        table = np.stack([view.tensors["offset"], view.tensors["nbytes"]], axis=1)
        homes = {r.tensor: (FLASH if r.where == WHERE_FLASH else ARENA, r.offset) for r in view.init}
        self.runtime = Runtime(view.ops, table, view.arena_bytes,
                               (view.input, view.labels, view.metrics, view.output,
                                view.micro_batches),
                               swap_events=view.swap_events, flash_bytes=view.flash_bytes,
                               homes=homes, flash=flash_path)
        self.persistent_ids = sorted(homes)
        self.x = self.y = None
        self._order_key, self._order = None, None
        try:
            self.reset()
        except Exception:
            self.close()
            raise

    @property
    def swaps(self):
        """True if the bundle keeps tensors in flash (flash_path is then in use)."""
        return self.runtime.storage is not None

    # ---- state -------------------------------------------------------------

    def reset(self):
        """Every persistent tensor back to the bundle's initial value."""
        for record in self.view.init:
            self.write_tensor(record.tensor, record.data)

    def read_tensor(self, tid):
        return self.runtime.read(tid).tobytes()

    def write_tensor(self, tid, data):
        self.runtime.write(tid, data)

    def weights_blob(self):
        return weights_blob(self.view.model, self.read_tensor)

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
        losses, corrects = self.runtime.train(self.x, self.y, self._order, first_batch, n_iter)
        return float(losses.sum(dtype=np.float64)), float(corrects.sum(dtype=np.float64))

    def test_accuracy(self):
        """Held-out accuracy of the current weights on the bundle's test section
        (forward only, eval mode), or None when the bundle has none."""
        test = self.view.test_dataset
        if test is None:
            return None
        x = np.ascontiguousarray(test.x, dtype=np.float32)
        y = np.ascontiguousarray(test.y).view(np.uint8).reshape(len(x), self.view.y_bytes)
        outputs = self.runtime.predict(x, y, self.view.output, self.view.batch)
        return accuracy(outputs, test.y)

    def swap_bytes(self):
        """(read, written) bytes moved between arena and flash so far."""
        return self.runtime.swap_bytes

    def close(self):
        self.runtime.close()
