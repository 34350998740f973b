"""The host training loop: epochs of batches run in C, a progress bar, and a
line of loss / accuracy per epoch."""
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from board.order import epoch_order
from host_tools.data import encode


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
    outputs = session.predict(x, y_encoded)
    if outputs.shape[1] == 1:
        predicted = (outputs[:, 0] > 0.5).astype(np.int64)
    else:
        predicted = outputs.argmax(axis=1)
    truth = y_labels if y_labels.ndim == 1 else y_labels.argmax(axis=1)
    return float((predicted == truth).mean())


def _plan_epochs(n_samples, batch, epochs, iterations):
    """Iterations per epoch (drop the partial last batch) and the epoch sizes."""
    per_epoch = n_samples // batch
    if iterations is None:
        return [per_epoch] * epochs
    sizes = [per_epoch] * (iterations // per_epoch)
    if iterations % per_epoch:
        sizes.append(iterations % per_epoch)
    return sizes


def train(session, data, epochs=1, iterations=None, shuffle=True, seed=0, log=print,
          progress=True):
    graph = session.graph
    x, y = encode(data.x, data.y, graph, data.name or "data")
    test = encode(data.x_test, data.y_test, graph, f"{data.name} (test)") \
        if data.x_test is not None else None
    run, all_losses = TrainingRun(), []
    sizes = _plan_epochs(len(x), graph.samples_per_iteration, epochs, iterations)
    for epoch, n_iter in enumerate(sizes, start=1):
        order = batch_orders(len(x), shuffle, seed, epoch - 1)
        losses, corrects = _run_epoch(session, x, y, order, n_iter,
                                      f"epoch {epoch}/{len(sizes)}", progress)
        all_losses.append(losses)
        result = EpochResult(epoch, n_iter, float(losses.mean()),
                             float(corrects.sum()) / (n_iter * graph.samples_per_iteration))
        if test is not None:
            result.test_accuracy = accuracy(session, test[0], data.y_test, test[1])
        run.epochs.append(result)
        log(_epoch_line(result, len(sizes)))
    run.losses = np.concatenate(all_losses) if all_losses else np.zeros(0, np.float32)
    return run


def _run_epoch(session, x, y, order, n_iter, label, progress):
    chunk = max(1, n_iter // 20)  # C runs whole chunks; the bar moves between them
    losses, corrects = [], []
    with tqdm(total=n_iter, desc=label, unit="it", leave=False, disable=not progress) as bar:
        done = 0
        while done < n_iter:
            step = min(chunk, n_iter - done)
            loss, correct = session.train(x, y, order, done, step)
            losses.append(loss)
            corrects.append(correct)
            done += step
            bar.update(step)
            bar.set_postfix(loss=f"{float(loss.mean()):.4f}")
    return np.concatenate(losses), np.concatenate(corrects)


def _epoch_line(result, n_epochs):
    line = (f"epoch {result.epoch}/{n_epochs}  iterations {result.iterations}  "
            f"loss {result.loss:.4f}  train acc {100 * result.train_accuracy:.2f}%")
    if result.test_accuracy is not None:
        line += f"  test acc {100 * result.test_accuracy:.2f}%"
    return line
