"""The MicroPython board's training engine: a bundle's program on the native core.

The same contract as board/trainer.py (the CPython engine), so board/agent.py,
run.py, checkpoint.py, storage.py and uploads.py run unchanged on MicroPython:
KERNEL_VERSION, TRAIN_SHUFFLE, inspect_bundle, BundleError and Trainer. The work
is done by the `_microtrain` C module (firmware/micropython/modules/microtrain),
the very C core the host trains with, so losses and weights agree bit for bit.

Numpy-free and copy-free: the bundle is validated where it lies (a 4-byte
aligned buffer, e.g. what a file's read() returns), its data sets, INIT values
and JSON texts are memoryview slices of it; the arena is one bytearray (the
MicroPython heap is the board's RAM); swapped tensors live in the flash file.
Imports only what the MicroPython ports here have (errno, json, array).
"""

import errno
import json
from array import array

from board.weights_blob import weights_blob

try:
    import _microtrain
except ImportError:     # CPython, or a MicroPython built without the module
    raise ImportError("board.mp_engine needs MicroPython built with the _microtrain C module "
                      "(USER_C_MODULES=firmware/micropython/modules); CPython boards use board.trainer")

KERNEL_VERSION = "abi%d" % _microtrain.KERNEL_ABI_VERSION   # INFO.kernel_version
WHERE_FLASH = _microtrain.WHERE_FLASH                        # INIT record: the tensor's home is flash
TRAIN_SHUFFLE = _microtrain.TRAIN_SHUFFLE                    # TRAN flag: reshuffle every epoch
BundleError = _microtrain.BundleError                        # a ValueError: the C reader's message

_HEADER_FIELDS = ("major", "minor", "n_ops", "n_tensors", "arena_bytes", "input", "labels",
                  "metrics", "output", "batch", "x_numel", "label_kind", "y_bytes", "flash_bytes",
                  "kernel_abi", "n_swap_events", "n_init", "micro_batches", "iteration_samples")


class TrainSettings:
    """The TRAN section (what board/run.py plans with)."""

    def __init__(self, epochs, iterations, checkpoint_interval, shuffle_seed, flags):
        self.epochs = epochs
        self.iterations = iterations
        self.checkpoint_interval = checkpoint_interval
        self.shuffle_seed = shuffle_seed
        self.flags = flags


class InitRecord:
    """One initial value: `data` (a slice of the bundle) belongs at `offset` of arena or flash."""

    def __init__(self, tensor, where, offset, data):
        self.tensor = tensor
        self.where = where
        self.offset = offset
        self.data = data


class Dataset:
    """n samples in the bundle: x float32 (n * x_numel, little-endian), y n * y_bytes label bytes."""

    def __init__(self, n, x, y):
        self.n = n
        self.x = x
        self.y = y


class BundleView:
    """What the agent reads of a validated bundle: the fields of core_cy's BundleView,
    except that `ops`, `tensors` and `swap_events` are the raw C records (memoryviews)
    and the data sets are Dataset slices rather than numpy arrays. `bundle` is the C
    reader's object; `data` the buffer everything points into."""

    def __init__(self, bundle, data):
        self.bundle = bundle
        self.data = data
        for name, value in zip(_HEADER_FIELDS, bundle.header()):
            setattr(self, name, value)
        whole = memoryview(data)
        self.train = TrainSettings(*bundle.train_settings())
        self.init = [InitRecord(tensor, where, offset, whole[start:start + nbytes])
                     for tensor, where, offset, nbytes, start in bundle.init_records()]
        self.ops = _records(whole, bundle.ops())
        self.tensors = _records(whole, bundle.tensors())
        self.swap_events = _records(whole, bundle.swap_events())
        self.dataset = self._dataset(whole, False)
        self.test_dataset = self._dataset(whole, True)
        self.model = _json_section(whole, bundle.model_json(), "MODL")
        if not isinstance(self.model, dict):
            raise BundleError("section MODL: must be a JSON object")
        self.names = self._names(whole)

    def tensor(self, tid):
        """(arena offset, nbytes) of tensor tid."""
        return self.bundle.tensor(tid)

    def _dataset(self, whole, test):
        found = self.bundle.dataset(test)
        if found is None:
            return None
        n, x_start, y_start = found
        return Dataset(n, whole[x_start:x_start + n * self.x_numel * 4],
                       whole[y_start:y_start + n * self.y_bytes])

    def _names(self, whole):
        span = self.bundle.names_json()
        if span is None:
            return None
        names = _json_section(whole, span, "NAME")
        if (not isinstance(names, list) or len(names) != self.n_tensors
                or not all(isinstance(name, str) for name in names)):
            raise BundleError("section NAME: must be a list of %d strings" % self.n_tensors)
        return names


