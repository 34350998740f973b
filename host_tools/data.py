"""Data sets: scikit-learn's digits (offline), or an npz with x and y."""
from dataclasses import dataclass

import numpy as np

from core_cy import CONSTANTS
from host_tools.errors import UserError
from host_tools.graph.nodes import numel

LABEL_INDEX = CONSTANTS["LABEL_INDEX"]


@dataclass
class DataSet:
    x: np.ndarray           # (n, ...) float32
    y: np.ndarray           # (n,) int64 labels or (n, F) float32 targets
    x_test: np.ndarray = None
    y_test: np.ndarray = None
    name: str = ""

    @property
    def has_labels(self):
        return np.issubdtype(self.y.dtype, np.integer)


def digits(test_fraction=0.2, seed=0):
    """8x8 digits scaled to [0, 1], NCHW, with a stratified held-out split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    x_train, x_test, y_train, y_test = train_test_split(
        x, bunch.target.astype(np.int64), test_size=test_fraction, random_state=seed,
        stratify=bunch.target)
    return DataSet(x_train, y_train, x_test, y_test, "digits")


def load_npz(path):
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read data: {error}", str(path)) from None
    with archive:
        missing = [key for key in ("x", "y") if key not in archive.files]
        if missing:
            raise UserError(f"missing key(s) {', '.join(missing)} (needs x and y)", str(path))
        x, y = archive["x"], archive["y"]
        x_test = archive["x_test"] if "x_test" in archive.files else None
        y_test = archive["y_test"] if "y_test" in archive.files else None
    if len(x) != len(y):
        raise UserError(f"x has {len(x)} samples but y has {len(y)}", str(path))
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise UserError(f"y has dtype {y.dtype}; use int64 labels or float32 targets", str(path))
    return DataSet(x.astype(np.float32), y, x_test, y_test, str(path))


def load_data(name):
    return digits() if name == "digits" else load_npz(name)


def encode(x, y, graph, where="data"):
    """Checks shapes against the model; returns (x rows, y bytes) for the C loader."""
    sample = graph.tensors[graph.input].shape[1:]
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim < 2 or numel(x.shape[1:]) != numel(sample):
        raise UserError(f"x samples have shape {tuple(x.shape[1:])}, the model input is "
                        f"{tuple(sample)}", where)
    if len(x) < graph.samples_per_iteration:
        raise UserError(f"{len(x)} samples are fewer than one batch of "
                        f"{graph.samples_per_iteration}", where)
    rows = x.reshape(len(x), -1)
    if graph.tensors[graph.input].dtype == "i32":   # fixed: the host quantizes, no float op
        rows = graph.quant.quantize_input(rows, graph.nodes[0].name).astype(np.int32) \
            .view(np.float32)
    if graph.label_kind == LABEL_INDEX:
        return rows, _index_labels(y, graph, where)
    return rows, _dense_targets(y, graph, where)


def _index_labels(y, graph, where):
    features = graph.tensors[graph.output].numel // graph.batch
    classes = 2 if features == 1 else features
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise UserError(f"y must be int class labels (n,) for loss {graph.loss}", where)
    if y.min() < 0 or y.max() >= classes:
        raise UserError(f"labels must be in [0, {classes}), found {y.min()}..{y.max()}", where)
    return np.ascontiguousarray(y.astype(np.int32)).view(np.uint8).reshape(len(y), 4)


def _dense_targets(y, graph, where):
    features = graph.tensors[graph.output].numel // graph.batch
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1:  # class labels -> one-hot
        if y.min() < 0 or y.max() >= max(features, 2):
            raise UserError(f"labels must be in [0, {features}), found {y.min()}..{y.max()}",
                            where)
        y = np.eye(features, dtype=np.float32)[y] if features > 1 else y[:, None]
    y = np.ascontiguousarray(y, dtype=np.float32).reshape(len(y), -1)
    if y.shape[1] != features:
        raise UserError(f"y has {y.shape[1]} targets per sample, the model outputs {features}",
                        where)
    return y.view(np.uint8)
