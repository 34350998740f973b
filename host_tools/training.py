"""The host training loop: epochs of batches run in C, one progress bar for
the whole run (with an ETA), a line of loss / accuracy per epoch and, on
request, the same PROGRESS rows a board reports (for the CSV and curves)."""
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from board.order import epoch_order
from core_cy.accuracy import accuracy as held_out_accuracy
from host_tools.data import encode
from host_tools.device.progress import Progress

CHUNKS_PER_EPOCH = 20   # C runs whole chunks; the bar and the reports move between them


@dataclass
class EpochResult:
    epoch: int
    iterations: int
    loss: float
    train_accuracy: float
    test_accuracy: float = None


@dataclass
class TrainingRun:
    epochs: list = field(default_factory=list)
    losses: np.ndarray = None


def batch_orders(n_samples, shuffle, seed, epoch):
    """The board's order (board/order.py), so host and board train alike."""
    return np.array(epoch_order(n_samples, seed, epoch, shuffle), dtype=np.int32)


def accuracy(session, x, y_labels, y_encoded):
    return held_out_accuracy(session.predict(x, y_encoded), y_labels)


def _plan_epochs(n_samples, batch, epochs, iterations):
    """Iterations per epoch (drop the partial last batch) and the epoch sizes."""
    per_epoch = n_samples // batch
    if iterations is None:
        return [per_epoch] * epochs
    sizes = [per_epoch] * (iterations // per_epoch)
    if iterations % per_epoch:
        sizes.append(iterations % per_epoch)
    return sizes


def progress_bar(total, progress=True):
    """One bar for the whole run; silent unless stderr is a terminal."""
    return tqdm(total=total, desc="train", unit="it", leave=False,
                disable=not progress or not sys.stderr.isatty())


def train(session, data, epochs=1, iterations=None, shuffle=True, seed=0, log=print,
          progress=True, on_report=None):
    """on_report(Progress) gets a board-style report after every chunk."""
    graph = session.graph
    x, y = encode(data.x, data.y, graph, data.name or "data")
    test = encode(data.x_test, data.y_test, graph, f"{data.name} (test)") \
        if data.x_test is not None else None
    run, all_losses = TrainingRun(), []
    sizes = _plan_epochs(len(x), graph.samples_per_iteration, epochs, iterations)
    reports = _Reports(session, sum(sizes), on_report)
    with progress_bar(sum(sizes), progress) as bar:
        for epoch, n_iter in enumerate(sizes, start=1):
            order = batch_orders(len(x), shuffle, seed, epoch - 1)
            losses, corrects = _run_epoch(session, x, y, order, n_iter, bar,
                                          reports.for_epoch(epoch), sum(sizes[:epoch - 1]))
            all_losses.append(losses)
            result = EpochResult(epoch, n_iter, float(losses.mean()),
                                 float(corrects.sum()) / (n_iter * graph.samples_per_iteration))
            if test is not None:
                result.test_accuracy = accuracy(session, test[0], data.y_test, test[1])
            run.epochs.append(result)
            reports.end_epoch(result.test_accuracy, last=epoch == len(sizes))
            with tqdm.external_write_mode():
                log(_epoch_line(result, len(sizes)))
    run.losses = np.concatenate(all_losses) if all_losses else np.zeros(0, np.float32)
    return run


def _run_epoch(session, x, y, order, n_iter, bar, report, first_iteration=0):
    """first_iteration: iterations trained before this epoch (the LR schedule's clock)."""
    schedule = session.graph.spec.lr_schedule
    # a schedule sets each iteration's rate, so C then runs one iteration at a time
    chunk = 1 if schedule is not None else max(1, n_iter // CHUNKS_PER_EPOCH)
    losses, corrects = [], []
    done = 0
    while done < n_iter:
        step = min(chunk, n_iter - done)
        if schedule is not None:
            session.set_learning_rate(schedule.rate(first_iteration + done))
        started = time.monotonic()
        loss, correct = session.train(x, y, order, done, step)
        losses.append(loss)
        corrects.append(correct)
        done += step
        bar.update(step)
        bar.set_postfix(loss=f"{float(loss.mean()):.4f}", refresh=False)
        report(losses, corrects, step, time.monotonic() - started)
    return np.concatenate(losses), np.concatenate(corrects)


class _Reports:
    """Turns chunks into Progress rows like a board's: loss and accuracy over
    the epoch so far, samples/s over the chunk; the epoch's last row carries
    the held-out accuracy and the run's last row the state FINISHED."""

    def __init__(self, session, total, on_report):
        self.session, self.total, self.on_report = session, total, on_report
        self.started = time.monotonic()
        self.iteration, self.epoch, self.pending = 0, 0, None

    def for_epoch(self, epoch):
        self.epoch = epoch
        return self._chunk

    def _chunk(self, losses, corrects, step, seconds):
        self.iteration += step
        if self.on_report is None:
            return
        self._flush()
        batch = self.session.graph.samples_per_iteration
        seen = sum(len(chunk) for chunk in losses)
        read, written = self.session.swap_bytes
        self.pending = Progress(
            time.monotonic() - self.started, "RUNNING", self.epoch, self.iteration, self.total,
            float(np.concatenate(losses).mean()), float(np.concatenate(corrects).sum()) /
            (seen * batch), step * batch / max(seconds, 1e-9), self.session.program.arena_bytes,
            read, written)

    def end_epoch(self, test_accuracy, last):
        if self.pending is not None:
            if test_accuracy is not None:
                self.pending.test_accuracy = test_accuracy
            if last:
                self.pending.state = "FINISHED"
        self._flush()

    def _flush(self):
        if self.pending is not None:
            self.on_report(self.pending)
            self.pending = None


def _epoch_line(result, n_epochs):
    line = (f"epoch {result.epoch}/{n_epochs}  iterations {result.iterations}  "
            f"loss {result.loss:.4f}  train acc {100 * result.train_accuracy:.2f}%")
    if result.test_accuracy is not None:
        line += f"  test acc {100 * result.test_accuracy:.2f}%"
    return line
