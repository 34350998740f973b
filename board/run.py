"""Where a training run stands: its plan (iterations per epoch, total, checkpoint
cadence), the global iteration, the chunk size and the epoch's running figures.

The plan matches the host's `microtrain train`: epochs of `per_epoch`
iterations (the partial last batch dropped), or exactly `total` iterations
as whole epochs plus a partial one. Iteration i of the run is batch
i % per_epoch of epoch i // per_epoch, in board/order.py's order, so a run
resumed from any checkpoint replays exactly the batches it would have run.
No numpy: the engine returns plain floats.
"""

from board.order import epoch_order
from protocol.clock import now

CHUNK_SECONDS = 0.02      # one chunk of iterations between two polls of the link
MAX_CHUNK = 4096


class PlanError(ValueError):
    """Training cannot start with these settings / this data."""


def plan(settings, n_samples, batch, epochs=0, iterations=0):
    """-> (per_epoch, total, target_epochs); 0 arguments mean the bundle's TRAN settings."""
    whole = n_samples // batch
    if whole == 0:
        raise PlanError("%d samples are fewer than one batch of %d" % (n_samples, batch))
    per_epoch = settings.iterations or whole
    if per_epoch > whole:
        raise PlanError("the bundle asks %d iterations per epoch, %d samples give only %d batches"
                        % (per_epoch, n_samples, whole))
    if iterations:
        return per_epoch, iterations, -(-iterations // per_epoch)
    target_epochs = epochs or settings.epochs or 1
    return per_epoch, per_epoch * target_epochs, target_epochs


class Run:
    def __init__(self, per_epoch, total, target_epochs, checkpoint_every, n_samples, seed,
                 shuffle, iteration=0):
        self.per_epoch = per_epoch
        self.total = total
        self.target_epochs = target_epochs
        self.checkpoint_every = checkpoint_every
        self.n_samples = n_samples
        self.seed = seed
        self.shuffle = shuffle
        self.iteration = iteration
        self.chunk = 1
        self._order_epoch, self._order = None, None
        self._reset_epoch_figures()

    @property
    def done(self):
        return self.iteration >= self.total

    @property
    def epoch(self):
        """0-based epoch of the next iteration (= epochs completed)."""
        return self.iteration // self.per_epoch

    @property
    def shown_epoch(self):
        """1-based epoch of the last iteration done, for PROGRESS."""
        return (self.iteration - 1) // self.per_epoch + 1 if self.iteration else 1

    def order(self):
        if self._order_epoch != self.epoch:
            self._order = epoch_order(self.n_samples, self.seed, self.epoch, self.shuffle)
            self._order_epoch = self.epoch
        return self._order

    def next_chunk(self):
        """(first batch in the epoch, iterations): never past an epoch end or a checkpoint."""
        end = min(self.total, (self.epoch + 1) * self.per_epoch)
        if self.checkpoint_every:
            end = min(end, (self.iteration // self.checkpoint_every + 1) * self.checkpoint_every)
        return self.iteration % self.per_epoch, min(self.chunk, end - self.iteration)

    def record(self, n_iter, loss_sum, correct_sum, batch, started):
        """Account for a chunk; returns True when it ended an epoch."""
        seconds = max(now() - started, 1e-6)
        self.iteration += n_iter
        self._loss += loss_sum
        self._correct += correct_sum
        self._iters += n_iter
        self._samples += n_iter * batch
        self._seconds += seconds
        self.chunk = max(1, min(MAX_CHUNK, self.chunk * 2, int(n_iter * CHUNK_SECONDS / seconds)))
        return self.iteration % self.per_epoch == 0 or self.done

    def figures(self, batch):
        """(mean loss, accuracy) over the epoch so far, samples/s since the last call."""
        loss = self._loss / self._iters if self._iters else 0.0
        accuracy = self._correct / (self._iters * batch) if self._iters else 0.0
        rate = self._samples / self._seconds if self._seconds else 0.0
        self._samples, self._seconds = 0, 0.0
        return loss, accuracy, rate

    def new_epoch(self):
        self._reset_epoch_figures()

    def _reset_epoch_figures(self):
        self._loss, self._correct, self._iters = 0.0, 0.0, 0
        self._samples, self._seconds = 0, 0.0

    @property
    def checkpoint_due(self):
        return bool(self.checkpoint_every) and self.iteration % self.checkpoint_every == 0
