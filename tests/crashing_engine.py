"""A board engine (`python -m board --engine crashing_engine`) whose training
kills the agent process, as a kernel crash (SIGSEGV) would, for the no-boot-loop
test. It is board/trainer.py, except that bundles trained for CRASH_EPOCHS
epochs die on their CRASH_AT-th iteration; every other bundle trains normally."""
import os
import signal

from board.trainer import KERNEL_VERSION, TRAIN_SHUFFLE, BundleError, inspect_bundle  # noqa: F401
from board import trainer as real

CRASH_EPOCHS = 13
CRASH_AT = 3


class Trainer(real.Trainer):
    def train(self, order, first_batch, n_iter):
        if self.view.train.epochs == CRASH_EPOCHS and first_batch + n_iter >= CRASH_AT:
            os.kill(os.getpid(), signal.SIGKILL)
        return real.Trainer.train(self, order, first_batch, n_iter)