def _records(whole, span):
    if span is None:
        return None
    start, count, size = span
    return whole[start:start + count * size]


def _json_section(whole, span, tag):
    start, length = span
    try:
        return json.loads(str(bytes(whole[start:start + length]), "utf-8"))
    except ValueError as error:  # UnicodeError is one on MicroPython
        raise BundleError("section %s: not valid UTF-8 JSON (%s)" % (tag, type(error).__name__))


def inspect_bundle(data):
    """Validate a bundle with the C reader -> BundleView; BundleError says why not.
    The view keeps `data` (copied only when it is not 4-byte aligned)."""
    if not _microtrain.aligned(data):
        data = bytearray(data)
    return BundleView(_microtrain.Bundle(data), data)


class Trainer:
    """One loaded bundle: its arena (a bytearray), its flash file when it swaps, the
    data set trained on. ValueError / OSError / RuntimeError say why it cannot run."""

    def __init__(self, view, flash_path):
        self.view = view
        self.persistent_ids = sorted(set(record.tensor for record in view.init))
        self.x = self.y = None
        self._order_key = self._order = None
        self._flash = self.executor = None
        try:
            self.arena = _allocate(view.arena_bytes)
            if view.n_swap_events:
                self._flash = _open_flash(flash_path, max(view.flash_bytes, 4))
            self.executor = _microtrain.Executor(view.bundle, self.arena, self._flash)
            self.reset()
        except Exception:
            self.close()
            raise

    @property
    def swaps(self):
        """True if the bundle keeps tensors in flash (flash_path is then in use)."""
        return self._flash is not None

    # ---- state -------------------------------------------------------------

    def reset(self):
        """Every persistent tensor back to the bundle's initial value."""
        self.executor.reset()

    def read_tensor(self, tid):
        return self.executor.read_tensor(tid)

    def write_tensor(self, tid, data):
        self.executor.write_tensor(tid, data)

    def weights_blob(self):
        return weights_blob(self.view.model, self.read_tensor)

    # ---- data and training ---------------------------------------------------

    def use_bundle_data(self):
        """The bundle's DATA section -> n_samples, or 0 if it has none."""
        data = self.view.dataset
        if data is None:
            return 0
        self.x, self.y = data.x, data.y
        return data.n

    def use_samples(self, n, x_bytes, y_bytes):
        """Decoded samples blob (board/samples.py) -> the data trained on."""
        if len(x_bytes) != n * self.view.x_numel * 4 or len(y_bytes) != n * self.view.y_bytes:
            raise ValueError("samples do not hold %d samples of x_numel %d, y_bytes %d"
                             % (n, self.view.x_numel, self.view.y_bytes))
        self.x = x_bytes if _microtrain.aligned(x_bytes) else bytearray(x_bytes)
        self.y = y_bytes

    def train(self, order, first_batch, n_iter):
        """n_iter iterations of `order` from batch first_batch -> (loss sum, correct sum),
        summed in C exactly as the CPython engine sums them."""
        if self.x is None:
            raise ValueError("no training data: use_bundle_data or use_samples first")
        if self._order_key is not order:  # convert each epoch's list once
            self._order = array("i", order)
            self._order_key = order
        return self.executor.train(self.x, self.y, self._order, first_batch, n_iter)

    def test_accuracy(self):
        """Held-out accuracy of the current weights on the bundle's test section
        (forward only, eval mode), or None when the bundle has none."""
        test = self.view.test_dataset
        if test is None:
            return None
        return self.executor.correct(test.x, test.y) / test.n

    def swap_bytes(self):
        """(read, written) bytes moved between arena and flash so far."""
        return self.executor.swap_bytes()

    def close(self):
        if self._flash is not None:
            self._flash.close()
            self._flash = None
        self.executor = None


def _allocate(nbytes):
    """The arena from the heap; too little RAM is a RuntimeError naming the need."""
    try:
        return bytearray(max(nbytes, 4))
    except MemoryError:
        raise RuntimeError("not enough RAM for the arena: the bundle needs %d bytes" % nbytes)


def _open_flash(path, size):
    """The swap store: `path` opened read-write (created if missing), at least `size` bytes."""
    try:
        flash = open(path, "r+b")
    except OSError as error:
        if error.args[0] != errno.ENOENT:  # never truncate a store that exists
            raise
        flash = open(path, "w+b")
    try:
        if flash.seek(0, 2) < size:
            flash.seek(size - 1)
            flash.write(b"\0")
    except Exception:
        flash.close()
        raise
    return flash
