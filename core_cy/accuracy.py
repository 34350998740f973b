"""Held-out accuracy from a model's output rows: one rule for the host
(`microtrain train`) and the board (PROGRESS.test_accuracy), so both report
the same number for the same weights."""
import numpy as np


def predicted_classes(outputs):
    """(n, k) output rows -> class per row: a single output is a probability
    thresholded at 0.5, several are scores (argmax)."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0.5).astype(np.int64)
    return outputs.argmax(axis=1)


def accuracy(outputs, labels):
    """labels: class indices (n,), or dense targets (n, k) whose argmax is the class."""
    truth = labels if labels.ndim == 1 else labels.argmax(axis=1)
    return float((predicted_classes(outputs) == truth).mean())
